"""The validation objective and the first-order hypergradient of the sampler weights.

AutoSample-style, reconstructed from the abstract. Minimising L_train over the
weights is degenerate (easy negatives give the lowest loss, so all weight goes to
the easiest sampler); the weights follow a sampler-independent validation objective
through a one-step unroll (DARTS):

  theta'(alpha) = theta - xi sum_s alpha_s g_s,   g_s = grad_theta l_s(theta).

L_train is linear in alpha, so g_s does not depend on alpha and

  d L_val(theta'(alpha)) / d alpha_s = -xi <grad L_val(theta'), g_s>,

with no Hessian-vector product: S per-sampler gradients (one VJP each on a shared
forward pass) and one validation gradient.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp

from infinite_ae.autosample import mixture
from infinite_ae.trainers import negatives as negatives_lib
from infinite_ae.types import Array, PyTree

VAL_OBJECTIVES = ("softmax", "top_bpr")


def validation_loss(
    model,
    params: PyTree,
    graph,
    users: Array,
    items: Array,
    weights: Array,
    *,
    objective: str = "softmax",
    excluded_keys: Array | None = None,
    top_k: int = 20,
) -> Array:
    """A sampler-independent loss of validation positives over all items.

    "softmax": full-softmax cross-entropy, per row logsumexp_j s_uj - s_ui (the
    whole catalogue's likelihood). "top_bpr": top-heavy, as the ranking metrics:
    mean_j softplus(s_uj - s_ui) over the `top_k` items the model currently ranks
    highest (chosen without gradient), the target and `excluded_keys` (the user's
    training items, masked at evaluation) left out. Rows are averaged with
    `weights`.

    Args:
      model: a trainers model (`embed`).
      params, graph: the model.
      users, items: [Bv] validation rows (user, held-out item).
      weights: [Bv] float32 row weights.
      objective: "softmax" or "top_bpr" (static).
      excluded_keys: [N'] sorted flat keys never counted as competitors
        ("top_bpr").
      top_k: static number of competitors ("top_bpr").
    """
    if objective not in VAL_OBJECTIVES:
        raise ValueError(f"objective must be one of {VAL_OBJECTIVES}")
    user_emb, item_emb = model.embed(params, graph)
    logits = jnp.matmul(user_emb[users], item_emb.T, precision="highest")
    target = jnp.take_along_axis(logits, items[:, None], axis=1)[:, 0]
    if objective == "softmax":
        per_row = jax.nn.logsumexp(logits, axis=1) - target
    else:
        num_items = logits.shape[1]
        candidates = jnp.arange(num_items)[None, :]
        masked = candidates == items[:, None]
        if excluded_keys is not None:
            masked = masked | negatives_lib.is_excluded(
                excluded_keys,
                jnp.broadcast_to(users[:, None], logits.shape),
                jnp.broadcast_to(candidates, logits.shape),
                num_items,
            )
        ranking = jnp.where(masked, -jnp.inf, jax.lax.stop_gradient(logits))
        _, top = jax.lax.top_k(ranking, top_k)
        rivals = jnp.take_along_axis(logits, top, axis=1)
        per_row = jnp.mean(jax.nn.softplus(rivals - target[:, None]), axis=1)
    return jnp.sum(weights * per_row) / jnp.maximum(jnp.sum(weights), 1.0)


def sampler_gradients(
    model,
    params: PyTree,
    graph,
    users: Array,
    pos_items: Array,
    negatives: Sequence,
    weights: Array,
) -> tuple[Array, PyTree]:
    """([S] losses l_s, gradients g_s stacked on a leading S axis of each leaf)."""
    losses, vjp = jax.vjp(
        lambda p: mixture.sampler_losses(
            model, p, graph, users, pos_items, negatives, weights
        ),
        params,
    )
    (grads,) = jax.vmap(vjp)(jnp.eye(losses.shape[0], dtype=losses.dtype))
    return losses, grads


def combine(alpha: Array, grads: PyTree) -> PyTree:
    """sum_s alpha_s g_s for gradients stacked on a leading S axis."""
    return jax.tree.map(lambda g: jnp.tensordot(alpha, g, axes=1), grads)


def hypergradient(
    model,
    params: PyTree,
    graph,
    grads: PyTree,
    alpha: Array,
    xi,
    val_users: Array,
    val_items: Array,
    val_weights: Array,
) -> tuple[Array, Array]:
    """d L_val(theta - xi sum_s alpha_s g_s) / d alpha, first order (exact here).

    Args:
      model, params, graph: the model at theta.
      grads: g_s from `sampler_gradients` (leading S axis).
      alpha: [S] sampler weights.
      xi: unroll step size (traced).
      val_users, val_items, val_weights: [Bv] validation rows.

    Returns:
      ([S] hypergradient, [] L_val(theta')).
    """
    return hypergradient_of(
        lambda p: validation_loss(model, p, graph, val_users, val_items, val_weights),
        params,
        grads,
        alpha,
        xi,
    )


def hypergradient_of(
    val_loss_fn, params: PyTree, grads: PyTree, alpha: Array, xi
) -> tuple[Array, Array]:
    """`hypergradient` for any validation loss `val_loss_fn(params) -> []`."""
    unrolled = jax.tree.map(lambda p, g: p - xi * g, params, combine(alpha, grads))
    val_loss, val_grad = jax.value_and_grad(val_loss_fn)(unrolled)
    dots = jax.tree.map(
        lambda v, g: jnp.sum(g * v[None], axis=tuple(range(1, g.ndim))),
        val_grad,
        grads,
    )
    return -xi * sum(jax.tree.leaves(dots)), val_loss
