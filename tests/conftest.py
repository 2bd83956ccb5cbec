"""Shared test set-up: strict rank promotion and the location of the real datasets."""

import os
import pathlib

import jax
import pytest

jax.config.update("jax_numpy_rank_promotion", "raise")

PROJECT_ROOT = pathlib.Path(__file__).resolve().parents[1]


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
