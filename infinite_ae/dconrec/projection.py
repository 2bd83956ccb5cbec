"""Projection onto the capped budget set {0 <= s <= 1, sum s <= budget}.

The Euclidean projection is clip(s - v, 0, 1) with v = 0 if sum clip(s, 0, 1) <= budget
(inequality constraint: a feasible point is left unchanged), else the v >= 0 with
sum clip(s - v, 0, 1) = budget.

`project_exact` finds v by sorting the breakpoints of the piecewise-linear
f(v) = sum clip(s - v, 0, 1) (O(N log N)); `project_bisection` bisects on v in
[0, max s] for a fixed number of iterations (the official code uses 20 iterations and a
1e-3 residual; 40 halvings reach float32 resolution).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from infinite_ae.types import Array, ArrayLike


def _mass(s: Array, v: Array) -> Array:
    return jnp.sum(jnp.clip(s - v, 0.0, 1.0))


def project_bisection(s: ArrayLike, budget, *, num_iters: int = 40) -> Array:
    """Projection by bisection on the shift v.

    Args:
      s: [N] unconstrained probabilities.
      budget: [] the bound on sum s (traced).
      num_iters: static number of halvings.

    Returns:
      [N] projected probabilities.

    >>> import jax.numpy as jnp
    >>> project_bisection(jnp.array([0.9, 0.9, -0.2]), 1.0).round(3).tolist()
    [0.5, 0.5, 0.0]
    """
    s = jnp.asarray(s, jnp.float32)
    budget = jnp.asarray(budget, jnp.float32)
    feasible = _mass(s, 0.0) <= budget

    def body(_, bounds):
        lo, hi = bounds
        mid = 0.5 * (lo + hi)
        too_big = _mass(s, mid) > budget
        return jnp.where(too_big, mid, lo), jnp.where(too_big, hi, mid)

    lo, hi = jax.lax.fori_loop(
        0, num_iters, body, (jnp.float32(0.0), jnp.maximum(jnp.max(s), 0.0))
    )
    v = jnp.where(feasible, 0.0, hi)
    return jnp.clip(s - v, 0.0, 1.0)


def project_exact(s: ArrayLike, budget) -> Array:
    """Exact projection by sorting the breakpoints of f(v) = sum clip(s - v, 0, 1).

    f is continuous, non-increasing and piecewise linear in v with breakpoints at
    {s_c} and {s_c - 1}. Between consecutive breakpoints its slope is -(number of c
    with s_c - 1 < v < s_c); evaluating f at all sorted breakpoints (by a cumulative
    sum of slopes) brackets the root, which is then found by linear interpolation.

    Args:
      s: [N] unconstrained probabilities.
      budget: [] the bound on sum s, 0 <= budget.

    Returns:
      [N] projected probabilities.
    """
    s = jnp.asarray(s, jnp.float32)
    budget = jnp.asarray(budget, jnp.float32)
    feasible = _mass(s, 0.0) <= budget
    # Breakpoints and the slope change at each: at s_c - 1 the entry leaves the cap
    # (slope -1 starts), at s_c it hits 0 (slope returns to 0).
    points = jnp.concatenate([s - 1.0, s])
    deltas = jnp.concatenate([-jnp.ones_like(s), jnp.ones_like(s)])
    order = jnp.argsort(points)
    points, deltas = points[order], deltas[order]
    slopes = jnp.cumsum(deltas)  # slope of f on [points[j], points[j + 1]]
    gaps = jnp.diff(points)
    # f at points[0] (all entries capped at 1 or above): min(N, ...) evaluated exactly.
    f0 = _mass(s, points[0])
    f_at = jnp.concatenate([f0[None], f0 + jnp.cumsum(slopes[:-1] * gaps)])
    # First breakpoint j (with points[j] >= 0) where f drops to <= budget.
    ok = (f_at <= budget) & (points >= 0.0)
    j = jnp.argmax(ok)
    j = jnp.where(jnp.any(ok), j, points.shape[0] - 1)
    prev = jnp.maximum(j - 1, 0)
    left_v = jnp.maximum(points[prev], 0.0)
    left_f = _mass(s, left_v)
    slope = slopes[prev]
    v_lin = left_v + (left_f - budget) / jnp.where(slope < 0, -slope, 1.0)
    v = jnp.clip(v_lin, left_v, jnp.maximum(points[j], left_v))
    v = jnp.where(feasible, 0.0, v)
    return jnp.clip(s - v, 0.0, 1.0)


PROJECTIONS = {"exact": project_exact, "bisection": project_bisection}


def get_projection(name: str):
    """Projection function by name ("exact", "bisection").

    Raises:
      ValueError: for an unknown name, listing the valid ones.
    """
    if name not in PROJECTIONS:
        raise ValueError(f"unknown projection {name!r}; valid: {sorted(PROJECTIONS)}")
    return PROJECTIONS[name]
