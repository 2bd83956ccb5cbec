"""Recommenders behind one protocol: `fit(train) -> self`, `score(rows, users)`.

Adding a model means adding one file here and one entry in `MODELS`.
"""

from infinite_ae.models.base import Recommender
from infinite_ae.models.ease import EASE, ease_memory_bytes, ease_weights
from infinite_ae.models.infinite_ae import InfiniteAE
from infinite_ae.models.popularity import Popularity

MODELS = {
    "infinite_ae": InfiniteAE,
    "ease": EASE,
    "popularity": Popularity,
}


def get_model(name: str) -> type:
    """The model class registered under ``name``.

    Raises:
      ValueError: unknown name (the message lists the valid names).

    >>> get_model("ease").__name__
    'EASE'
    """
    try:
        return MODELS[name]
    except KeyError:
        raise ValueError(
            f"unknown model {name!r}; valid names: {sorted(MODELS)}"
        ) from None


__all__ = [
    "EASE",
    "InfiniteAE",
    "MODELS",
    "Popularity",
    "Recommender",
    "ease_memory_bytes",
    "ease_weights",
    "get_model",
]
