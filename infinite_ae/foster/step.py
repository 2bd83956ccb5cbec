"""FOSTER's first-order distillation step, the anchor reset, and the unrolled
second-order step it replaces (kept for the efficiency comparison only).

FOSTER-style, reconstructed from the abstract (a penalty / value-function method):
two copies of the model, theta (good on real data and near-optimal on the
synthetic data) and theta' (approximately argmin L_syn(., Z)), and the objective

  F(Z, theta, theta') = L_real(theta) + lam [L_syn(theta, Z) - L_syn(theta', Z)]
                        + beta R_co(Z).

One step, on the step's item subset S (`subset.sample_subset`):
  1. theta' <- theta' - Adam(grad L_syn(theta', Z)), `inner_steps` times;
  2. theta  <- theta - Adam(grad [L_real(theta) + lam L_syn(theta, Z)]);
  3. Z <- Z - Adam(lam grad_Z max(0, L_syn(theta, Z) - L_syn(theta', Z))
                   + beta grad_Z R_co(Z)), only on the subset's columns;
  4. theta' <- theta when theta fits the synthetic data better.
Steps 3-4 keep the penalty a value-function gap: v(Z) = min L_syn(., Z) is
estimated by the better of the two copies, so the gap is never negative. A theta'
that fits Z worse than theta (a few inner steps against theta's, which also
learns from real data) would otherwise flip the penalty's sign and push Z away
from what a model can learn from it. Only first-order gradients: no unrolling, no
Hessian-vector products. Right after a reset theta = theta' and the penalty's
Z-gradient is exactly zero until steps 1-2 separate them. `reset` (every R
steps) puts both copies back on an expert checkpoint (a trajectory anchor) with
fresh optimiser states.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from infinite_ae.foster import objective, synthetic
from infinite_ae.foster import subset as subset_lib
from infinite_ae.types import Array, PRNGKey, PyTree


class Hyper(NamedTuple):
    """Continuous hyper-parameters, traced (one compilation for all values)."""

    lam: Array  # penalty weight lambda
    beta: Array  # co-occurrence weight
    temperature: Array  # T of p = softmax(Z / T)
    lr_theta: Array
    lr_prime: Array
    lr_logits: Array

    @classmethod
    def make(cls, **values) -> Hyper:
        return cls(**{k: jnp.asarray(v, jnp.float32) for k, v in values.items()})


class FosterState(NamedTuple):
    logits: synthetic.Logits  # Z: dense [M, L, I] or Factorised
    logits_opt: PyTree
    theta: PyTree
    theta_opt: PyTree
    prime: PyTree  # theta'
    prime_opt: PyTree
    step: Array  # [] int32


def adam() -> optax.GradientTransformation:
    return optax.inject_hyperparams(optax.adam)(learning_rate=1e-3)


def _with_lr(opt_state, lr):
    opt_state.hyperparams["learning_rate"] = lr
    return opt_state


def frozen_names(model) -> tuple[str, ...]:
    """The model's top-level parameters that never train (its cached text)."""
    return tuple(getattr(model, "frozen_params", ()))


def split(params: PyTree, names: tuple[str, ...]) -> tuple[PyTree, PyTree]:
    """(trainable, frozen) top-level parameter dicts of a flax ``params``."""
    inner = params["params"]
    trainable = {k: v for k, v in inner.items() if k not in names}
    return trainable, {k: v for k, v in inner.items() if k in names}


def merge(params: PyTree, trainable: PyTree, frozen: PyTree) -> PyTree:
    return {**params, "params": {**trainable, **frozen}}


def init_state(logits: synthetic.Logits, anchor: PyTree, *, model) -> FosterState:
    """Z and both model copies on `anchor`, fresh Adam states (over the model's
    trainable parameters only: its frozen text gets no optimiser moments)."""
    opt = adam()
    trainable, _ = split(anchor, frozen_names(model))
    return FosterState(
        logits=logits,
        logits_opt=opt.init(logits),
        theta=anchor,
        theta_opt=opt.init(trainable),
        prime=anchor,
        prime_opt=opt.init(trainable),
        step=jnp.zeros((), jnp.int32),
    )


