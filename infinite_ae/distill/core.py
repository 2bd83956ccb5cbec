"""Distill-CF's outer step: sample synthetic users, fit ∞-AE on them, score the real.

Sachdeva et al., NeurIPS 2022, §4. The summary is a matrix of logits
[S, I]. One step:

1. X̂ = min(Σ_{j<γ} softmax((logits + g_j)/τ), 1)                      (`sampling`)
2. P = K(X_b, X̂) (K(X̂) + λ·tr K(X̂)/S · I)⁻¹ X̂    for a batch X_b of real users
3. L = Σ_b w_b CE(X_b, softmax(P_b)) / Σ_b w_b + c · mean_s Σ_i X̂_si / d̄

with CE(x, p) = −Σ_i x_i log p_i (Mult-VAE's multinomial likelihood; the original calls
it ``bce_loss``) and d̄ the mean real train degree (the original's normaliser). The
weights w_b mask the padding of a fixed-size user batch.

Everything here is pure and does not jit itself. Static: `DistillSpec` (integers that
change shapes, the inner learner). Traced: `DistillHParams` (τ, λ, c, d̄) and the
learning rate inside the optax state (``optax.inject_hyperparams``), so sweeping any of
them compiles once.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple, Protocol

import jax
import jax.numpy as jnp
import optax

from infinite_ae import kernels, sampling, solver
from infinite_ae.types import ArrayLike, PRNGKey


class InnerLearner(Protocol):
    """A model fitted in closed form on a (synthetic) support, predicting query rows."""

    def fit_predict(
        self, support: jax.Array, queries: jax.Array, reg: jax.Array
    ) -> jax.Array:
        """support [S, I], queries [B, I], traced reg -> predictions [B, I]."""
        ...


@dataclasses.dataclass(frozen=True)
class KernelRidgeLearner:
    """∞-AE: kernel ridge regression over users with any `kernels.KernelSpec`.

    The fit and the scores are `infinite_ae.solver`'s (ridge convention there:
    relative to the mean diagonal of K unless ``absolute_reg``).

    Attributes:
      spec: the kernel (NTK of any depth, NNGP or linear).
      absolute_reg: treat reg as an absolute ridge.
    """

    spec: kernels.KernelSpec = kernels.KernelSpec()
    absolute_reg: bool = False

    def fit(self, support: jax.Array, reg: ArrayLike) -> tuple[jax.Array, jax.Array]:
        """Cholesky factor of the regularised support kernel and α = (K + ridge)⁻¹ X̂.

        Args:
          support: [S, I] support rows.
          reg: scalar ridge (relative unless ``absolute_reg``).

        Returns:
          (chol [S, S] lower factor, alpha [S, I]).
        """
        return self.fit_from_kernel(kernels.kernel(self.spec, support), support, reg)

    def fit_from_kernel(
        self, k_ss: jax.Array, support: jax.Array, reg: ArrayLike
    ) -> tuple[jax.Array, jax.Array]:
        """`fit` given the support kernel ``k_ss`` [S, S] (reused across a λ sweep)."""
        fit = solver.fit_krr(k_ss, support, reg, absolute_reg=self.absolute_reg)
        return fit.chol, fit.alpha

    def predict(
        self, support: jax.Array, alpha: jax.Array, queries: jax.Array
    ) -> jax.Array:
        """[B, I] scores K(queries, support) · α."""
        model = solver.KRRModel(support, alpha)
        return solver.kernel_ridge_scores(self.spec, model, queries)

    def fit_predict(
        self, support: jax.Array, queries: jax.Array, reg: ArrayLike
    ) -> jax.Array:
        """Fits on ``support`` [S, I] and predicts ``queries`` [B, I] -> [B, I]."""
        _, alpha = self.fit(support, reg)
        return self.predict(support, alpha, queries)


@dataclasses.dataclass(frozen=True)
class DistillSpec:
    """Static (shape-changing or structural) Distill-CF settings; hashable.

    Attributes:
      num_samples: γ, Gumbel-softmax draws summed per synthetic user.
      num_draws: draws actually computed (≤ γ; the sum is rescaled by γ/num_draws,
        see `sampling.sample_synthetic_users`). None means γ.
      learner: the inner model fitted on the synthetic users.
    """

    num_samples: int = 200
    num_draws: int | None = None
    learner: InnerLearner = KernelRidgeLearner()


class DistillHParams(NamedTuple):
    """Continuous (traced) Distill-CF hyper-parameters, all scalar arrays.

    Attributes:
      temperature: Gumbel-softmax τ.
      reg: ridge λ of the inner learner (relative unless the learner says otherwise).
      cardinality_reg: c, weight of the cardinality term.
      mean_degree: d̄, mean train degree of the real users (normalises the term).
    """

    temperature: jax.Array
    reg: jax.Array
    cardinality_reg: jax.Array
    mean_degree: jax.Array


def make_hparams(
    *, temperature: float, reg: float, cardinality_reg: float, mean_degree: float
) -> DistillHParams:
    """`DistillHParams` as float32 scalar arrays (so new values never retrace)."""
    f = lambda v: jnp.asarray(v, jnp.float32)
    return DistillHParams(f(temperature), f(reg), f(cardinality_reg), f(mean_degree))


class DistillState(NamedTuple):
    """Optimiser state of the summary.

    Attributes:
      logits: [S, I] float32 unnormalised synthetic user-item scores.
      opt_state: optax state (learning rate inside, via ``inject_hyperparams``).
      step: [] int32 number of updates applied.
    """

    logits: jax.Array
    opt_state: optax.OptState
    step: jax.Array


def make_optimizer(
    learning_rate: float = 0.04,
    *,
    decay_steps: int = 0,
    final_fraction: float = 0.0,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
) -> optax.GradientTransformation:
    """Adam (the original's optimiser) with a traced learning rate.

    The current rate lives in ``opt_state.hyperparams["learning_rate"]``. With
    ``decay_steps = 0`` it is constant (the original) and can be changed there without
    recompiling; with ``decay_steps > 0`` it follows a cosine decay from
    ``learning_rate`` to ``final_fraction · learning_rate`` over ``decay_steps``
    updates (computed in-graph from Adam's step count, so resumed runs match).
    """
    rate = learning_rate
    if decay_steps > 0:
        rate = optax.cosine_decay_schedule(
            learning_rate, decay_steps, alpha=final_fraction
        )
    return optax.inject_hyperparams(optax.adam)(
        learning_rate=rate, b1=b1, b2=b2, eps=eps
    )


def init_state(
    logits: ArrayLike, optimizer: optax.GradientTransformation
) -> DistillState:
    """Fresh state for initial ``logits`` [S, I]."""
    logits = jnp.asarray(logits, jnp.float32)
    if logits.ndim != 2:
        raise ValueError(f"logits must be [S, I], got shape {logits.shape}")
    return DistillState(logits, optimizer.init(logits), jnp.zeros((), jnp.int32))


def sample_support(
    key: PRNGKey, logits: ArrayLike, *, spec: DistillSpec, temperature: ArrayLike
) -> jax.Array:
    """[S, I] synthetic users in [0, 1] from ``logits`` (see `sampling`)."""
    return sampling.sample_synthetic_users(
        key,
        logits,
        temperature=temperature,
        num_samples=spec.num_samples,
        num_draws=spec.num_draws,
    )


def reconstruction_loss(
    predictions: jax.Array, targets: jax.Array, weights: jax.Array
) -> jax.Array:
    """Weighted mean over users of −Σ_i x_ui log softmax(p_u)_i.

    Args:
      predictions: [B, I] scores.
      targets: [B, I] interactions (binary or fractional).
      weights: [B] user weights (0 for padding rows).

    Returns:
      [] loss; 0 when every weight is 0.
    """
    log_p = jax.nn.log_softmax(predictions, axis=-1)
    per_user = -jnp.sum(targets * log_p, axis=-1)
    return jnp.sum(weights * per_user) / jnp.maximum(jnp.sum(weights), 1e-12)


def loss_fn(
    logits: jax.Array,
    key: PRNGKey,
    targets: jax.Array,
    weights: jax.Array,
    hparams: DistillHParams,
    *,
    spec: DistillSpec,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """Distill-CF loss of ``logits`` on one batch of real users (module docstring).

    Args:
      logits: [S, I] summary.
      key: PRNG key of this step's Gumbel draws.
      targets: [B, I] real users' train rows (input and target of ∞-AE).
      weights: [B] float weights; 0 marks padding rows.
      hparams: traced hyper-parameters.
      spec: static settings.

    Returns:
      (total loss [], aux dict with "loss", "reconstruction", "cardinality",
      "support_mass" (mean row sum of X̂) and "support_max").
    """
    if targets.ndim != 2 or targets.shape[1] != logits.shape[1]:
        raise ValueError(
            f"targets {targets.shape} must be [B, I] with I = logits' {logits.shape[1]}"
        )
    if weights.shape != targets.shape[:1]:
        raise ValueError(f"weights {weights.shape} must be [B] for {targets.shape}")
    support = sample_support(key, logits, spec=spec, temperature=hparams.temperature)
    predictions = spec.learner.fit_predict(support, targets, hparams.reg)
    rec = reconstruction_loss(predictions, targets, weights)
    mass = jnp.mean(jnp.sum(support, axis=-1))
    card = mass / hparams.mean_degree
    total = rec + hparams.cardinality_reg * card
    aux = {
        "loss": total,
        "reconstruction": rec,
        "cardinality": card,
        "support_mass": mass,
        "support_max": jnp.max(support),
    }
    return total, aux


def update(
    state: DistillState,
    key: PRNGKey,
    targets: jax.Array,
    weights: jax.Array,
    hparams: DistillHParams,
    *,
    spec: DistillSpec,
    optimizer: optax.GradientTransformation,
) -> tuple[DistillState, dict[str, jax.Array]]:
    """One Adam step on the Distill-CF loss.

    Jit it once in the shell with ``spec`` and ``optimizer`` bound (functools.partial)
    and ``donate_argnums=0``; the key should be ``fold_in(base_key, step)``.

    Args:
      state: current `DistillState`.
      key: PRNG key of this step.
      targets: [B, I] real users' train rows.
      weights: [B] user weights (0 = padding).
      hparams: traced hyper-parameters.
      spec: static settings.
      optimizer: from `make_optimizer`.

    Returns:
      (new state, metrics of the loss *before* the update plus "grad_norm").
    """
    grad_fn = jax.value_and_grad(loss_fn, has_aux=True)
    (_, aux), grads = grad_fn(state.logits, key, targets, weights, hparams, spec=spec)
    updates, opt_state = optimizer.update(grads, state.opt_state, state.logits)
    logits = optax.apply_updates(state.logits, updates)
    aux = dict(aux, grad_norm=optax.tree.norm(grads))
    return DistillState(logits, opt_state, state.step + 1), aux
