"""Adapters: distilled or condensed data -> the inputs of downstream trainers."""

from infinite_ae.adapters import foldin
from infinite_ae.adapters.sequential import (
    ORDERINGS,
    SequenceStats,
    order_items,
    sequence_stats,
    to_sequences,
)

__all__ = [
    "ORDERINGS",
    "SequenceStats",
    "foldin",
    "order_items",
    "sequence_stats",
    "to_sequences",
]