def reset(state: FosterState, anchor: PyTree, *, model) -> FosterState:
    """theta and theta' back on `anchor` (exactly), with fresh optimiser states;
    Z and its optimiser are kept."""
    opt = adam()
    trainable, _ = split(anchor, frozen_names(model))
    return state._replace(
        theta=jax.tree.map(jnp.copy, anchor),
        theta_opt=opt.init(trainable),
        prime=jax.tree.map(jnp.copy, anchor),
        prime_opt=opt.init(trainable),
    )


def step_subset(
    key: PRNGKey,
    logits: synthetic.Logits,
    inputs: Array,
    targets: Array,
    size: int,
    top_c: int,
) -> tuple[Array, Array]:
    """The step's subset: the real batch's items, the synthetic positions' top-c
    items, then random ones (`subset.sample_subset`); and whether it holds every
    real batch item (`subset.covers`). (The top-c search materialises a
    factorised Z's [M, L, I] logits for the moment it takes.)"""
    required = jnp.concatenate([inputs.ravel() - 1, targets.ravel() - 1])
    preferred = (
        jax.lax.top_k(synthetic.dense(logits), top_c)[1].ravel()
        if top_c
        else required[:0]
    )
    chosen = subset_lib.sample_subset(key, size, logits.shape[-1], required, preferred)
    return chosen, subset_lib.covers(chosen, required)


def update_columns(
    logits: synthetic.Logits, updates: synthetic.Logits, subset: Array
) -> synthetic.Logits:
    """Z plus the optimiser's update on the subset's columns only (a factorised
    Z: all of A, and the subset's rows of B)."""
    chosen = jnp.zeros(logits.shape[-1], bool).at[subset].set(True)
    if isinstance(logits, synthetic.Factorised):
        return synthetic.Factorised(
            logits.rows + updates.rows,
            logits.items + jnp.where(chosen[:, None], updates.items, 0.0),
        )
    return logits + jnp.where(chosen, updates, 0.0)


def _adam_update(opt, grads, opt_state, params, lr):
    updates, opt_state = opt.update(grads, _with_lr(opt_state, lr), params)
    return optax.apply_updates(params, updates), opt_state


