"""Downstream recommenders trained on (possibly condensed) interactions.

`get_trainer(name)` returns the model class; `loop.fit` trains any of them with
early stopping on validation nDCG@10.
"""

from infinite_ae.trainers.bpr_mf import BPRMF
from infinite_ae.trainers.lightgcn import LightGCN
from infinite_ae.trainers.loop import FitResult, fit, ranking_metrics, train_epoch

TRAINERS = {"bprmf": BPRMF, "lightgcn": LightGCN}


def get_trainer(name: str):
    """Model class by name ("bprmf", "lightgcn"; case-insensitive, "-" and "_" ignored).

    Raises:
      ValueError: for an unknown name, listing the valid ones.

    >>> get_trainer("BPR-MF").__name__
    'BPRMF'
    """
    key = name.lower().replace("-", "").replace("_", "")
    if key not in TRAINERS:
        raise ValueError(f"unknown trainer {name!r}; valid: {sorted(TRAINERS)}")
    return TRAINERS[key]


__all__ = [
    "BPRMF",
    "LightGCN",
    "FitResult",
    "TRAINERS",
    "fit",
    "get_trainer",
    "ranking_metrics",
    "train_epoch",
]
