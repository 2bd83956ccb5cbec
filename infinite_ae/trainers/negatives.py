"""Negative samplers for pairwise (BPR) training, behind one interface.

A sampler is a frozen dataclass (hashable, static under `jit`) with

  needs: "ids" | "scores" | "layers"   what of the current model it reads
  init_state(item_counts) -> state     its explicit state (a pytree; () if none)
  sample(key, inputs, state) -> (negatives, state)

a pure function of (key, `SamplerInputs`, state): the same key and state give the
same negatives. `negatives` is [B] int32 items, or `MixedNegatives` (MixGCF's
synthetic hard negatives, which graph models turn into embeddings in their loss).
Trainers build `SamplerInputs` with `sampler_inputs`, which evaluates the model
(without gradient) only for samplers that read it.

Exclusion sets are passed as a sorted array of flat keys `user * num_items + item`
(int32 when `U * I < 2**31`, else int64 under x64), so samplers stay pure,
jit-friendly and independent of the size of the current (possibly condensed)
training set. No sampler returns one of the row user's excluded items, unless the
user has every item: rejection draws fall back to `uniform_complement`, an exact
uniform draw from the user's non-excluded items.

Registry: `SAMPLERS` name -> class; `get_sampler(name, num_items=..., **options)`.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, ClassVar, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from infinite_ae.types import Array, ArrayLike, PRNGKey, PyTree


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


def uniform_complement(
    key: PRNGKey, users: Array, excluded_keys: Array, num_items: int
) -> Array:
    """Exact uniform draws from each user's non-excluded items, without rejection.

    The user's excluded items p_0 < p_1 < ... are a slice of the sorted keys. The
    r-th free item (r uniform in [0, I - deg)) is f = r + j, with j the number of
    excluded items below f, which equals #{k : p_k - k <= r} (p_k - k counts the
    free items below p_k); j is found by a fixed-depth binary search. A user who
    has every item gets item 0.

    Args:
      key: sampling key.
      users: [...] int user of each draw.
      excluded_keys: [N'] sorted flat keys from `exclusion_keys`.
      num_items: I.

    Returns:
      [...] int32 items, uniform over I \\ excluded(user).

    >>> keys = jnp.asarray(exclusion_keys([0, 0, 0], [0, 1, 3], 5))
    >>> sorted(set(uniform_complement(jax.random.key(0), jnp.zeros(200, jnp.int32),
    ...     keys, 5).tolist()))
    [2, 4]
    """
    dtype = excluded_keys.dtype
    base = users.astype(dtype) * num_items
    start = jnp.searchsorted(excluded_keys, base, side="left")
    deg = jnp.searchsorted(excluded_keys, base + num_items, side="left") - start
    free = jnp.maximum(num_items - deg, 1)
    r = jnp.floor(jax.random.uniform(key, users.shape) * free).astype(dtype)
    r = jnp.minimum(r, free - 1)
    last = excluded_keys.shape[0] - 1
    lo = jnp.zeros_like(deg)
    hi = deg
    for _ in range(max(1, math.ceil(math.log2(excluded_keys.shape[0] + 1)))):
        mid = (lo + hi) // 2
        p_mid = excluded_keys[jnp.minimum(start + mid, last)] - base
        go_right = (mid < hi) & (p_mid - mid <= r)
        lo = jnp.where(go_right, mid + 1, lo)
        hi = jnp.where(go_right | (mid >= hi), hi, mid)
    return jnp.where(deg >= num_items, 0, r + lo).astype(jnp.int32)


def first_allowed(
    key: PRNGKey,
    candidates: Array,
    users: Array,
    excluded_keys: Array,
    num_items: int,
    allowed: Array | None = None,
) -> Array:
    """Per row, the first candidate that is not excluded (else an exact uniform draw).

    Args:
      key: key of the fallback draw.
      candidates: [B, T] int candidate items in preference order.
      users: [B] int user of each row.
      excluded_keys: [N'] sorted flat keys.
      num_items: I.
      allowed: optional [B, T] bool, further restricting the candidates.

    Returns:
      [B] int32 items.
    """
    ok = ~is_excluded(
        excluded_keys,
        jnp.broadcast_to(users[:, None], candidates.shape),
        candidates,
        num_items,
    )
    if allowed is not None:
        ok = ok & allowed
    first = jnp.take_along_axis(candidates, jnp.argmax(ok, axis=1)[:, None], 1)[:, 0]
    fallback = uniform_complement(key, users, excluded_keys, num_items)
    return jnp.where(jnp.any(ok, axis=1), first, fallback).astype(jnp.int32)


class SamplerInputs(NamedTuple):
    """What a sampler sees of one training batch.

    Attributes:
      users: [B] int32 user of each row.
      pos_items: [B] int32 positive item of each row.
      weights: [B] float32 row weights (0 = padding).
      excluded_keys: [N'] sorted flat keys the negatives avoid.
      user_emb: [B, d] final embeddings of the rows' users, without gradient
        (samplers with `needs` "scores" or "layers"; else None).
      item_emb: [I, d] final item embeddings, likewise.
      user_layers: [L + 1, B, d] per-layer user embeddings ("layers" only).
      item_layers: [L + 1, I, d] per-layer item embeddings ("layers" only).
    """

    users: Array
    pos_items: Array
    weights: Array
    excluded_keys: Array
    user_emb: Array | None = None
    item_emb: Array | None = None
    user_layers: Array | None = None
    item_layers: Array | None = None


class MixedNegatives(NamedTuple):
    """MixGCF's synthetic negatives, as choices a graph model turns into embeddings.

    Layer l of row b's negative is alpha[b, l] * e_pos^l + (1 - alpha[b, l]) *
    e^l of item candidates[b, pick[b, l]]; the negative's final embedding is the
    mean over layers and its layer 0 is its ego embedding (for the L2 term).

    Attributes:
      candidates: [B, M] int32 candidate items.
      pick: [B, L + 1] int32 index into `candidates` per layer.
      alpha: [B, L + 1] float32 positive-mixing coefficients in [0, 1).
    """

    candidates: Array
    pick: Array
    alpha: Array


def sampler_inputs(
    model, sampler, params: PyTree, graph, users, pos_items, weights, excluded_keys
) -> SamplerInputs:
    """`SamplerInputs` for a batch; evaluates the model only if the sampler reads it.

    Args:
      model: a trainers model (`embed`; `embed_layers` for "layers" samplers).
      sampler: a sampler (its `needs`).
      params: model parameters (gradients are stopped).
      graph: the model's graph (None for BPR-MF).
      users, pos_items, weights: [B] batch rows.
      excluded_keys: [N'] sorted flat keys.

    Raises:
      ValueError: a "layers" sampler with a model without `embed_layers`.
    """
    inputs = SamplerInputs(users, pos_items, weights, excluded_keys)
    if sampler.needs == "ids":
        return inputs
    params = jax.lax.stop_gradient(params)
    if sampler.needs == "layers":
        if not hasattr(model, "embed_layers"):
            raise ValueError(
                f"sampler {sampler.name!r} needs a graph model with layers "
                f"(lightgcn), not {getattr(model, 'name', type(model).__name__)!r}"
            )
        user_layers, item_layers = model.embed_layers(params, graph)
        return inputs._replace(
            user_emb=jnp.mean(user_layers, 0)[users],
            item_emb=jnp.mean(item_layers, 0),
            user_layers=user_layers[:, users],
            item_layers=item_layers,
        )
    user_emb, item_emb = model.embed(params, graph)
    return inputs._replace(user_emb=user_emb[users], item_emb=item_emb)


def _scores(inputs: SamplerInputs, candidates: Array) -> Array:
    """[B, M] inner products of the rows' users with their candidate items."""
    return jnp.einsum("bd,bmd->bm", inputs.user_emb, inputs.item_emb[candidates])


def _complement_candidates(key, inputs: SamplerInputs, num: int, num_items: int):
    """[B, num] exact uniform draws from each row user's non-excluded items."""
    users = jnp.broadcast_to(inputs.users[:, None], (inputs.users.shape[0], num))
    return uniform_complement(key, users, inputs.excluded_keys, num_items)


@dataclasses.dataclass(frozen=True)
class UniformNegativeSampler:
    """Uniform negatives (RNS) that exclude a user's positives, by bounded rejection.

    Draws `num_tries` uniform candidates per row and keeps the first one that is not
    excluded; if all are (probability (deg/I)^num_tries) an exact uniform draw from
    the user's free items is used (`uniform_complement`).

    Attributes:
      num_items: I.
      num_tries: static number of candidates per row.
    """

    num_items: int
    num_tries: int = 16
    name: ClassVar[str] = "uniform"
    needs: ClassVar[str] = "ids"

    def init_state(self, item_counts: ArrayLike | None = None) -> tuple:
        del item_counts
        return ()

    def sample(self, key: PRNGKey, inputs: SamplerInputs, state=()):
        """([B] int32 negatives, state)."""
        return draw_uniform(
            key, inputs.users, inputs.excluded_keys, self.num_items, self.num_tries
        ), state


def draw_uniform(
    key: PRNGKey, users: Array, excluded_keys: Array, num_items: int, num_tries=16
) -> Array:
    """[B] uniform negatives by bounded rejection (see `UniformNegativeSampler`)."""
    cand_key, fallback_key = jax.random.split(key)
    candidates = jax.random.randint(
        cand_key, (users.shape[0], num_tries), 0, num_items, dtype=jnp.int32
    )
    return first_allowed(fallback_key, candidates, users, excluded_keys, num_items)


class PopularityState(NamedTuple):
    """cdf: [I] float32 cumulative distribution of pop(j)^gamma (last entry 1)."""

    cdf: Array


@dataclasses.dataclass(frozen=True)
class PopularityNegativeSampler:
    """Popularity negatives (PNS): q(j) ∝ pop(j)^gamma over the user's non-positives.

    Candidates come from the inverse CDF of pop^gamma (O(log I) per draw); the
    first non-excluded one is kept, which is an exact draw from q restricted to
    the user's free items unless all `num_tries` are excluded (then uniform).
    Items never seen in training have pop 0 and are never drawn (gamma > 0).

    Attributes:
      num_items: I.
      gamma: popularity exponent (0.75 as word2vec; 1 proportional; 0 uniform).
      num_tries: static candidates per row.
    """

    num_items: int
    gamma: float = 0.75
    num_tries: int = 16
    name: ClassVar[str] = "popularity"
    needs: ClassVar[str] = "ids"

    def init_state(self, item_counts: ArrayLike) -> PopularityState:
        """State from [I] training counts of each item.

        Raises:
          ValueError: wrong shape, negative counts, or no positive count.
        """
        counts = np.asarray(item_counts, np.float64)
        if counts.shape != (self.num_items,):
            raise ValueError(
                f"item_counts must be [{self.num_items}], got {counts.shape}"
            )
        if np.any(counts < 0) or not np.any(counts > 0):
            raise ValueError("item_counts must be >= 0 with at least one > 0")
        weights = np.where(counts > 0, counts**self.gamma, 0.0)
        cdf = np.cumsum(weights / weights.sum())
        cdf[-1] = 1.0
        return PopularityState(jnp.asarray(cdf, jnp.float32))

    def sample(self, key: PRNGKey, inputs: SamplerInputs, state: PopularityState):
        """([B] int32 negatives, state)."""
        cand_key, fallback_key = jax.random.split(key)
        u = jax.random.uniform(cand_key, (inputs.users.shape[0], self.num_tries))
        candidates = jnp.searchsorted(state.cdf, u, side="right")
        candidates = jnp.minimum(candidates, self.num_items - 1).astype(jnp.int32)
        neg = first_allowed(
            fallback_key, candidates, inputs.users, inputs.excluded_keys, self.num_items
        )
        return neg, state


@dataclasses.dataclass(frozen=True)
class DynamicNegativeSampler:
    """Dynamic hard negatives (DNS; Zhang et al., SIGIR 2013).

    Draws `num_candidates` uniform free items per row and keeps the one the current
    model scores highest.

    Attributes:
      num_items: I.
      num_candidates: M.
    """

    num_items: int
    num_candidates: int = 16
    name: ClassVar[str] = "dns"
    needs: ClassVar[str] = "scores"

    def init_state(self, item_counts: ArrayLike | None = None) -> tuple:
        del item_counts
        return ()

    def sample(self, key: PRNGKey, inputs: SamplerInputs, state=()):
        """([B] int32 negatives, state)."""
        candidates = _complement_candidates(
            key, inputs, self.num_candidates, self.num_items
        )
        best = jnp.argmax(_scores(inputs, candidates), axis=1)
        return jnp.take_along_axis(candidates, best[:, None], 1)[:, 0], state


@dataclasses.dataclass(frozen=True)
class SoftmaxDynamicNegativeSampler:
    """Softmax DNS (Shi et al., WWW 2023): sample from softmax(score / tau) over M
    uniform free candidates.

    Attributes:
      num_items: I.
      num_candidates: M.
      temperature: tau (-> 0: DNS; -> inf: uniform).
    """

    num_items: int
    num_candidates: int = 16
    temperature: float = 1.0
    name: ClassVar[str] = "softmax_dns"
    needs: ClassVar[str] = "scores"

    def init_state(self, item_counts: ArrayLike | None = None) -> tuple:
        del item_counts
        return ()

    def sample(self, key: PRNGKey, inputs: SamplerInputs, state=()):
        """([B] int32 negatives, state)."""
        cand_key, pick_key = jax.random.split(key)
        candidates = _complement_candidates(
            cand_key, inputs, self.num_candidates, self.num_items
        )
        logits = _scores(inputs, candidates) / self.temperature
        pick = jax.random.categorical(pick_key, logits, axis=1)
        return jnp.take_along_axis(candidates, pick[:, None], 1)[:, 0], state


@dataclasses.dataclass(frozen=True)
class InBatchNegativeSampler:
    """In-batch negatives: the positive item of another real row of the batch.

    Each row draws `num_tries` other real rows uniformly and keeps the first whose
    positive it may take (not excluded for its user); otherwise a uniform free
    item. Popular items are drawn in proportion to their share of the batch.

    Attributes:
      num_items: I.
      num_tries: static candidates per row.
    """

    num_items: int
    num_tries: int = 8
    name: ClassVar[str] = "in_batch"
    needs: ClassVar[str] = "ids"

    def init_state(self, item_counts: ArrayLike | None = None) -> tuple:
        del item_counts
        return ()

    def sample(self, key: PRNGKey, inputs: SamplerInputs, state=()):
        """([B] int32 negatives, state)."""
        row_key, fallback_key = jax.random.split(key)
        batch = inputs.users.shape[0]
        real = inputs.weights > 0
        # Rows are drawn among the real ones through the CDF of the real-row mask.
        cdf = jnp.cumsum(real.astype(jnp.float32))
        total = jnp.maximum(cdf[-1], 1.0)
        u = jax.random.uniform(row_key, (batch, self.num_tries)) * total
        rows = jnp.minimum(jnp.searchsorted(cdf, u, side="right"), batch - 1)
        candidates = inputs.pos_items[rows]
        allowed = real[rows] & (rows != jnp.arange(batch)[:, None])
        neg = first_allowed(
            fallback_key,
            candidates,
            inputs.users,
            inputs.excluded_keys,
            self.num_items,
            allowed,
        )
        return neg, state


class AOBPRState(NamedTuple):
    """AOBPR's item rankings, refreshed from the model every `refresh_every` draws.

    Attributes:
      order: [d, I] int32 items by descending factor value, per factor.
      scale: [d] float32 standard deviation of each item factor.
      count: [] int32 batches drawn since the start.
    """

    order: Array
    scale: Array
    count: Array


@dataclasses.dataclass(frozen=True)
class AdaptiveOversamplingSampler:
    """AOBPR (Rendle & Freudenthaler, WSDM 2014): adaptive, context-dependent
    oversampling of high-ranked items.

    Per row: a rank r ~ p(r) ∝ exp(-r / (rank_scale * I)) (truncated to [0, I)), a
    factor f ~ p(f | u) ∝ |v_uf| sigma_f, and the item at rank r of factor f's
    ranking, from the top if v_uf > 0 and from the bottom otherwise. The per-factor
    rankings and sigma_f are recomputed from the current item embeddings every
    `refresh_every` batches (the paper: every I log I single-pair steps).

    Attributes:
      num_items: I.
      rank_scale: lambda as a fraction of I.
      refresh_every: batches between ranking refreshes.
      num_tries: static candidates per row.
    """

    num_items: int
    rank_scale: float = 0.05
    refresh_every: int = 10
    num_tries: int = 8
    name: ClassVar[str] = "aobpr"
    needs: ClassVar[str] = "scores"

    def init_state(self, item_counts: ArrayLike | None = None, *, dim: int = 64):
        """An empty ranking (filled at the first draw), for d = `dim` factors."""
        del item_counts
        return AOBPRState(
            jnp.zeros((dim, self.num_items), jnp.int32),
            jnp.ones((dim,), jnp.float32),
            jnp.zeros((), jnp.int32),
        )

    def _refresh(self, item_emb: Array) -> tuple[Array, Array]:
        order = jnp.argsort(-item_emb.T, axis=1).astype(jnp.int32)
        return order, jnp.std(item_emb, axis=0)

    def sample(self, key: PRNGKey, inputs: SamplerInputs, state: AOBPRState):
        """([B] int32 negatives, state with its count advanced)."""
        if state.order.shape[0] != inputs.item_emb.shape[1]:
            raise ValueError(
                f"AOBPR state has {state.order.shape[0]} factors, the model "
                f"{inputs.item_emb.shape[1]}; init_state(dim=...)"
            )
        order, scale = jax.lax.cond(
            state.count % self.refresh_every == 0,
            lambda: self._refresh(inputs.item_emb),
            lambda: (state.order, state.scale),
        )
        rank_key, factor_key, fallback_key = jax.random.split(key, 3)
        batch, num_items = inputs.users.shape[0], self.num_items
        lam = self.rank_scale * num_items
        u = jax.random.uniform(rank_key, (batch, self.num_tries))
        # Inverse CDF of the exponential truncated to [0, I).
        rank = -lam * jnp.log1p(-u * (-jnp.expm1(-num_items / lam)))
        rank = jnp.clip(jnp.floor(rank), 0, num_items - 1).astype(jnp.int32)
        logits = jnp.log(jnp.abs(inputs.user_emb) * scale[None, :] + 1e-12)
        factor = jax.random.categorical(
            factor_key, logits[:, None, :], shape=(batch, self.num_tries)
        )
        sign = jnp.take_along_axis(inputs.user_emb, factor, axis=1)
        rank = jnp.where(sign > 0, rank, num_items - 1 - rank)
        candidates = order[factor, rank]
        neg = first_allowed(
            fallback_key, candidates, inputs.users, inputs.excluded_keys, num_items
        )
        return neg, AOBPRState(order, scale, state.count + 1)


@dataclasses.dataclass(frozen=True)
class MixGCFSampler:
    """MixGCF (Huang et al., KDD 2021) for graph models: synthetic hard negatives.

    Per row: M uniform free candidates; positive mixing per layer l,
    e'^l_m = alpha_l e^l_pos + (1 - alpha_l) e^l_m with alpha_l ~ U(0, 1); hop
    mixing picks, per layer, the candidate whose mixed embedding the user's pooled
    embedding scores highest. The model's loss rebuilds the negative's embedding
    from these choices (`MixedNegatives`), so gradients reach the mixed items.

    Attributes:
      num_items: I.
      num_candidates: M (16-64 in MixGCF).
    """

    num_items: int
    num_candidates: int = 16
    name: ClassVar[str] = "mixgcf"
    needs: ClassVar[str] = "layers"

    def init_state(self, item_counts: ArrayLike | None = None) -> tuple:
        del item_counts
        return ()

    def sample(self, key: PRNGKey, inputs: SamplerInputs, state=()):
        """(`MixedNegatives`, state)."""
        cand_key, alpha_key = jax.random.split(key)
        candidates = _complement_candidates(
            cand_key, inputs, self.num_candidates, self.num_items
        )
        layers = inputs.item_layers.shape[0]
        alpha = jax.random.uniform(alpha_key, (inputs.users.shape[0], layers))
        pos = inputs.item_layers[:, inputs.pos_items]  # [L+1, B, d]
        cand = inputs.item_layers[:, candidates]  # [L+1, B, M, d]
        a = alpha.T[:, :, None, None]
        mixed = a * pos[:, :, None, :] + (1.0 - a) * cand
        scores = jnp.einsum("bd,lbmd->blm", inputs.user_emb, mixed)
        pick = jnp.argmax(scores, axis=2).astype(jnp.int32)
        return MixedNegatives(candidates, pick, alpha), state


def mixed_negative_embeddings(
    item_layers: Array, pos_items: Array, negatives: MixedNegatives
) -> tuple[Array, Array]:
    """(final [B, d], ego [B, d]) embeddings of MixGCF negatives, differentiable in
    `item_layers` ([L + 1, I, d])."""
    layer = jnp.arange(item_layers.shape[0])[None, :]
    chosen = jnp.take_along_axis(negatives.candidates, negatives.pick, axis=1)
    a = negatives.alpha[..., None]
    mixed = (
        a * jnp.swapaxes(item_layers[:, pos_items], 0, 1)
        + (1.0 - a) * item_layers[layer, chosen]
    )  # [B, L+1, d]
    return jnp.mean(mixed, axis=1), mixed[:, 0]


SAMPLERS = {
    cls.name: cls
    for cls in (
        UniformNegativeSampler,
        PopularityNegativeSampler,
        DynamicNegativeSampler,
        SoftmaxDynamicNegativeSampler,
        InBatchNegativeSampler,
        AdaptiveOversamplingSampler,
        MixGCFSampler,
    )
}


def get_sampler(name: str, *, num_items: int, **options) -> Any:
    """Builds a negative sampler by name.

    Args:
      name: one of `SAMPLERS` (uniform, popularity, dns, softmax_dns, in_batch,
        aobpr, mixgcf).
      num_items: I.
      **options: sampler-specific options (e.g. `num_tries`, `gamma`,
        `num_candidates`, `temperature`, `rank_scale`).

    Raises:
      ValueError: for an unknown name (listing the valid ones) or option.

    >>> get_sampler("dns", num_items=10, num_candidates=4)
    DynamicNegativeSampler(num_items=10, num_candidates=4)
    """
    if name not in SAMPLERS:
        raise ValueError(
            f"unknown negative sampler {name!r}; valid: {sorted(SAMPLERS)}"
        )
    cls = SAMPLERS[name]
    fields = {f.name for f in dataclasses.fields(cls)} - {"num_items"}
    unknown = set(options) - fields
    if unknown:
        raise ValueError(
            f"sampler {name!r} has no option(s) {sorted(unknown)}; valid: "
            f"{sorted(fields)}"
        )
    return cls(num_items=num_items, **options)


def init_sampler_state(sampler, item_counts: ArrayLike, model=None) -> PyTree:
    """A sampler's initial state from [I] training counts (and the model's width)."""
    if isinstance(sampler, AdaptiveOversamplingSampler):
        return sampler.init_state(item_counts, dim=getattr(model, "embedding_dim", 64))
    return sampler.init_state(item_counts)


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


def draw_sequence_negatives(
    key: PRNGKey,
    sampler,
    targets: Array,
    state: PyTree = (),
    *,
    num_negatives: int,
    hidden: Array | None = None,
    item_emb: Array | None = None,
) -> tuple[Array, PyTree]:
    """`num_negatives` negatives per position of a batch of sequences, any sampler.

    Every (row, position) becomes `num_negatives` sampler rows whose "user" is the
    position (its only excluded item is its target) and whose user vector is the
    position's hidden state; positions without a target count as padding (their
    negatives are drawn, and masked by the losses). In-batch negatives come from
    the targets of the batch's other positions. Items are coded item + 1 on both
    sides, as in `Sequences`.

    Args:
      key: negative-sampling key.
      sampler: a sampler with `needs` "ids" or "scores" (not MixGCF).
      targets: [B, L] int32 target items (item + 1; 0 = no target).
      state: the sampler's state.
      num_negatives: static k.
      hidden: [B, L, d] hidden states (no gradient needed; "scores" samplers).
      item_emb: [I, d] output item embeddings ("scores" samplers).

    Returns:
      ([B, L, k] int32 negatives in [1, I], new state).

    Raises:
      ValueError: a graph-only sampler, missing embeddings, or too many keys.
    """
    if sampler.needs == "layers":
        raise ValueError(f"sampler {sampler.name!r} needs a graph model")
    if sampler.needs == "scores" and (hidden is None or item_emb is None):
        raise ValueError(f"sampler {sampler.name!r} needs hidden and item_emb")
    batch, length = targets.shape
    positions = batch * length
    num_items = sampler.num_items
    if positions * num_items >= 2**31 - 1:
        raise ValueError(
            f"{positions} positions x {num_items} items overflow int32 keys; "
            "use smaller batches"
        )
    flat_targets = targets.reshape(positions) - 1
    valid = flat_targets >= 0
    target0 = jnp.maximum(flat_targets, 0).astype(jnp.int32)
    position_ids = jnp.arange(positions, dtype=jnp.int32)
    keys = position_ids * num_items + target0  # sorted: one key per position

    def per_row(x):
        return jnp.repeat(x, num_negatives, axis=0)

    inputs = SamplerInputs(
        users=per_row(position_ids),
        pos_items=per_row(target0),
        weights=per_row(valid.astype(jnp.float32)),
        excluded_keys=keys,
    )
    if sampler.needs == "scores":
        flat_hidden = jax.lax.stop_gradient(hidden).reshape(positions, -1)
        inputs = inputs._replace(
            user_emb=per_row(flat_hidden),
            item_emb=jax.lax.stop_gradient(item_emb),
        )
    negs, state = sampler.sample(key, inputs, state)
    return negs.reshape(batch, length, num_negatives) + 1, state
