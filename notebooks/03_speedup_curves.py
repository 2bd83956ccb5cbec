# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Speed-up curves: training time against quality across budgets
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/infinite-ae/infinite_ae/blob/main/notebooks/03_speedup_curves.ipynb)
#
# How much faster does a model train on a Distill-CF summary, and how much quality
# does it keep? For each budget (a fraction of the users), Distill-CF distils that
# many synthetic users; each model is then trained on the full data, on the summary
# and on as many random real users, with λ chosen on the real validation items and
# tested once on the real test items. The Distill-CF paper claims 96-105 % of
# full-data quality at 0.1 % of the users and training up to ~1000× faster.
#
# This notebook drives `benchmarks/speedup_curves.py` (the script behind the
# project's measured curves) from Python, so it needs a clone of the repository
# (Colab: the setup cell clones it).

# %%
# Setup. On Colab: clone the repository and install it, with the JAX build of the
# runtime's accelerator (TPU or GPU). Elsewhere, install the project first (the
# README's install command).
import glob
import os
import shutil
import subprocess
import sys

REPOSITORY = "https://github.com/infinite-ae/infinite_ae"
if "google.colab" in sys.modules:
    CHECKOUT = "/content/infinite_ae"
    if not os.path.isdir(CHECKOUT):
        subprocess.run(["git", "clone", "--depth=1", REPOSITORY, CHECKOUT], check=True)
    packages = [CHECKOUT]
    if "COLAB_TPU_ADDR" in os.environ or glob.glob("/dev/accel*"):
        packages.append("jax[tpu]")
    elif shutil.which("nvidia-smi"):
        packages.append("jax[cuda12]")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", *packages], check=True
    )
    # The checkout first on the path: its configs/ and benchmarks/ import from there.
    sys.path.insert(0, CHECKOUT)
    from importlib import metadata

    upgraded = [
        name
        for name in ("numpy", "scipy", "matplotlib", "jax")
        if name in sys.modules
        and metadata.version(name) != sys.modules[name].__version__
    ]
    if upgraded:
        raise RuntimeError(
            f"the install upgraded {upgraded}, already imported: restart the "
            "session (Runtime > Restart session), then run all cells again"
        )

import jax

print(jax.devices())

# %% [markdown]
# ## The script and the sizes
#
# `speedup_curves.py` caches every cell (dataset, model, training set, budget) as a
# JSON file under its work root, and each budget's summary in its own workdir, so a
# rerun computes only what is missing (delete `WORKROOT` to start over).
#
# `full` runs the script's ML-1M Distill-CF config at four budgets, 0.1 % to 10 % of
# the users, for ∞-AE and EASE (ML-1M as in `02_distill_ml1m`: local files or the
# GroupLens download; about two minutes per budget on a 2-core CPU, plus the
# full-data fits; add `"multvae"` to `MODELS` for Mult-VAE, slower). `ci` registers a
# tiny synthetic dataset in the script's `CONFIGS` and runs one budget in seconds.

# %%
import json
import pathlib

from IPython.display import Image, display

import infinite_ae
from configs import distill_quick

ROOT = pathlib.Path(infinite_ae.__file__).resolve().parents[1]
if not (ROOT / "benchmarks" / "speedup_curves.py").exists():
    raise FileNotFoundError(
        f"no benchmarks/speedup_curves.py under {ROOT}: this notebook needs a clone "
        "of the repository installed with `pip install -e .`"
    )
sys.path.insert(0, str(ROOT))
from benchmarks import speedup_curves

SCALE = os.environ.get("INFINITE_AE_NOTEBOOK_SCALE", "full")
if SCALE not in ("full", "ci"):
    raise ValueError(f"INFINITE_AE_NOTEBOOK_SCALE={SCALE!r}; valid: full, ci")


def tiny_config():
    """`configs/distill_quick.py` shrunk to seconds: the ci scale's dataset."""
    config = distill_quick.get_config()
    config.lock()
    config.data.synthetic.update(num_users=300, num_items=200, mean_degree=15.0)
    config.distill.update(
        num_samples=15,
        num_steps=4,
        eval_every=2,
        log_every=2,
        checkpoint_every=4,
        batch_size=128,
        baselines=(),
        reg_grid=(1e-3, 1.0),
        eval_reg_grid=(1e-3, 1.0),
    )
    config.model.update(reg_grid=(1.0, 20.0), ease_reg_grid=(50.0, 250.0))
    return config


if SCALE == "full":
    DATASET, BUDGETS = "ml1m", (0.001, 0.01, 0.05, 0.1)
else:
    speedup_curves.CONFIGS["synthetic"] = tiny_config
    DATASET, BUDGETS = "synthetic", (0.05,)
MODELS = ("infinite_ae", "ease")
WORKROOT = pathlib.Path("runs") / f"03_speedup_curves_{SCALE}"
STEM = WORKROOT / "speedup_curves"
print(f"{DATASET}: budgets {BUDGETS}, models {MODELS}, cells under {WORKROOT}")

# %% [markdown]
# ## Running it
#
# The script's flags, then its `main`: per budget it distils the summary
# (`_summary`, one `experiments.run` workdir each), trains each model on the full
# data, the summary and random users (`_dataset_rows`, through
# `experiments/jobs/compare.py`), then writes `STEM.json` (every row, the headline
# and the environment) and `STEM.png`, and prints its table (the `speed-up` column
# is the full-data fit time over this one; `rel.` the nDCG@10 relative to full
# data).

# %%
speedup_curves.flags.FLAGS.unparse_flags()
speedup_curves.flags.FLAGS(
    [
        "speedup_curves",
        f"--datasets={DATASET}",
        f"--budgets={','.join(str(b) for b in BUDGETS)}",
        f"--models={','.join(MODELS)}",
        f"--workroot={WORKROOT}",
        f"--out={STEM}",
    ]
)
speedup_curves.main([])

# %% [markdown]
# Top row: test nDCG@10 against the budget (the dashed line is the full data);
# bottom row: nDCG@10 against the training time (the star is the full data).

# %%
display(Image(filename=str(STEM.with_suffix(".png"))))

# %% [markdown]
# The headline, per model: the summary's quality relative to the full data at the
# smallest budget, and the largest speed-up over the budgets.

# %%
record = json.loads(STEM.with_suffix(".json").read_text())
for line in record["headline"]:
    print(
        f"{line['model']:<12} at {line['smallest_budget']:.1%} of the users: "
        f"{line['relative_ndcg@10_at_smallest']:6.1%} of full-data nDCG@10 "
        f"(best over the budgets {line['best_relative_ndcg@10']:6.1%}); "
        f"up to {line['max_speedup']:.0f}x faster to train"
    )
print(f"device: {record['device']['kind']} ({record['device']['platform']})")
