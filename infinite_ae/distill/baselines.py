"""Data-sampling baselines for Distill-CF at an equal user budget S.

The Distill-CF paper (Sachdeva et al., NeurIPS 2022) compares against User-RNS
(random users), Head-User (most active users) and Interaction-RNS (random
interactions) at the same budget. Each function returns an [S, I] float32 CSR support
that ∞-AE can be fitted on.
NumPy randomness comes from an explicit `np.random.Generator`.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def _active_users(train: sp.csr_matrix) -> np.ndarray:
    return np.flatnonzero(np.diff(train.indptr) > 0)


def _check_budget(train: sp.csr_matrix, budget: int) -> None:
    if budget < 1:
        raise ValueError(f"budget must be >= 1, got {budget}")
    active = _active_users(train).size
    if budget > active:
        raise ValueError(
            f"budget {budget} exceeds the {active} users with interactions"
        )


def random_users(
    train: sp.csr_matrix, budget: int, *, rng: np.random.Generator
) -> tuple[sp.csr_matrix, np.ndarray]:
    """User-RNS: ``budget`` users with ≥ 1 train interaction, uniformly, no replacement.

    Args:
      train: [U, I] binary train matrix.
      budget: S, the number of users kept.
      rng: NumPy generator.

    Returns:
      ([S, I] CSR rows, [S] chosen user indices). This is also Distill-CF's default
      initialisation.

    >>> m = sp.csr_matrix(np.eye(4, dtype=np.float32))
    >>> rows, users = random_users(m, 2, rng=np.random.default_rng(0))
    >>> rows.shape, len(set(users))
    ((2, 4), 2)
    """
    _check_budget(train, budget)
    users = rng.choice(_active_users(train), size=budget, replace=False)
    return train[users].astype(np.float32), users


def head_users(train: sp.csr_matrix, budget: int) -> tuple[sp.csr_matrix, np.ndarray]:
    """Head-User: the ``budget`` most active users (ties broken by lower index).

    Returns:
      ([S, I] CSR rows, [S] user indices, most active first).
    """
    _check_budget(train, budget)
    degree = np.diff(train.indptr)
    users = np.lexsort((np.arange(degree.size), -degree))[:budget]
    return train[users].astype(np.float32), users


def random_interactions(
    train: sp.csr_matrix,
    budget: int,
    *,
    rng: np.random.Generator,
    interactions_per_user: float | None = None,
) -> sp.csr_matrix:
    """Interaction-RNS at a user budget: S rows of interactions drawn uniformly.

    The interaction budget is what S average users hold: ``n = round(S · d̄)`` with d̄
    the mean train degree of the users with interactions (or
    ``interactions_per_user``). n train interactions are drawn uniformly without
    replacement and dealt round-robin (after a shuffle) onto S rows; an item drawn
    twice for the same row counts once. Each row is therefore a bag of random
    interactions, i.e. items drawn in proportion to their popularity, with no
    user-level co-occurrence structure: exactly what interaction sampling keeps and
    user sampling does not.

    Args:
      train: [U, I] binary train matrix.
      budget: S, the number of rows.
      rng: NumPy generator.
      interactions_per_user: d̄ override.

    Returns:
      [S, I] binary float32 CSR.
    """
    _check_budget(train, budget)
    coo = train.tocoo()
    if interactions_per_user is None:
        interactions_per_user = coo.nnz / _active_users(train).size
    n = min(int(round(budget * interactions_per_user)), coo.nnz)
    picked = rng.choice(coo.nnz, size=n, replace=False)
    rows = np.arange(n) % budget
    out = sp.csr_matrix(
        (np.ones(n, np.float32), (rows, coo.col[picked])),
        shape=(budget, train.shape[1]),
    )
    out.sum_duplicates()
    out.data[:] = 1.0
    return out
