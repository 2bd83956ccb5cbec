"""Shared test set-up: fast compiles, strict rank promotion, 4 CPU devices, real data.

Every test process sees `NUM_CPU_DEVICES` virtual CPU devices (set before the backend
starts), so sharded code runs on real multi-device meshes in-process; single-device
code is unaffected (it uses the first device).
"""

import os
import pathlib

PROJECT_ROOT = pathlib.Path(__file__).resolve().parents[1]

# XLA's backend optimisation costs more compile time than the tests' small programs
# save at run time (the fast set runs about a third quicker without it). Set before
# the backend starts; subprocesses (the CLI tests, notebook kernels) inherit it.
_FAST_COMPILE = "--xla_backend_optimization_level=0"
_flags = os.environ.get("XLA_FLAGS", "")
if _FAST_COMPILE not in _flags:
    os.environ["XLA_FLAGS"] = f"{_flags} {_FAST_COMPILE}".strip()
# Compiled programs persist between runs under .cache/xla (a warm fast set takes
# about a third of a cold one); a clean clone starts empty. Setting
# JAX_COMPILATION_CACHE_DIR elsewhere moves it.
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(PROJECT_ROOT / ".cache" / "xla"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")

import jax  # noqa: E402
import pytest  # noqa: E402

NUM_CPU_DEVICES = 4

jax.config.update("jax_numpy_rank_promotion", "raise")
jax.config.update("jax_num_cpu_devices", NUM_CPU_DEVICES)

# Scripts for separate environments, never imported while collecting doctests: a
# jax 0.5.3 one (it needs neural-tangents and turns on 64-bit mode at import) and a
# torch one (sentence-transformers).
collect_ignore = ["make_nt_reference.py", "make_minilm_reference.py"]


def data_root() -> pathlib.Path:
    """Directory of the real datasets: $INFINITE_AE_DATA, else ../shared/data."""
    default = PROJECT_ROOT.parent / "shared" / "data"
    return pathlib.Path(os.environ.get("INFINITE_AE_DATA", default))


@pytest.fixture
def real_data():
    """Returns a function mapping a path under the data root to a Path, or skipping.

    Usage: `path = real_data("infinite_ae_cf/ml-1m/index.npz")`.
    """

    def _get(relative: str) -> pathlib.Path:
        path = data_root() / relative
        if not path.exists():
            pytest.skip(
                f"real data {relative!r} not found under {data_root()}; "
                "set INFINITE_AE_DATA to the directory of the shared datasets"
            )
        return path

    return _get