def foster_step(
    state: FosterState,
    key: PRNGKey,
    inputs: Array,
    targets: Array,
    weights: Array,
    neighbours: Array,
    sims: Array,
    hyper: Hyper,
    *,
    model,
    subset_size: int,
    top_c: int = 1,
    inner_steps: int = 1,
    pairs: str = "all",
) -> tuple[FosterState, dict[str, Array]]:
    """One first-order FOSTER step (module docstring) on a real batch.

    Args:
      state: `FosterState`.
      key: the step's key (the subset's randomness).
      inputs, targets: [B, L] int32 real windows (item + 1); weights: [B].
      neighbours, sims: [I, kappa] text neighbours (`objective.text_neighbours`).
      hyper: `Hyper` (traced).
      model, subset_size, top_c, inner_steps, pairs: static.

    Returns:
      (new state, {"real": L_real before the theta update, "syn", "syn_prime",
      "penalty", "cooc": at the Z update, "covered": whether the subset held every
      real batch item; a step without it is invalid and the caller must refuse
      it (raise the subset size)}).
    """
    opt = adam()
    subset, covered = step_subset(
        key, state.logits, inputs, targets, subset_size, top_c
    )
    syn = functools.partial(objective.synthetic_loss, model, subset=subset)
    # Only the trainable parameters are differentiated and updated; the frozen
    # ones (cached text) ride along unchanged.
    names = frozen_names(model)
    prime_start, prime_frozen = split(state.prime, names)
    theta_start, theta_frozen = split(state.theta, names)

    def prime_step(_, carry):
        prime, prime_opt = carry
        grads = jax.grad(
            lambda p: syn(
                merge(state.prime, p, prime_frozen),
                state.logits,
                temperature=hyper.temperature,
            )
        )(prime)
        return _adam_update(opt, grads, prime_opt, prime, hyper.lr_prime)

    prime, prime_opt = jax.lax.fori_loop(
        0, inner_steps, prime_step, (prime_start, state.prime_opt)
    )
    prime = merge(state.prime, prime, prime_frozen)

    def theta_loss(trainable):
        theta = merge(state.theta, trainable, theta_frozen)
        real = objective.real_loss(model, theta, subset, inputs, targets, weights)
        at = syn(theta, state.logits, temperature=hyper.temperature)
        return real + hyper.lam * at, real

    (_, real), theta_grads = jax.value_and_grad(theta_loss, has_aux=True)(theta_start)
    theta, theta_opt = _adam_update(
        opt, theta_grads, state.theta_opt, theta_start, hyper.lr_theta
    )
    theta = merge(state.theta, theta, theta_frozen)
    similarity = objective.subset_similarity(neighbours, sims, subset)

    def z_loss(logits):
        at_theta = syn(theta, logits, temperature=hyper.temperature)
        at_prime = syn(prime, logits, temperature=hyper.temperature)
        p = synthetic.soft_sequences(
            synthetic.columns(logits, subset), hyper.temperature
        )
        cooc = objective.cooccurrence(p, similarity, pairs)
        gap = jnp.maximum(at_theta - at_prime, 0.0)  # v(Z) <= both copies' losses
        total = hyper.lam * gap + hyper.beta * cooc
        return total, (at_theta, at_prime, cooc)

    (_, (at_theta, at_prime, cooc)), z_grads = jax.value_and_grad(z_loss, has_aux=True)(
        state.logits
    )
    updates, logits_opt = opt.update(
        z_grads, _with_lr(state.logits_opt, hyper.lr_logits), state.logits
    )
    logits = update_columns(state.logits, updates, subset)
    prime = jax.tree.map(
        lambda t, p: jnp.where(at_theta < at_prime, t, p), theta, prime
    )
    new = FosterState(
        logits, logits_opt, theta, theta_opt, prime, prime_opt, state.step + 1
    )
    return new, {
        "real": real,
        "syn": at_theta,
        "syn_prime": at_prime,
        "penalty": jnp.maximum(at_theta - at_prime, 0.0),
        "cooc": cooc,
        "covered": covered,
    }


def unrolled_step(
    logits: synthetic.Logits,
    logits_opt: PyTree,
    anchor: PyTree,
    key: PRNGKey,
    inputs: Array,
    targets: Array,
    weights: Array,
    hyper: Hyper,
    *,
    model,
    subset_size: int,
    unroll: int,
    top_c: int = 1,
) -> tuple[Array, PyTree, Array]:
    """The second-order (bi-level, unrolled) step FOSTER avoids, on the same subset:
    `unroll` SGD steps of the model on L_syn(., Z) from `anchor`, then the real
    loss of the result, differentiated in Z through the whole unroll (Hessian-
    vector products). For the efficiency comparison only.

    Returns:
      (new logits, new logits optimiser state, the outer real loss).
    """
    opt = adam()
    subset, _ = step_subset(key, logits, inputs, targets, subset_size, top_c)
    # The model's frozen parameters (its cached text) stay out of the scan's carry,
    # so the unroll neither updates nor stores a copy of them per inner step.
    start, frozen = split(anchor, frozen_names(model))

    def full(trainable):
        return merge(anchor, trainable, frozen)

    def outer(z):
        def inner(trainable, _):
            grads = jax.grad(
                lambda t: objective.synthetic_loss(
                    model, full(t), z, subset, hyper.temperature
                )
            )(trainable)
            trainable = jax.tree.map(
                lambda p, g: p - hyper.lr_theta * g, trainable, grads
            )
            return trainable, None

        trainable, _ = jax.lax.scan(inner, start, None, length=unroll)
        return objective.real_loss(
            model, full(trainable), subset, inputs, targets, weights
        )

    loss, grads = jax.value_and_grad(outer)(logits)
    updates, logits_opt = opt.update(
        grads, _with_lr(logits_opt, hyper.lr_logits), logits
    )
    return update_columns(logits, updates, subset), logits_opt, loss
