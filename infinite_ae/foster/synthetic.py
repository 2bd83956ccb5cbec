"""Synthetic sequences as per-position item logits, and their discretisation.

FOSTER-style, reconstructed from the abstract: M synthetic sequences of length L
hold logits Z [M, L, I]; position l of sequence m is the item distribution
p[m, l] = softmax(Z[m, l] / tau). Z is either dense (an [M, L, I] array) or
factorised for large catalogues, Z = A B^T with `Factorised` (A [M, L, r] per
position, B [I, r] per item; Farzi-style): M L r + I r numbers instead of M L I,
and a step reads only the columns of its item subset (`columns`). The deliverable
is discrete: real item ids, unique within a sequence (`discretise`), handed to any
sequential trainer as ordinary training sequences (`to_sequences`).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from infinite_ae.data import Sequences
from infinite_ae.types import Array, PRNGKey

INIT_MARGIN = 2.0
"""A real item's initial logit over log(I) (`init_scale`)."""


def init_scale(num_items: int) -> float:
    """The initial logit of a real sequence's item over the rest (0): log(I) +
    `INIT_MARGIN`, so softmax gives it e^2 / (e^2 + 1 - 1/I), about 0.88, of the
    mass whatever the catalogue size (a fixed logit would fade into the mass of
    the other I - 1 items of a large catalogue)."""
    return float(np.log(num_items)) + INIT_MARGIN


class Factorised(NamedTuple):
    """Factorised synthetic logits Z = A B^T (a pytree, so optax updates it)."""

    rows: Array  # A [M, L, r]
    items: Array  # B [I, r]

    @property
    def shape(self) -> tuple[int, int, int]:
        return (*self.rows.shape[:2], self.items.shape[0])


Logits = Array | Factorised
"""Dense [M, L, I] logits or `Factorised` ones."""


def columns(logits: Logits, subset: Array) -> Array:
    """[M, L, k] the logits of the `subset`'s items (k = len(subset))."""
    if isinstance(logits, Factorised):
        return logits.rows @ logits.items[subset].T
    return logits[:, :, subset]


def dense(logits: Logits) -> Array:
    """[M, L, I] the full logits (materialised for a `Factorised` Z)."""
    if isinstance(logits, Factorised):
        return logits.rows @ logits.items.T
    return logits


def init_logits(
    key: PRNGKey,
    num_sequences: int,
    length: int,
    num_items: int,
    *,
    real: np.ndarray | None = None,
    noise: float = 0.1,
    rank: int = 0,
) -> Logits:
    """Initial logits: N(0, noise²), plus s = `init_scale` (I) on the items of
    ``real`` [M, L] int item ids (-1 = none: that position stays noise).

    With ``rank`` r > 0 the logits are `Factorised`: B has random rows of norm 1
    and A = s B[real] (noise · N(0, 1/r) where real is -1), so a real item's
    logit is s and any other item's is s times a cosine of random directions,
    about N(0, 1/r) scaled: the real item stands out clearly for r of a few
    dozen and more. Rank 0 (default): dense [M, L, I].
    """
    if real is not None:
        real = np.asarray(real)
        if real.shape != (num_sequences, length):
            raise ValueError(
                f"real must be [{num_sequences}, {length}], got {real.shape}"
            )
    if rank < 0:
        raise ValueError(f"rank must be >= 0, got {rank}")
    if rank:
        item_key, row_key = jax.random.split(key)
        items = jax.random.normal(item_key, (num_items, rank))
        items = items / jnp.linalg.norm(items, axis=1, keepdims=True)
        rows = noise * jax.random.normal(row_key, (num_sequences, length, rank))
        rows = rows / np.sqrt(rank)
        scale = init_scale(num_items)
        if real is not None:
            chosen = jnp.asarray(real)
            rows = jnp.where(
                (chosen >= 0)[..., None],
                scale * items[jnp.maximum(chosen, 0)],
                rows,
            )
        return Factorised(rows, items)
    z = noise * jax.random.normal(key, (num_sequences, length, num_items))
    if real is None:
        return z
    one_hot = jax.nn.one_hot(jnp.asarray(real), num_items)  # -1 -> all zeros
    return z + init_scale(num_items) * one_hot


def soft_sequences(logits: Array, temperature) -> Array:
    """[..., I] item distributions p = softmax(Z / T) of every position."""
    return jax.nn.softmax(logits / temperature, axis=-1)


def discretise(logits: np.ndarray | Logits, *, unique: bool = True) -> np.ndarray:
    """[M, L] int32 item ids: per position the most likely item; with ``unique``
    no item twice within a sequence (positions in order of confidence take their
    best item not yet taken). A `Factorised` Z is materialised one sequence at a
    time.

    Raises:
      ValueError: ``unique`` with L greater than the number of items.
    """
    m, length, num_items = logits.shape
    if isinstance(logits, Factorised):
        rows = np.asarray(logits.rows, np.float64)
        items = np.asarray(logits.items, np.float64).T
        sequence = lambda row: rows[row] @ items  # noqa: E731
    else:
        z = np.asarray(logits, np.float64)
        sequence = lambda row: z[row]  # noqa: E731
    if not unique:
        return np.stack([sequence(row).argmax(-1) for row in range(m)]).astype(np.int32)
    if length > num_items:
        raise ValueError(f"{length} unique positions need >= {length} items")
    out = np.empty((m, length), np.int32)
    for row in range(m):
        scores = sequence(row).copy()
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
