"""Gumbel-softmax and the memory-light multi-draw sum used by Distill-CF.

Distill-CF (Sachdeva et al., NeurIPS 2022, §4) turns learned logits [S, I] into a
synthetic user-item matrix by summing γ Gumbel-softmax draws per synthetic user and
clipping at 1:

    X̂ = min(Σ_{j=1..γ} softmax((logits + g_j) / τ), 1),    g_j ~ Gumbel(0, 1) i.i.d.

Storing every draw for the backward pass costs γ·S·I floats (1.5 GB for ML-1M at
γ = 200, S = 500). `sum_gumbel_softmax` is a `lax.scan` wrapped in a `jax.custom_vjp`
that keeps nothing per draw: the backward pass regenerates each g_j from its key and
accumulates the VJP of one draw, ``(1/τ) · s ⊙ (ḡ − ⟨ḡ, s⟩)`` (row-wise inner product).

Keys: draw j uses ``fold_in(key, j)``, so the γ draws are distinct (the original code
uses its first key twice, so only γ − 1 of its draws differ; quirk 16 in
docs/original_code.md). The noise comes from ``jax.random.gumbel`` with the PRNG
implementation of the key passed in (threefry by default; ``rbg`` keys also work).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax import lax

from infinite_ae.types import ArrayLike, PRNGKey


def gumbel_softmax(
    key: PRNGKey, logits: ArrayLike, *, temperature: ArrayLike
) -> jax.Array:
    """One Gumbel-softmax draw per row: ``softmax((logits + g) / τ)`` over items.

    Args:
      key: PRNG key of the Gumbel noise g.
      logits: [S, I] unnormalised log-probabilities.
      temperature: τ > 0, scalar (may be traced).

    Returns:
      [S, I] rows on the probability simplex, dtype of ``logits`` (at least float32).

    >>> s = gumbel_softmax(jax.random.key(0), jnp.zeros((2, 3)), temperature=1.0)
    >>> s.shape, bool(jnp.allclose(s.sum(-1), 1.0))
    ((2, 3), True)
    """
    logits = _as_float(logits)
    noise = jax.random.gumbel(key, logits.shape, logits.dtype)
    return jax.nn.softmax((logits + noise) / temperature, axis=-1)


def _as_float(x: ArrayLike) -> jax.Array:
    x = jnp.asarray(x)
    return x.astype(jnp.result_type(x.dtype, jnp.float32))


def _draw(key, logits, temperature, j):
    """Draw j: the noisy scaled logits z and s = softmax(z)."""
    noise = jax.random.gumbel(jax.random.fold_in(key, j), logits.shape, logits.dtype)
    shifted = logits + noise
    return shifted, jax.nn.softmax(shifted / temperature, axis=-1)


def _sum_forward(num_draws, key, logits, temperature):
    def body(total, j):
        _, s = _draw(key, logits, temperature, j)
        return total + s, None

    total, _ = lax.scan(body, jnp.zeros_like(logits), jnp.arange(num_draws))
    return total


@functools.partial(jax.custom_vjp, nondiff_argnums=(0,))
def _sum_draws(num_draws, key, logits, temperature):
    return _sum_forward(num_draws, key, logits, temperature)


def _sum_draws_fwd(num_draws, key, logits, temperature):
    return _sum_forward(num_draws, key, logits, temperature), (key, logits, temperature)


def _sum_draws_bwd(num_draws, residuals, cotangent):
    key, logits, temperature = residuals
    inv_t = 1.0 / temperature

    def body(carry, j):
        grad_logits, grad_temperature = carry
        shifted, s = _draw(key, logits, temperature, j)
        # VJP of softmax(z): s ⊙ (ḡ − ⟨ḡ, s⟩); z = (logits + g)/τ.
        inner = jnp.sum(cotangent * s, axis=-1, keepdims=True)
        grad_z = s * (cotangent - inner)
        # ∂z/∂τ = −z/τ = −(logits + g)/τ².
        grad_temperature = grad_temperature - jnp.sum(grad_z * shifted) * inv_t * inv_t
        return (grad_logits + grad_z, grad_temperature), None

    init = (jnp.zeros_like(logits), jnp.zeros((), logits.dtype))
    (grad_z_sum, grad_temperature), _ = lax.scan(body, init, jnp.arange(num_draws))
    grad_temperature = grad_temperature.astype(jnp.result_type(temperature))
    return (
        None,
        grad_z_sum * inv_t,
        jnp.reshape(grad_temperature, jnp.shape(temperature)),
    )


_sum_draws.defvjp(_sum_draws_fwd, _sum_draws_bwd)


def sum_gumbel_softmax(
    key: PRNGKey,
    logits: ArrayLike,
    *,
    temperature: ArrayLike,
    num_draws: int,
) -> jax.Array:
    """Σ_{j<num_draws} softmax((logits + g_j)/τ) with an O(S·I)-memory custom VJP.

    Draw j uses the key ``fold_in(key, j)``. The gradient (w.r.t. ``logits`` and
    ``temperature``) is exact: the backward pass regenerates each draw from its key
    instead of storing it.

    Args:
      key: PRNG key of this sample.
      logits: [S, I] unnormalised log-probabilities.
      temperature: τ > 0, scalar (traced; differentiable).
      num_draws: γ, static number of draws summed.

    Returns:
      [S, I] sum of the draws; every row sums to ``num_draws``.

    >>> x = sum_gumbel_softmax(jax.random.key(0), jnp.zeros((2, 5)),
    ...                        temperature=0.5, num_draws=3)
    >>> [round(float(r), 4) for r in x.sum(-1)]
    [3.0, 3.0]
    """
    logits = _as_float(logits)
    if logits.ndim != 2:
        raise ValueError(f"logits must be [S, I], got shape {logits.shape}")
    if int(num_draws) != num_draws or num_draws < 1:
        raise ValueError(f"num_draws must be a positive integer, got {num_draws!r}")
    temperature = jnp.asarray(temperature, logits.dtype)
    return _sum_draws(int(num_draws), key, logits, temperature)


def sum_gumbel_softmax_reference(
    key: PRNGKey, logits: ArrayLike, *, temperature: ArrayLike, num_draws: int
) -> jax.Array:
    """Same value as `sum_gumbel_softmax`, as a plain unrolled loop (test oracle).

    Plain autodiff through it stores every draw; use it only on small inputs.
    """
    logits = _as_float(logits)
    temperature = jnp.asarray(temperature, logits.dtype)
    total = jnp.zeros_like(logits)
    for j in range(num_draws):
        total = total + _draw(key, logits, temperature, j)[1]
    return total


def sample_synthetic_users(
    key: PRNGKey,
    logits: ArrayLike,
    *,
    temperature: ArrayLike,
    num_samples: int,
    num_draws: int | None = None,
) -> jax.Array:
    """Distill-CF's synthetic users: ``min(Σ_{j<γ} softmax((logits + g_j)/τ), 1)``.

    With ``num_draws = d < γ = num_samples`` the γ-draw sum is estimated by
    ``(γ/d) · Σ_{j<d} s_j``, an unbiased estimate of the sum before clipping with the
    same row mass γ (each entry's variance grows by γ/d). At high temperature the
    draws are nearly deterministic (τ = 10: relative spread of one draw's entries about
    13 %), so a few draws give almost the same sample at a fraction of the cost. At low
    temperature draws are near one-hot and the estimate changes the sample's support
    (at most d distinct items per user instead of γ): keep d = γ there.

    The clip's derivative is the hard-tanh one: zero where the sum is ≥ 1.

    Args:
      key: PRNG key of this sample.
      logits: [S, I] unnormalised log-probabilities.
      temperature: τ > 0 (traced).
      num_samples: γ, the number of Gumbel-softmax draws per synthetic user (static).
      num_draws: draws actually computed (static, default γ).

    Returns:
      [S, I] synthetic interaction matrix with entries in [0, 1].

    >>> x = sample_synthetic_users(jax.random.key(0), jnp.zeros((2, 4)),
    ...                            temperature=1.0, num_samples=8)
    >>> float(x.max())  # 8 draws over 4 items saturate
    1.0
    """
    num_draws = num_samples if num_draws is None else num_draws
    if num_draws > num_samples:
        raise ValueError(f"num_draws={num_draws} exceeds num_samples={num_samples}")
    total = sum_gumbel_softmax(
        key, logits, temperature=temperature, num_draws=num_draws
    )
    if num_draws != num_samples:
        total = total * (num_samples / num_draws)
    return jnp.where(total >= 1.0, jnp.ones_like(total), total)
