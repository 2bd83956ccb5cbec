"""Cheap in-loop validation for Distill-CF: a ridge sweep on one user batch, in jnp.

At each validation step Distill-CF re-fits ∞-AE on the current synthetic sample for
every λ of a grid and keeps the λ with the best validation HR@100 (methods notes §6.7).
The support is small (S users), so the fits are cheap; the cost is the queries'
cross-kernel (computed once per batch and shared by all λ) and one [B, S] x [S, I]
product per λ. The shell sums the per-batch sums returned here over user batches.

Metrics (the ∞-AE paper's definitions, methods notes §4.3), T = held-out items,
m = min(|T|, k), seen items masked with −inf before top-k:
  hr@k   = |top_k ∩ T| / m                               (truncated recall)
  ndcg@k = Σ_{j<k, r_j ∈ T} 1/log2(j + 2) / Σ_{j<m} 1/log2(j + 2)
Averages divide by all users (as the original); users with an empty T score 0.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
from jax import lax

from infinite_ae import kernels
from infinite_ae.distill.core import KernelRidgeLearner
from infinite_ae.types import ArrayLike


def ranking_sums(
    scores: jax.Array,
    targets: jax.Array,
    mask: jax.Array,
    weights: jax.Array,
    *,
    ks: Sequence[int],
) -> dict[str, jax.Array]:
    """Sums over users of hr@k and ndcg@k, plus the number of evaluated users.

    Args:
      scores: [B, I] predicted scores.
      targets: [B, I] held-out items (> 0 = positive).
      mask: [B, I] seen items (> 0 = excluded from the ranking).
      weights: [B] 1 for real rows, 0 for padding.
      ks: static cut-offs (each ≤ I).

    Returns:
      {"hr@k": [], "ndcg@k": [] for k in ks, "count": []}: weighted sums.
    """
    max_k = max(ks)
    masked = jnp.where(mask > 0, -jnp.inf, scores)
    _, top = lax.top_k(masked, max_k)
    hits = jnp.take_along_axis(targets > 0, top, axis=1).astype(jnp.float32)
    num_pos = jnp.sum(targets > 0, axis=1)
    valid = weights * (num_pos > 0)
    discounts = 1.0 / jnp.log2(jnp.arange(2, max_k + 2, dtype=jnp.float32))
    cum_discounts = jnp.cumsum(discounts)
    out = {"count": jnp.sum(weights)}
    for k in ks:
        m = jnp.minimum(num_pos, k)
        safe_m = jnp.maximum(m, 1)
        hr = jnp.sum(hits[:, :k], axis=1) / safe_m
        dcg = jnp.sum(hits[:, :k] * discounts[None, :k], axis=1)
        idcg = cum_discounts[safe_m - 1]
        out[f"hr@{k}"] = jnp.sum(valid * hr)
        out[f"ndcg@{k}"] = jnp.sum(valid * dcg / idcg)
    return out


def reg_sweep_sums(
    support: jax.Array,
    queries: jax.Array,
    targets: jax.Array,
    mask: jax.Array,
    weights: jax.Array,
    regs: ArrayLike,
    *,
    learner: KernelRidgeLearner,
    ks: Sequence[int] = (10, 100),
) -> dict[str, jax.Array]:
    """Per-λ metric sums of the learner fitted on ``support``, for one query batch.

    Args:
      support: [S, I] support rows (a synthetic sample, or real users).
      queries: [B, I] query rows (train rows for validation, train + val for test).
      targets: [B, I] held-out items.
      mask: [B, I] items excluded from the ranking.
      weights: [B] 1 for real rows, 0 for padding.
      regs: [R] ridge values (traced: a new grid does not recompile).
      learner: the `KernelRidgeLearner`.
      ks: static cut-offs.

    Returns:
      {"hr@k": [R], "ndcg@k": [R], "count": [R]} weighted sums over the batch.
    """
    regs = jnp.asarray(regs, jnp.float32)
    k_qs = kernels.kernel(learner.spec, queries, support)
    k_ss = kernels.kernel(learner.spec, support)

    def one(reg):
        _, alpha = learner.fit_from_kernel(k_ss, support, reg)
        scores = jnp.matmul(k_qs, alpha, precision=lax.Precision.HIGHEST)
        return ranking_sums(scores, targets, mask, weights, ks=ks)

    return lax.map(one, regs)
