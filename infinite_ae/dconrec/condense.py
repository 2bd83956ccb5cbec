"""DConRec outer loop: Bernoulli masks, one-epoch inner training, REINFORCE, Adam on s,
projection onto the budget.

DConRec (Wu et al., arXiv 2310.01038) learns one keep-probability s_c per candidate
interaction c. Each outer step draws K masks m^k ~ Bernoulli(s), trains a freshly
initialised inner model for one epoch on S(m) = tail ∪ {c : m_c = 1}, takes its BPR
loss on the validation split as L_k, turns the K losses into a REINFORCE estimate of
the gradient of E[L(m)] (`estimator`), takes an Adam step on s and projects s onto
{0 <= s <= 1, sum s <= budget} (`projection`). Where the official code differs, the
numbered DConRec quirks of docs/original_code.md say how (and which switch here
reproduces it).

Core: `outer_step(state, step_key, arrays, hparams=...)` is pure and jit-able (the
shell jits it once with `functools.partial`). All integers that set shapes live in the
static `StaticSpec`; the learning rate enters through `optax.inject_hyperparams` state
and the budget is traced.

Randomness per outer step t (keys derived from `fold_in(base, t)`, so a resumed run
draws the same numbers): mask k uses `fold_in(mask_key, k)`; with common random
numbers (CRN, the clean default) all K inner models share `init_key`, `epoch_key`
(shuffle + negatives), otherwise each mask folds in k. Validation negatives are drawn
once per outer step and shared across masks in both modes, so the K losses differ
only through their masks and inner runs.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from infinite_ae.dconrec import estimator, projection
from infinite_ae.trainers import loop
from infinite_ae.types import Array, PRNGKey

OFFICIAL_SCHEDULE = {0: 0.01, 70: 1e-3, 140: 1e-4, 210: 1e-5}
"""Effective outer lr of the official code, whose ÷10 decay every 70 iterations also
fires at iteration 0 (DConRec quirk 1 in docs/original_code.md)."""


def outer_lr_schedule(boundaries_and_values: dict[int, float]) -> optax.Schedule:
    """Piecewise-constant schedule: value v from iteration b on, for each (b, v).

    >>> sched = outer_lr_schedule(OFFICIAL_SCHEDULE)
    >>> [round(float(sched(t)), 8) for t in (0, 69, 70, 140, 210, 999)]
    [0.01, 0.01, 0.001, 0.0001, 1e-05, 1e-05]
    """
    items = sorted((int(k), float(v)) for k, v in boundaries_and_values.items())
    if not items or items[0][0] != 0:
        raise ValueError(f"schedule must start at iteration 0: {items}")
    init = items[0][1]
    scales = {}
    prev = init
    for boundary, value in items[1:]:
        scales[boundary] = value / prev
        prev = value
    return optax.piecewise_constant_schedule(init, scales)


@dataclasses.dataclass(frozen=True)
class StaticSpec:
    """Static (shape- or structure-setting) options of the outer step.

    Attributes:
      model: inner (condensation) model, a trainers model.
      num_masks: K masks per outer step.
      capacity: static number of pool rows per mask (masks above it are truncated and
        counted in "overflow").
      batch_size: inner batch size.
      baseline: mean baseline (VR estimator).
      common_random_numbers: share init and epoch keys across the K masks.
      accumulate_grad: Adam sees the running sum of all estimates, as in the official
        code, which never zeroes the gradient (DConRec quirk 2 in
        docs/original_code.md); False gives it the fresh estimate.
      projection: "exact" or "bisection".
      inner_exclude: "pool" (negatives avoid every candidate positive; the clean
        default, a superset of each mask's positives so CRN holds) or "train"
        (only the original training items, as the official code; DConRec quirk 8
        in docs/original_code.md).
      outer_loss_reg: include the L2 term in the outer (validation) loss, as the code.
      sampler: the inner training's negative sampler (`trainers.negatives`; None:
        uniform); its initial state is `Arrays.inner_sampler_state`.
    """

    model: Any
    num_masks: int = 4
    capacity: int = 0
    batch_size: int = 4096
    baseline: bool = True
    common_random_numbers: bool = True
    accumulate_grad: bool = False
    projection: str = "exact"
    inner_exclude: str = "pool"
    outer_loss_reg: bool = True
    sampler: Any = None


class Arrays(NamedTuple):
    """Device arrays the outer step reads (constant over the run).

    Attributes:
      pool_users, pool_items: [N] int32 candidates.
      tail_users, tail_items: [T] int32 always-kept interactions.
      val_users, val_items: [V] int32 outer-loss positives (validation split).
      inner_excluded: sorted flat keys avoided by inner negatives.
      val_excluded: sorted flat keys avoided by validation negatives (all known items).
      budget: [] float32 bound on sum s.
      inner_lr: [] float32 inner Adam learning rate.
      inner_sampler_state: the inner sampler's initial state (() if stateless).
    """

    pool_users: Array
    pool_items: Array
    tail_users: Array
    tail_items: Array
    val_users: Array
    val_items: Array
    inner_excluded: Array
    val_excluded: Array
    budget: Array
    inner_lr: Array
    inner_sampler_state: Any = ()


class CondenseState(NamedTuple):
    """Outer state (checkpointed).

    Attributes:
      probs: [N] float32 Bernoulli probabilities s.
      opt_state: optax state of the outer Adam (lr injected).
      grad_sum: [N] float32 running sum of estimates (used when accumulate_grad).
      step: [] int32 outer iteration.
    """

    probs: Array
    opt_state: Any
    grad_sum: Array
    step: Array


def outer_optimizer() -> optax.GradientTransformation:
    """Adam on s with an injected (traced) learning rate."""
    return optax.inject_hyperparams(optax.adam)(learning_rate=0.01)


def init_state(num_candidates: int, init_prob) -> CondenseState:
    """Initial outer state.

    Args:
      num_candidates: N.
      init_prob: [] s_c for every candidate (the official code: ρ·N_tr / N), or [N]
        per candidate
        (e.g. a different initial value for pseudo-positives).
    """
    probs = jnp.broadcast_to(jnp.asarray(init_prob, jnp.float32), (num_candidates,))
    probs = jnp.array(probs)
    return CondenseState(
        probs=probs,
        opt_state=outer_optimizer().init(probs),
        grad_sum=jnp.zeros_like(probs),
        step=jnp.zeros((), jnp.int32),
    )


def default_capacity(budget: float, num_candidates: int) -> int:
    """budget + 6 sqrt(budget) + 64 rows, at most N: overflow probability < 1e-8."""
    return int(min(num_candidates, math.ceil(budget + 6 * math.sqrt(budget) + 64)))


def _mask_rows(mask: Array, arrays: Arrays, capacity: int):
    """Rows of S(m) = tail ∪ {c : m_c = 1}, padded to T + capacity."""
    idx = jnp.nonzero(mask, size=capacity, fill_value=0)[0]
    count = jnp.sum(mask)
    valid = (jnp.arange(capacity) < count).astype(jnp.float32)
    num_tail = arrays.tail_users.shape[0]
    users = jnp.concatenate([arrays.tail_users, arrays.pool_users[idx]])
    items = jnp.concatenate([arrays.tail_items, arrays.pool_items[idx]])
    weights = jnp.concatenate([jnp.ones(num_tail, jnp.float32), valid])
    return users, items, weights, count


def inner_loss(
    mask: Array,
    init_key: PRNGKey,
    epoch_key: PRNGKey,
    val_negatives: Array,
    arrays: Arrays,
    *,
    spec: StaticSpec,
) -> tuple[Array, Array]:
    """L_out(θ̂(m)): fresh init, one epoch on S(m), BPR loss on the validation split.

    Returns:
      (outer loss [], rows kept from the pool [] int32).
    """
    from infinite_ae.trainers import negatives as negatives_lib

    model = spec.model
    users, items, weights, count = _mask_rows(mask, arrays, spec.capacity)
    optimizer = loop.make_optimizer()
    state = loop.init_state(
        model, optimizer, init_key, arrays.inner_lr, arrays.inner_sampler_state
    )
    sampler = spec.sampler or negatives_lib.UniformNegativeSampler(model.num_items)
    state, _ = loop.train_epoch(
        state,
        epoch_key,
        users,
        items,
        weights,
        arrays.inner_excluded,
        model=model,
        optimizer=optimizer,
        sampler=sampler,
        batch_size=spec.batch_size,
    )
    graph = model.make_graph(users, items, weights)
    ones = jnp.ones(arrays.val_users.shape, jnp.float32)
    loss, aux = model.loss(
        state.params, graph, arrays.val_users, arrays.val_items, val_negatives, ones
    )
    if not spec.outer_loss_reg:
        loss = aux["bpr"]
    return loss, jnp.minimum(count, spec.capacity)


def outer_step(
    state: CondenseState,
    step_key: PRNGKey,
    arrays: Arrays,
    lr: Array,
    *,
    spec: StaticSpec,
) -> tuple[CondenseState, dict[str, Array]]:
    """One outer iteration: K masks, K inner epochs, REINFORCE, Adam on s, projection.

    Args:
      state: `CondenseState`.
      step_key: fold_in(base_key, step).
      arrays: `Arrays`.
      lr: [] outer learning rate of this iteration (from the schedule).
      spec: `StaticSpec` (static).

    Returns:
      (new state, {"outer_loss", "loss_std", "mask_size", "overflow", "sum_s",
      "mean_s", "grad_norm"}).
    """
    from infinite_ae.trainers import negatives as negatives_lib

    mask_key, init_key, epoch_key, val_key = jax.random.split(step_key, 4)
    k_range = jnp.arange(spec.num_masks)
    mask_keys = jax.vmap(lambda k: jax.random.fold_in(mask_key, k))(k_range)
    masks = jax.vmap(lambda key: jax.random.bernoulli(key, state.probs))(mask_keys)
    if spec.common_random_numbers:
        init_keys = jnp.stack([init_key] * spec.num_masks)
        epoch_keys = jnp.stack([epoch_key] * spec.num_masks)
    else:
        init_keys = jax.vmap(lambda k: jax.random.fold_in(init_key, k))(k_range)
        epoch_keys = jax.vmap(lambda k: jax.random.fold_in(epoch_key, k))(k_range)
    val_negatives = negatives_lib.draw_uniform(
        val_key, arrays.val_users, arrays.val_excluded, spec.model.num_items
    )
    losses, counts = jax.vmap(
        lambda m, ik, ek: inner_loss(m, ik, ek, val_negatives, arrays, spec=spec)
    )(masks, init_keys, epoch_keys)
    grad = estimator.reinforce_gradient(
        state.probs, masks, losses, baseline=spec.baseline
    )
    grad_sum = state.grad_sum + grad
    used = grad_sum if spec.accumulate_grad else grad
    opt_state = state.opt_state
    opt_state.hyperparams["learning_rate"] = jnp.asarray(lr, jnp.float32)
    updates, opt_state = outer_optimizer().update(used, opt_state, state.probs)
    probs = optax.apply_updates(state.probs, updates)
    probs = projection.get_projection(spec.projection)(probs, arrays.budget)
    raw_counts = jnp.sum(masks, axis=1)
    new_state = CondenseState(probs, opt_state, grad_sum, state.step + 1)
    return new_state, {
        "outer_loss": jnp.mean(losses),
        "loss_std": jnp.std(losses),
        "mask_size": jnp.mean(counts.astype(jnp.float32)),
        "overflow": jnp.sum(raw_counts > spec.capacity),
        "sum_s": jnp.sum(probs),
        "mean_s": jnp.mean(probs),
        "grad_norm": jnp.linalg.norm(grad),
    }


def select_final(
    probs: np.ndarray,
    *,
    mode: str,
    budget: float,
    sample_key: PRNGKey | None = None,
) -> np.ndarray:
    """Final condensed selection from s.

    Args:
      probs: [N] final probabilities.
      mode: "topk" (deterministic: the round(budget) candidates with the largest s,
        ties by index) or "sample" (one Bernoulli draw from s, as the official code
        draws its final sets).
      budget: the pool budget (number of candidates for "topk").
      sample_key: key for "sample".

    Returns:
      [N] bool selection.
    """
    probs = np.asarray(probs)
    if mode == "topk":
        k = int(round(min(budget, len(probs))))
        order = np.argsort(-probs, kind="stable")[:k]
        out = np.zeros(len(probs), bool)
        out[order] = True
        return out
    if mode == "sample":
        if sample_key is None:
            raise ValueError("mode='sample' needs sample_key")
        return np.asarray(jax.random.bernoulli(sample_key, jnp.asarray(probs)))
    raise ValueError(f"unknown final mode {mode!r}; valid: sample, topk")
