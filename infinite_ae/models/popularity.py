"""Popularity baseline: every user gets the training item counts as scores."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from infinite_ae.models import base


class Popularity:
    """scores[u, i] = number of training interactions of item i (same for all users).

    >>> import numpy as np
    >>> model = Popularity().fit(np.array([[1, 0, 1], [0, 0, 1]]))
    >>> model.score(jnp.zeros((1, 3)), np.array([0])).tolist()
    [[1.0, 0.0, 2.0]]
    """

    def __init__(self, *, dtype: Any = jnp.float32):
        self.dtype = dtype
        self.item_counts_: jax.Array | None = None

    def fit(self, train: Any) -> Popularity:
        """Counts item interactions in [U, I] train (CSR, dense or Interactions)."""
        matrix = base.train_matrix(train)
        counts = np.asarray((matrix != 0).sum(axis=0)).reshape(-1)
        self.item_counts_ = jnp.asarray(counts, self.dtype)
        return self

    def score(
        self, query_rows: jax.Array, users: np.ndarray | None = None
    ) -> jax.Array:
        """[B, I] item counts broadcast over the B query rows."""
        if self.item_counts_ is None:
            raise ValueError("call fit() before score()")
        query_rows = base.check_queries(
            query_rows, self.item_counts_.shape[0], self.dtype
        )
        return jnp.broadcast_to(self.item_counts_, query_rows.shape)
