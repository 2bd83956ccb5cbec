"""Downstream recommenders trained on (possibly condensed) interactions.

`get_trainer(name)` returns the model class; `loop.fit` trains any of them with
early stopping on validation nDCG@10.

Sequential recommenders (flax.linen): `get_sequential_trainer(name)` returns the
model class ("sasrec", "gru4rec"); `sequential.fit_sequential` trains any of them on
`infinite_ae.data.Sequences` with early stopping on validation nDCG@10; it trains
the text-based `TextSASRec` (frozen item-text embeddings through an adaptor) too.
"""

from infinite_ae.trainers.bpr_mf import BPRMF
from infinite_ae.trainers.gru4rec import GRU4Rec
from infinite_ae.trainers.lightgcn import LightGCN
from infinite_ae.trainers.loop import FitResult, fit, ranking_metrics, train_epoch
from infinite_ae.trainers.sasrec import SASRec
from infinite_ae.trainers.sequential import (
    SequentialFitResult,
    evaluate_sequential,
    fit_sequential,
)
from infinite_ae.trainers.text_sasrec import ItemText, TextSASRec

TRAINERS = {"bprmf": BPRMF, "lightgcn": LightGCN}
SEQUENTIAL_TRAINERS = {"sasrec": SASRec, "gru4rec": GRU4Rec}


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


def get_sequential_trainer(name: str):
    """Sequential model class by name ("sasrec", "gru4rec"; case-insensitive, "-"
    and "_" ignored).

    Raises:
      ValueError: for an unknown name, listing the valid ones.

    >>> get_sequential_trainer("GRU4Rec").__name__
    'GRU4Rec'
    """
    key = name.lower().replace("-", "").replace("_", "")
    if key not in SEQUENTIAL_TRAINERS:
        raise ValueError(
            f"unknown sequential trainer {name!r}; valid: {sorted(SEQUENTIAL_TRAINERS)}"
        )
    return SEQUENTIAL_TRAINERS[key]


__all__ = [
    "BPRMF",
    "GRU4Rec",
    "LightGCN",
    "FitResult",
    "ItemText",
    "SASRec",
    "SEQUENTIAL_TRAINERS",
    "SequentialFitResult",
    "TRAINERS",
    "TextSASRec",
    "evaluate_sequential",
    "fit",
    "fit_sequential",
    "get_sequential_trainer",
    "get_trainer",
    "ranking_metrics",
    "train_epoch",
]
