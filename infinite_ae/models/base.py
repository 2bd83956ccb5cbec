"""The `Recommender` protocol and input helpers shared by the models.

Every model is a small stateful shell object over pure functions:

    model.fit(train) -> model       # train: [U, I] CSR / dense / an Interactions
    model.score(query_rows, users) -> [B, I] scores

`score` has the signature of `infinite_ae.evaluation.evaluate`'s ``score_fn``, so
``evaluate(model.score, data, split="test")`` evaluates any model.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol, runtime_checkable

import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse as sp

from infinite_ae.types import ArrayLike


@runtime_checkable
class Recommender(Protocol):
    """What every model offers (``evaluate(model.score, data)`` works for all)."""

    def fit(self, train: Any) -> Recommender:
        """Fits on [U, I] training interactions (CSR, dense, or an Interactions)."""
        ...

    def score(self, query_rows: jax.Array, users: np.ndarray) -> jax.Array:
        """[B, I] scores for query rows [B, I] of users [B] (higher = better)."""
        ...


def train_matrix(train: Any) -> Any:
    """The [U, I] train matrix of an Interactions-like object, else ``train`` itself."""
    if hasattr(train, "train") and not isinstance(train, (np.ndarray, jax.Array)):
        return train.train
    return train


def to_dense(matrix: Any, dtype: Any) -> jax.Array:
    """[N, I] jax array of ``dtype`` from a scipy sparse matrix or array-like.

    Densifies the whole matrix: only for supports (∞-AE needs X_S dense anyway).
    """
    if sp.issparse(matrix):
        matrix = matrix.toarray()
    array = jnp.asarray(matrix, dtype=dtype)
    if array.ndim != 2:
        raise ValueError(f"expected a [N, I] matrix, got shape {array.shape}")
    return array


def check_queries(query_rows: ArrayLike, num_items: int, dtype: Any) -> jax.Array:
    """Checks [B, I] query rows and casts them to ``dtype``."""
    if sp.issparse(query_rows):
        query_rows = query_rows.toarray()
    query_rows = jnp.asarray(query_rows, dtype=dtype)
    if query_rows.ndim != 2 or query_rows.shape[1] != num_items:
        raise ValueError(
            f"query rows must be [B, {num_items}], got shape {query_rows.shape}"
        )
    return query_rows


def validation_metric(
    evaluate_fn: Any,
    score_fn: Any,
    data: Any,
    *,
    metric: str,
    batch_size: int,
    label: str,
    **evaluate_kwargs: Any,
) -> tuple[float, dict[str, float]]:
    """Evaluates one candidate of a regulariser sweep on validation.

    Args:
      evaluate_fn: `infinite_ae.evaluation.evaluate` or a stand-in.
      score_fn: the candidate's `score_fn(query_rows, users)`.
      data: the dataset.
      metric: key of the evaluation dict that selects (higher is better).
      batch_size: users per evaluation batch.
      label: what is logged for this candidate (e.g. "EASE reg=500").
      **evaluate_kwargs: passed on (e.g. ``ks``).

    Returns:
      (value of ``metric``, the whole metrics dict).

    Raises:
      ValueError: ``metric`` is missing from the evaluation output.
    """
    metrics = evaluate_fn(
        score_fn, data, split="val", batch_size=batch_size, **evaluate_kwargs
    )
    if metric not in metrics:
        raise ValueError(f"metric {metric!r} not in {sorted(metrics)}")
    value = float(metrics[metric])
    logging.info("%s val %s=%.4f", label, metric, value)
    return value, dict(metrics)
