"""First-order Markov chain recommender: the next item given the last one.

A quality floor for sequential recommendation: from the training prefixes it counts
item-to-next-item transitions c(i → j) and scores

    P(j | i) = (c(i → j) + α · p(j)) / (Σ_j' c(i → j') + α),

with p the training item popularity (additive smoothing towards popularity, so an
item never seen as a predecessor falls back to popular items). A user's scores are
the row of its most recent item: the last training item at validation, the
validation item at test (`Sequences.history`). Dense [I, I] float32 (52 MB at
3,615 items).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse as sp

from infinite_ae.types import ArrayLike


def transition_counts(sequences: Any) -> sp.csr_matrix:
    """[I, I] counts of item i directly followed by item j in the training prefixes.

    Args:
      sequences: a `Sequences` (``train_indptr``, ``train_items``, ``num_items``).

    Returns:
      CSR counts (float32).
    """
    items = np.asarray(sequences.train_items, np.int64)
    indptr = np.asarray(sequences.train_indptr, np.int64)
    follows = np.ones(items.size, bool)
    follows[indptr[1:-1] - 1] = False  # a user's last item has no successor here
    if items.size:
        follows[-1] = False
    src = items[np.flatnonzero(follows)]
    dst = items[np.flatnonzero(follows) + 1]
    num = sequences.num_items
    counts = sp.coo_matrix(
        (np.ones(src.size, np.float32), (src, dst)), shape=(num, num)
    ).tocsr()
    counts.sum_duplicates()
    return counts


class MarkovChain:
    """First-order Markov recommender with popularity smoothing (module docstring).

    Args:
      smoothing: α ≥ 0, the weight of the popularity prior in each row.

    >>> import types
    >>> seqs = types.SimpleNamespace(train_indptr=np.array([0, 3]),
    ...     train_items=np.array([0, 1, 2]), num_items=3)
    >>> model = MarkovChain(smoothing=0.0).fit(seqs)
    >>> model.transition_[0].tolist()
    [0.0, 1.0, 0.0]
    """

    def __init__(self, *, smoothing: float = 1.0):
        if not smoothing >= 0:
            raise ValueError(f"smoothing must be >= 0, got {smoothing}")
        self.smoothing = float(smoothing)
        self.transition_: jax.Array | None = None

    def fit(self, sequences: Any) -> MarkovChain:
        """Counts transitions in the training prefixes; builds the smoothed rows."""
        counts = transition_counts(sequences).toarray()
        popularity = np.bincount(
            np.asarray(sequences.train_items, np.int64), minlength=sequences.num_items
        ).astype(np.float64)
        prior = popularity / max(popularity.sum(), 1.0)
        rows = counts + self.smoothing * prior[None, :]
        totals = counts.sum(axis=1, keepdims=True) + self.smoothing
        probs = np.divide(rows, totals, out=np.zeros_like(rows), where=totals > 0)
        self.transition_ = jnp.asarray(probs, jnp.float32)
        return self

    def scores(self, last_items: ArrayLike) -> jax.Array:
        """[B, I] P(· | last item); a user without history (−1) gets zeros."""
        if self.transition_ is None:
            raise ValueError("call fit() first")
        last = jnp.asarray(last_items, jnp.int32)
        rows = self.transition_[jnp.maximum(last, 0)]
        return jnp.where((last >= 0)[:, None], rows, 0.0)

    def scorer(self, sequences: Any, *, split: str):
        """A host scorer for `evaluation.evaluate` on ``sequences.to_interactions()``.

        Args:
          sequences: the `Sequences` whose users are evaluated.
          split: "val" (last training item) or "test" (the validation item).
        """

        def score(query_rows: jax.Array, users: np.ndarray) -> jax.Array:
            del query_rows
            last = sequences.history(users, split=split, max_len=1)[:, -1] - 1
            return self.scores(last)

        return score
