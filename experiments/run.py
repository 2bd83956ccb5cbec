"""Entry point: `python -m experiments.run --config=configs/<name>.py [--workdir=DIR]`.

Any config field can be overridden on the command line, e.g.
`--config.model.reg_grid='(1.0, 5.0)'`; a misspelt field is an error.

Re-running a config on its own workdir resumes from its checkpoints. A workdir that
holds the run of a different config is refused; `--overwrite` removes that run's
artefacts and starts from scratch.
"""

import logging as std_logging

from absl import app, flags, logging
from ml_collections import config_flags

_CONFIG = config_flags.DEFINE_config_file(
    "config",
    None,
    "Path to a configs/*.py file (optionally `file.py:arg`).",
    lock_config=True,
)
_WORKDIR = flags.DEFINE_string(
    "workdir", None, "Output directory; defaults to runs/<config name>."
)
_OVERWRITE = flags.DEFINE_bool(
    "overwrite",
    False,
    "Remove the artefacts of a previous run in --workdir (checkpoints, metrics, "
    "results, config.json, ...) and start from scratch, also when that run had a "
    "different config.",
)
flags.mark_flags_as_required(["config"])


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected command-line arguments: {argv[1:]}")
    # JAX logs every backend it probes and cannot open (libtpu on a machine
    # without TPUs) at INFO; the devices line below says which backend runs.
    std_logging.getLogger("jax._src.xla_bridge").setLevel(std_logging.WARNING)
    import jax

    from experiments import pipeline

    logging.info("JAX %s on %s", jax.__version__, jax.devices())
    config = _CONFIG.value
    workdir = _WORKDIR.value or pipeline.default_workdir(
        config_flags.get_config_filename(flags.FLAGS["config"])
    )
    pipeline.run(config, workdir, overwrite=_OVERWRITE.value)


if __name__ == "__main__":
    app.run(main)
