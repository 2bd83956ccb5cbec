"""Cheap in-loop validation for Distill-CF: a ridge sweep on one user batch, in jnp.

At each validation step Distill-CF re-fits ∞-AE on the current synthetic sample for
every λ of a grid and keeps the best λ on a validation metric. The support is small
(S users), so the fits are cheap; the cost is the queries' cross-kernel (computed once
per batch and shared by all λ) and one [B, S] x [S, I] product per λ. The shell sums
the per-batch sums returned here over user batches.

Metrics are `metrics.ranking_sums` (the library's one implementation of HR, nDCG, ...;
seen items masked with −inf before top-k; users with an empty held-out set add 0, so
averages divide by all users, as the original). Every λ also reports whether its α is
finite (``"finite"``), so the shell can mark an invalid λ instead of ranking noise.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
from jax import lax

from infinite_ae import kernels, metrics, solver
from infinite_ae.distill.core import KernelRidgeLearner
from infinite_ae.types import ArrayLike

VALIDATION_METRICS = ("hr", "ndcg")
"""The metrics the in-loop validation sums (at every cut-off)."""


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
      {"hr@k": [R], "ndcg@k": [R], "count": [R], "finite": [R] bool} weighted sums
      over the batch; where ``finite`` is False the sums are meaningless.
    """
    regs = jnp.asarray(regs, jnp.float32)
    k_qs = kernels.kernel(learner.spec, queries, support)
    k_ss = kernels.kernel(learner.spec, support)

    def one(reg):
        _, alpha = learner.fit_from_kernel(k_ss, support, reg)
        finite = jnp.all(jnp.isfinite(alpha))
        # Non-finite α would rank NaN scores; zero them so top-k stays defined.
        alpha = jnp.where(finite, alpha, 0.0)
        scores = solver.predict_krr(k_qs, alpha)
        sums = metrics.ranking_sums(
            scores, targets, mask, weights, ks=ks, names=VALIDATION_METRICS
        )
        return {**sums, "finite": finite}

    return lax.map(one, regs)
