"""Negative samplers for pairwise (BPR) training.

A sampler draws one negative item per positive row. Exclusion sets are passed as a
sorted array of flat keys `user * num_items + item` (int32 when `U * I < 2**31`, else
int64 under x64), so samplers stay pure, jit-friendly and independent of the size of
the current (possibly condensed) training set.

Samplers are frozen dataclasses (hashable, static under `jit`); new ones register in
`SAMPLERS` and are looked up with `get_sampler(name)`.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from infinite_ae.types import Array, ArrayLike, PRNGKey


def exclusion_keys(users: ArrayLike, items: ArrayLike, num_items: int) -> np.ndarray:
    """Sorted unique flat keys `user * num_items + item` of a set of positives.

    Args:
      users: [N] int user indices.
      items: [N] int item indices.
      num_items: I, the number of items.

    Returns:
      [N'] sorted unique keys (int32 when they fit, else int64), N' <= N.

    >>> exclusion_keys([1, 0, 1], [2, 1, 2], 3).tolist()
    [1, 5]
    """
    users = np.asarray(users, dtype=np.int64)
    items = np.asarray(items, dtype=np.int64)
    if users.shape != items.shape:
        raise ValueError(f"users {users.shape} and items {items.shape} differ")
    keys = np.unique(users * num_items + items)
    dtype = np.int32 if (keys.size == 0 or keys[-1] < 2**31 - 1) else np.int64
    if keys.size == 0:
        # A sentinel that no real key equals keeps searchsorted well defined.
        keys = np.array([-1], dtype=np.int64)
    return keys.astype(dtype)


def is_excluded(excluded_keys: Array, users: Array, items: Array, num_items: int):
    """Membership of (user, item) pairs in a sorted key set.

    Args:
      excluded_keys: [N'] sorted flat keys from `exclusion_keys`.
      users: [...] int user indices.
      items: [...] int item indices, same shape as `users`.
      num_items: I.

    Returns:
      [...] bool, True where `user * I + item` is in the set.
    """
    query = users.astype(excluded_keys.dtype) * num_items + items.astype(
        excluded_keys.dtype
    )
    pos = jnp.searchsorted(excluded_keys, query)
    pos = jnp.minimum(pos, excluded_keys.shape[0] - 1)
    return excluded_keys[pos] == query


@dataclasses.dataclass(frozen=True)
class UniformNegativeSampler:
    """Uniform negatives that exclude a user's positives, by bounded rejection.

    Draws `num_tries` uniform candidates per row and keeps the first one that is not
    in the exclusion set; if all are excluded (probability deg/I to the power
    `num_tries`) the last candidate is kept. RecBole resamples without bound; with
    `num_tries=16` the difference is negligible for users with < 80% of all items.

    Attributes:
      num_items: I.
      num_tries: static number of candidates per row.
    """

    num_items: int
    num_tries: int = 16

    def sample(self, key: PRNGKey, users: Array, excluded_keys: Array) -> Array:
        """One negative per row.

        Args:
          key: negative-sampling key.
          users: [B] int32 user of each row.
          excluded_keys: [N'] sorted flat keys of the positives to avoid.

        Returns:
          [B] int32 negative items.
        """
        (batch,) = users.shape
        candidates = jax.random.randint(
            key, (batch, self.num_tries), 0, self.num_items, dtype=jnp.int32
        )
        bad = is_excluded(
            excluded_keys,
            jnp.broadcast_to(users[:, None], candidates.shape),
            candidates,
            self.num_items,
        )
        first_ok = jnp.argmax(~bad, axis=1)
        first_ok = jnp.where(jnp.any(~bad, axis=1), first_ok, self.num_tries - 1)
        return jnp.take_along_axis(candidates, first_ok[:, None], axis=1)[:, 0]


SAMPLERS = {"uniform": UniformNegativeSampler}


def get_sampler(name: str, *, num_items: int, **kwargs) -> UniformNegativeSampler:
    """Builds a negative sampler by name.

    Args:
      name: one of `SAMPLERS`.
      num_items: I.
      **kwargs: sampler-specific options (e.g. `num_tries`).

    Raises:
      ValueError: for an unknown name, listing the valid ones.
    """
    if name not in SAMPLERS:
        raise ValueError(
            f"unknown negative sampler {name!r}; valid: {sorted(SAMPLERS)}"
        )
    return SAMPLERS[name](num_items=num_items, **kwargs)


def sample_sequence_negatives(
    key: PRNGKey,
    sampler: UniformNegativeSampler | str,
    targets: Array,
    *,
    num_negatives: int,
    excluded: Array | None = None,
    num_items: int | None = None,
) -> Array:
    """`num_negatives` uniform negatives per position of a batch of sequences.

    Sequence arrays code item i as i + 1 and padding as 0 (`infinite_ae.data`
    `Sequences`); the negatives use the same coding. Each negative is drawn by
    bounded rejection like `UniformNegativeSampler.sample`: `sampler.num_tries`
    uniform candidates in [1, I], the first one that is neither the position's
    target nor in the row's `excluded` items is kept (the last candidate if none
    is). Negatives of padding positions (target 0) are drawn too; losses mask them.

    Args:
      key: negative-sampling key.
      sampler: a `UniformNegativeSampler` (its `num_items`, `num_tries`) or a
        sampler name for `get_sampler` (then `num_items` is required).
      targets: [B, L] int32 target items (item + 1; 0 = no target).
      num_negatives: static k, negatives per position.
      excluded: optional [B, E] int32 items (item + 1; 0 ignored) that no negative
        of row b may be, e.g. the row's inputs (the SASRec paper avoids the user's
        whole sequence). The default avoids the target only (gSASRec draws from
        all items).
      num_items: I, with a sampler name.

    Returns:
      [B, L, k] int32 negatives in [1, I] (item + 1).

    Raises:
      ValueError: unknown sampler, missing `num_items` or bad shapes.

    >>> import jax, jax.numpy as jnp
    >>> negs = sample_sequence_negatives(jax.random.key(0), "uniform",
    ...     jnp.array([[0, 1, 2]]), num_negatives=4, num_items=2)
    >>> negs.shape, bool(jnp.all(negs[0, 1] == 2)), bool(jnp.all(negs[0, 2] == 1))
    ((1, 3, 4), True, True)
    """
    if isinstance(sampler, str):
        if num_items is None:
            raise ValueError("a sampler name needs num_items")
        sampler = get_sampler(sampler, num_items=num_items)
    if not isinstance(sampler, UniformNegativeSampler):
        raise ValueError(f"{type(sampler).__name__} has no sequence sampling")
    if targets.ndim != 2:
        raise ValueError(f"targets must be [B, L], got {targets.shape}")
    batch, length = targets.shape
    if excluded is not None and (excluded.ndim != 2 or excluded.shape[0] != batch):
        raise ValueError(f"excluded must be [B={batch}, E], got {excluded.shape}")
    shape = (batch, length, num_negatives, sampler.num_tries)
    candidates = jax.random.randint(
        key, shape, 1, sampler.num_items + 1, dtype=jnp.int32
    )
    bad = candidates == targets[:, :, None, None]
    if excluded is not None:
        row_sets = jnp.sort(excluded.astype(jnp.int32), axis=1)

        def member(row_set, row_candidates):
            pos = jnp.searchsorted(row_set, row_candidates)
            pos = jnp.minimum(pos, row_set.shape[0] - 1)
            return row_set[pos] == row_candidates

        bad = bad | jax.vmap(member)(row_sets, candidates)
    first_ok = jnp.argmax(~bad, axis=-1)
    first_ok = jnp.where(jnp.any(~bad, axis=-1), first_ok, sampler.num_tries - 1)
    return jnp.take_along_axis(candidates, first_ok[..., None], axis=-1)[..., 0]
