"""The loss-to-instance mixture: one negative per row from every candidate sampler.

AutoSample-style, reconstructed from the abstract. With S candidate samplers, row
(u, i) of a batch gets negatives j_1 .. j_S (common random numbers: the same
positives, independent draws per sampler) and the training loss is

  L_train(theta, a) = sum_s alpha_s(a) l_s(theta),  alpha = softmax(a / T),

with l_s the model's batch BPR loss on sampler s's negatives. In expectation this
is training with the mixture sampler sum_s alpha_s q_s, and it is differentiable in
a. With one-hot alpha it is exactly the single sampler's loss.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp

from infinite_ae.trainers import negatives as negatives_lib
from infinite_ae.types import Array, ArrayLike, PRNGKey, PyTree

_NEEDS_ORDER = ("ids", "scores", "layers")


def mixture_weights(logits: ArrayLike, temperature: ArrayLike = 1.0) -> Array:
    """alpha = softmax(logits / temperature) over the S samplers.

    >>> mixture_weights(jnp.zeros(4)).tolist()
    [0.25, 0.25, 0.25, 0.25]
    """
    return jax.nn.softmax(jnp.asarray(logits) / temperature)


def _widest(samplers: Sequence) -> object:
    """The sampler whose `needs` covers every other's (ids < scores < layers)."""
    return max(samplers, key=lambda s: _NEEDS_ORDER.index(s.needs))


def draw_negatives(
    key: PRNGKey,
    model,
    samplers: Sequence,
    states: Sequence[PyTree],
    params: PyTree,
    graph,
    users: Array,
    pos_items: Array,
    weights: Array,
    excluded_keys: Array,
) -> tuple[tuple, tuple]:
    """One negative per row from each sampler, the model evaluated once for all.

    Args:
      key: key of the batch; sampler s draws with `fold_in(key, s)`.
      model: a trainers model.
      samplers: S negative samplers (`trainers.negatives`).
      states: their states.
      params, graph: the current model (read without gradient).
      users, pos_items, weights: [B] batch rows.
      excluded_keys: [N'] sorted flat keys the negatives avoid.

    Returns:
      (S negatives ([B] items or `MixedNegatives`), S new states).
    """
    inputs = negatives_lib.sampler_inputs(
        model,
        _widest(samplers),
        params,
        graph,
        users,
        pos_items,
        weights,
        excluded_keys,
    )
    draws = [
        sampler.sample(jax.random.fold_in(key, s), inputs, state)
        for s, (sampler, state) in enumerate(zip(samplers, states, strict=True))
    ]
    return tuple(d[0] for d in draws), tuple(d[1] for d in draws)


def sampler_losses(
    model,
    params: PyTree,
    graph,
    users: Array,
    pos_items: Array,
    negatives: Sequence,
    weights: Array,
) -> Array:
    """[S] batch losses l_s(theta), one per sampler's negatives, on one forward pass.

    Args:
      model: a trainers model (`forward`, `pair_loss`).
      params: model parameters.
      graph: the model's graph.
      users, pos_items, weights: [B] batch rows.
      negatives: S negatives from `draw_negatives`.
    """
    forward = model.forward(params, graph)
    return jnp.stack(
        [
            model.pair_loss(params, forward, users, pos_items, neg, weights)[0]
            for neg in negatives
        ]
    )
