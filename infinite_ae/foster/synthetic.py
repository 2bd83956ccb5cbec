"""Synthetic sequences as per-position item logits, and their discretisation.

FOSTER-style, reconstructed from the abstract: M synthetic sequences of length L
hold logits Z [M, L, I]; position l of sequence m is the item distribution
p[m, l] = softmax(Z[m, l] / tau). The deliverable is discrete: real item ids,
unique within a sequence (`discretise`), handed to any sequential trainer as
ordinary training sequences (`to_sequences`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from infinite_ae.data import Sequences
from infinite_ae.types import Array, PRNGKey

INIT_SCALE = 5.0
"""Logit of a real sequence's item over the rest when initialised from data."""


def init_logits(
    key: PRNGKey,
    num_sequences: int,
    length: int,
    num_items: int,
    *,
    real: np.ndarray | None = None,
    noise: float = 0.1,
) -> Array:
    """[M, L, I] float32 initial logits: N(0, noise²), plus `INIT_SCALE` on the
    items of ``real`` [M, L] int item ids (-1 = none: that position stays noise)."""
    z = noise * jax.random.normal(key, (num_sequences, length, num_items))
    if real is None:
        return z
    real = np.asarray(real)
    if real.shape != (num_sequences, length):
        raise ValueError(f"real must be [{num_sequences}, {length}], got {real.shape}")
    one_hot = jax.nn.one_hot(jnp.asarray(real), num_items)  # -1 -> all zeros
    return z + INIT_SCALE * one_hot


def soft_sequences(logits: Array, temperature) -> Array:
    """[..., I] item distributions p = softmax(Z / T) of every position."""
    return jax.nn.softmax(logits / temperature, axis=-1)


def discretise(logits: np.ndarray | Array, *, unique: bool = True) -> np.ndarray:
    """[M, L] int32 item ids: per position the most likely item; with ``unique``
    no item twice within a sequence (positions in order of confidence take their
    best item not yet taken).

    Raises:
      ValueError: ``unique`` with L greater than the number of items.
    """
    z = np.asarray(logits, np.float64)
    m, length, num_items = z.shape
    if not unique:
        return z.argmax(-1).astype(np.int32)
    if length > num_items:
        raise ValueError(f"{length} unique positions need >= {length} items")
    out = np.empty((m, length), np.int32)
    for row in range(m):
        scores = z[row].copy()
        order = np.argsort(-scores.max(-1), kind="stable")
        for pos in order:
            item = int(scores[pos].argmax())
            out[row, pos] = item
            scores[:, item] = -np.inf
    return out


def to_sequences(
    ids: np.ndarray, real: Sequences, *, name: str = "foster"
) -> Sequences:
    """The synthetic sequences [M, L] (item indices of ``real``) as training
    `Sequences` over ``real``'s items (no validation or test items)."""
    ids = np.asarray(ids)
    if ids.ndim != 2 or ids.min(initial=0) < 0 or ids.max(initial=0) >= real.num_items:
        raise ValueError(f"ids must be [M, L] indices < {real.num_items}")
    m, length = ids.shape
    return Sequences(
        train_indptr=np.arange(m + 1, dtype=np.int64) * length,
        train_items=ids.reshape(-1).astype(np.int32),
        val_items=np.full(m, -1, np.int32),
        test_items=np.full(m, -1, np.int32),
        user_ids=np.array([f"{name}_{i}" for i in range(m)]),
        item_ids=real.item_ids,
        name=name,
        info={"synthetic": True, "num_sequences": m, "length": length},
    )
