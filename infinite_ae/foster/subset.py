"""Stochastic item-subset sampling: each distillation step sees only k items.

FOSTER-style, reconstructed from the abstract: instead of encoding the whole
catalogue every step, a step encodes the items of a sorted subset S_t of fixed size
k (static shapes, one compilation): every item of the real batch (inputs and
targets: required, or the real loss would lose its targets), then the synthetic
sequences' currently most likely items, then uniformly random items. Every softmax
of the step is restricted to S_t; with S_t the whole catalogue the step is the full
computation.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from infinite_ae.types import Array, PRNGKey


def sample_subset(
    key: PRNGKey, size: int, num_items: int, required: Array, preferred: Array
) -> Array:
    """[size] sorted unique item ids: `required`, then `preferred`, then random.

    Args:
      key: the step's subset key.
      size: k (static), at most `num_items`.
      num_items: I (static).
      required: [R] int item ids that must be in the subset (-1 = none); when
        more than k are distinct some are left out (`covers` tells).
      preferred: [P] int item ids taken next, in order (-1 = none).

    Returns:
      The subset, ascending (so `positions` can search it).
    """
    if not 0 < size <= num_items:
        raise ValueError(f"subset size must lie in [1, {num_items}], got {size}")
    random = jax.random.permutation(key, num_items)
    candidates = jnp.concatenate([required.ravel(), preferred.ravel(), random]).astype(
        jnp.int32
    )
    n = candidates.shape[0]
    order = jnp.arange(n)
    valid = candidates >= 0
    # The first occurrence of every item, then the k earliest of those.
    ranked = jnp.lexsort((order, jnp.where(valid, candidates, num_items)))
    item = candidates[ranked]
    first = valid[ranked] & jnp.concatenate([jnp.ones(1, bool), item[1:] != item[:-1]])
    earliest = jnp.where(first, ranked, n)
    chosen = jnp.sort(earliest)[:size]
    return jnp.sort(candidates[chosen])


def positions(subset: Array, items: Array) -> Array:
    """Positions of `items` (members of the sorted `subset`) in it."""
    return jnp.searchsorted(subset, items).astype(jnp.int32)


def covers(subset: Array, required: Array) -> Array:
    """[] bool: every required item (-1 = none) is in the sorted subset (else
    the real loss would score targets outside it: callers must refuse the step)."""
    found = subset[jnp.clip(positions(subset, required), 0, subset.shape[0] - 1)]
    return jnp.all((required < 0) | (found == required))
