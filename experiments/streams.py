"""Named random streams: every random draw of a job comes from its own stream.

A job declares a `StreamTable`: a name for each use of randomness and a distinct id
per kind (NumPy or JAX). ``streams.rng("batches", t)`` is
``np.random.default_rng([seed, id, t])`` and ``streams.key("gumbel")`` is
``fold_in(key(seed), id)``, so no two uses share numbers, the same config and seed
give the same draws, and a resumed run redraws exactly what an uninterrupted one did
(per-step streams take the step as an extra entropy word).

Streams shared by several jobs live in `SHARED` with one id, so, e.g., the ∞-AE and
Distill-CF jobs score their AUC against the same negatives on the same data. The data
split is not a stream here: it is `np.random.default_rng(seed)` inside
`infinite_ae.data.build_dataset`, so a dataset depends on the seed alone.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import jax
import numpy as np

SHARED = {"auc_negatives": 6}
"""NumPy stream ids used by every job that needs them."""


@dataclasses.dataclass(frozen=True)
class StreamTable:
    """The named streams of one job.

    Attributes:
      numpy: name -> id of ``np.random.default_rng([seed, id, ...])`` streams.
      jax: name -> id of ``fold_in(jax.random.key(seed), id)`` keys.
    """

    numpy: Mapping[str, int]
    jax: Mapping[str, int] = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        numpy_ids = {**self.numpy, **SHARED}
        for kind, table in (("numpy", numpy_ids), ("jax", dict(self.jax))):
            ids = list(table.values())
            if len(set(ids)) != len(ids):
                raise ValueError(f"{kind} stream ids must be distinct: {table}")


@dataclasses.dataclass(frozen=True)
class Streams:
    """A `StreamTable` bound to a seed (and a JAX PRNG implementation).

    >>> table = StreamTable(numpy={"init": 1}, jax={"gumbel": 0})
    >>> streams = Streams(table, seed=42)
    >>> int(streams.rng("init").integers(100)) == int(streams.rng("init").integers(100))
    True
    >>> streams.rng("batches")
    Traceback (most recent call last):
    ...
    KeyError: "unknown random stream 'batches'; this job has ['auc_negatives', 'init']"
    """

    table: StreamTable
    seed: int
    prng_impl: str | None = None

    def rng(self, name: str, *extra: int) -> np.random.Generator:
        """The NumPy generator of stream ``name`` (``extra``: e.g. the step)."""
        ids = {**self.table.numpy, **SHARED}
        if name not in ids:
            raise KeyError(
                f"unknown random stream {name!r}; this job has {sorted(ids)}"
            )
        return np.random.default_rng([self.seed, ids[name], *map(int, extra)])

    def key(self, name: str) -> jax.Array:
        """The JAX key of stream ``name``; fold in the step for per-step keys."""
        if name not in self.table.jax:
            raise KeyError(
                f"unknown random key {name!r}; this job has {sorted(self.table.jax)}"
            )
        base = jax.random.key(self.seed, impl=self.prng_impl)
        return jax.random.fold_in(base, self.table.jax[name])
