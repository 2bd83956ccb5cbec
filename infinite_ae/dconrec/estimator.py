"""REINFORCE (score-function) gradient of E_{m ~ Bern(s)}[L(m)] w.r.t. s.

For independent Bernoulli masks d log p(m | s) / ds_c = (m_c - s_c) / (s_c (1 - s_c)),
and grad_s E[L(m)] = E[L(m) grad_s log p(m | s)] (the score-function identity; no
gradient flows through the inner training). With K masks m^k and losses L_k:

  plain:  g = (1/K) sum_k L_k (m^k - s) / (s (1 - s))
  VR:     g = (1/(K-1)) sum_k (L_k - mean_j L_j) (m^k - s) / (s (1 - s))

Both are unbiased (the VR form is the leave-in mean baseline with the K/(K-1)
correction). s is clipped to [eps, 1 - eps] in the denominator only, because after the
projection some s are exactly 0 or 1 (then m_c = s_c almost surely and the numerator
is 0).
"""

from __future__ import annotations

import jax.numpy as jnp

from infinite_ae.types import Array, ArrayLike


def reinforce_gradient(
    probs: ArrayLike,
    masks: ArrayLike,
    losses: ArrayLike,
    *,
    baseline: bool = True,
    eps: float = 1e-6,
) -> Array:
    """Score-function estimate of the gradient of E[L(m)] w.r.t. the probabilities.

    Args:
      probs: [N] Bernoulli probabilities s.
      masks: [K, N] sampled masks in {0, 1}.
      losses: [K] loss of each mask.
      baseline: subtract the mean loss and divide by K - 1 (needs K >= 2).
      eps: clip of s in the denominator.

    Returns:
      [N] gradient estimate.

    >>> import jax.numpy as jnp
    >>> g = reinforce_gradient(jnp.array([0.5]), jnp.array([[1.0], [0.0]]),
    ...                        jnp.array([3.0, 1.0]), baseline=False)
    >>> float(g[0])
    2.0
    """
    probs = jnp.asarray(probs, jnp.float32)
    masks = jnp.asarray(masks, jnp.float32)
    losses = jnp.asarray(losses, jnp.float32)
    num_masks = masks.shape[0]
    if masks.shape[1:] != probs.shape or losses.shape != (num_masks,):
        raise ValueError(
            f"probs {probs.shape}, masks {masks.shape}, losses {losses.shape}"
        )
    clipped = jnp.clip(probs, eps, 1.0 - eps)
    score = (masks - probs[None, :]) / (clipped * (1.0 - clipped))[None, :]
    if baseline:
        if num_masks < 2:
            raise ValueError("the mean baseline needs at least 2 masks")
        centred = losses - jnp.mean(losses)
        return jnp.sum(centred[:, None] * score, axis=0) / (num_masks - 1)
    return jnp.mean(losses[:, None] * score, axis=0)
