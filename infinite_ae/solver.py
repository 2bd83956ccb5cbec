"""Kernel ridge regression: Cholesky fit, prediction and regulariser sweeps (∞-AE).

∞-AE (Sachdeva et al., NeurIPS 2022) fits ``α = (K_SS + ridge·I)⁻¹ X_S`` and
predicts ``Ŷ = K(X_q, X_S) α``. Regulariser convention (methods notes §3.1, §3.4):

    ridge = |reg| · trace(K_SS) / S      (relative, the default; as the original code)
    ridge = |reg|                         (absolute_reg=True)

The relative form scales λ by the mean diagonal of K, so one λ grid transfers across
datasets and kernels.

λ = 0 is useless in float32: K of a binary matrix is numerically singular and the
solve returns noise (validation HR@100 2.18 vs 58 at λ = 5 on ML-1M). Use λ > 0 or
float64. `fit_krr` and `sweep_krr` warn (RuntimeWarning) when a concrete reg == 0 is
used in float32; a traced reg cannot be checked.

Sweeps (`sweep_krr`) compute everything that does not depend on λ once:

  * "cholesky": per λ one `cho_factor` of K + ridge·I and one `cho_solve` with I
    right-hand sides.
  * "eigh": once K = QΛQᵀ and QᵀX; per λ one GEMM, α(λ) = Q diag(1/(Λ+ridge)) QᵀX.
    In-sample predictions are Q diag(Λ/(Λ+ridge)) QᵀX = X − ridge·α either way.

Measured on the 2-core CPU at ML-1M shape (S = 6,040, I = 3,706, float32, jax 0.10.2;
timings from a loaded machine are CPU-seconds / 2): cho_factor 0.7-1.4 s + cho_solve
1.7-1.8 s, i.e. `fit_krr` 2.4-3.2 s per λ; eigh 10.7-40 s (+ QᵀX 1.7-1.9 s) once,
then one GEMM, 1.9-2.0 s, per λ. The eigh path only saves the factorisation per λ
(0.5-1.2 s), so the measured crossover is ≈ 25-35 λ values; "auto" uses eigh from
`EIGH_MIN_GRID` = 30 values on. For the usual 5-7 value grids Cholesky wins.

In-sample predictions (queries = the support rows) need no second kernel product:
K α = X − ridge·α exactly (`in_sample_predictions`).
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Iterator, Sequence
from typing import Literal, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from infinite_ae.types import ArrayLike

_PRECISION = lax.Precision.HIGHEST
EIGH_MIN_GRID = 30
"""`sweep_krr(method="auto")` switches from Cholesky-per-λ to eigh at this grid size."""

SweepMethod = Literal["cholesky", "eigh", "auto"]


class KRRFit(NamedTuple):
    """A fitted kernel ridge regression (Cholesky path).

    Attributes:
      alpha: [S, I] dual coefficients (K + ridge·I)⁻¹ X_S.
      chol: [S, S] lower Cholesky factor of K + ridge·I (reusable with
        ``jax.scipy.linalg.cho_solve((chol, True), rhs)``).
      ridge: [] the absolute ridge added to the diagonal.
    """

    alpha: jax.Array
    chol: jax.Array
    ridge: jax.Array


class KRRSpectralFit(NamedTuple):
    """A fitted kernel ridge regression from the eigendecomposition of K (sweep path).

    Attributes:
      alpha: [S, I] dual coefficients Q diag(1/(Λ + ridge)) QᵀX_S.
      eigvals: [S] eigenvalues Λ of K, clipped at 0 (K is PSD).
      eigvecs: [S, S] orthonormal eigenvectors Q (shared by all λ of a sweep).
      ridge: [] the absolute ridge.
    """

    alpha: jax.Array
    eigvals: jax.Array
    eigvecs: jax.Array
    ridge: jax.Array


class KRRSpectrum(NamedTuple):
    """λ-independent part of the eigh sweep.

    Attributes:
      eigvals: [S] eigenvalues of K, clipped at 0.
      eigvecs: [S, S] eigenvectors Q.
      projected: [S, I] QᵀX_S.
      trace: [] trace(K) (for the relative ridge).
    """

    eigvals: jax.Array
    eigvecs: jax.Array
    projected: jax.Array
    trace: jax.Array


def _check_fit_inputs(k_ss: jax.Array, targets: jax.Array) -> None:
    if k_ss.ndim != 2 or k_ss.shape[0] != k_ss.shape[1]:
        raise ValueError(f"k_ss must be square [S, S], got {k_ss.shape}")
    if targets.ndim != 2 or targets.shape[0] != k_ss.shape[0]:
        raise ValueError(
            f"targets must be [S, I] with k_ss {k_ss.shape}, got {targets.shape}"
        )


def _warn_if_zero_reg(reg, dtype) -> None:
    try:
        values = np.atleast_1d(np.asarray(reg, dtype=np.float64))
    except Exception:  # a tracer: the value is unknown at trace time
        return
    if jnp.dtype(dtype) != jnp.float64 and np.any(values == 0):
        warnings.warn(
            "reg = 0 in float32: K is numerically singular and the solution is noise "
            "(ML-1M validation HR@100 2.18 vs 58.2 at reg=5). Use reg > 0 or float64.",
            RuntimeWarning,
            stacklevel=3,
        )


def ridge_value(
    k_ss: ArrayLike, reg: ArrayLike, *, absolute_reg: bool = False
) -> jax.Array:
    """The absolute ridge: |reg|·trace(K)/S (relative, default) or |reg|.

    Args:
      k_ss: [S, S] support kernel.
      reg: [] regulariser λ.
      absolute_reg: use |reg| as is.

    Returns:
      [] ridge in the dtype of ``k_ss``.

    >>> float(ridge_value(jnp.eye(2) * 3.0, 2.0))
    6.0
    """
    k_ss = jnp.asarray(k_ss)
    reg = jnp.abs(jnp.asarray(reg, k_ss.dtype))
    if absolute_reg:
        return reg
    return reg * jnp.trace(k_ss) / k_ss.shape[0]


def _add_to_diagonal(matrix: jax.Array, value: jax.Array) -> jax.Array:
    index = jnp.arange(matrix.shape[0])
    return matrix.at[index, index].add(value)


def fit_krr(
    k_ss: ArrayLike,
    targets: ArrayLike,
    reg: ArrayLike,
    *,
    absolute_reg: bool = False,
) -> KRRFit:
    """Solves (K + ridge·I) α = targets by Cholesky; keeps the factor for reuse.

    ridge = |reg|·trace(K)/S unless ``absolute_reg`` (then ridge = |reg|). ``reg`` may
    be traced, so a sweep over reg compiles once.

    Args:
      k_ss: [S, S] symmetric PSD support kernel (e.g. ``kernel(spec, x_s)``).
      targets: [S, I] regression targets (∞-AE: the support rows X_S themselves).
      reg: [] regulariser λ (see the convention above). Must be > 0 in float32.
      absolute_reg: treat reg as the absolute ridge.

    Returns:
      KRRFit(alpha [S, I], chol [S, S] lower factor, ridge []).

    >>> fit = fit_krr(jnp.eye(2), jnp.ones((2, 3)), 1.0)
    >>> jnp.round(fit.alpha, 5).tolist()
    [[0.5, 0.5, 0.5], [0.5, 0.5, 0.5]]
    """
    k_ss = jnp.asarray(k_ss)
    targets = jnp.asarray(targets)
    dtype = jnp.result_type(k_ss.dtype, targets.dtype, jnp.float32)
    k_ss, targets = k_ss.astype(dtype), targets.astype(dtype)
    _check_fit_inputs(k_ss, targets)
    _warn_if_zero_reg(reg, dtype)
    ridge = ridge_value(k_ss, reg, absolute_reg=absolute_reg)
    chol, _ = jax.scipy.linalg.cho_factor(_add_to_diagonal(k_ss, ridge), lower=True)
    alpha = jax.scipy.linalg.cho_solve((chol, True), targets)
    return KRRFit(alpha=alpha, chol=chol, ridge=ridge)


def predict_krr(k_qs: ArrayLike, fit: KRRFit | KRRSpectralFit) -> jax.Array:
    """Predictions K(X_q, X_S) α for any query rows.

    Args:
      k_qs: [Q, S] kernel between queries and the support (``kernel(spec, x_q, x_s)``).
      fit: a `KRRFit` or `KRRSpectralFit` (only ``alpha`` is used).

    Returns:
      [Q, I] predicted scores.

    >>> fit = fit_krr(jnp.eye(2), jnp.ones((2, 3)), 1.0)
    >>> jnp.round(predict_krr(jnp.ones((1, 2)), fit), 5).tolist()
    [[1.0, 1.0, 1.0]]
    """
    k_qs = jnp.asarray(k_qs)
    if k_qs.ndim != 2 or k_qs.shape[1] != fit.alpha.shape[0]:
        raise ValueError(
            f"k_qs must be [Q, S] with alpha {fit.alpha.shape}, got {k_qs.shape}"
        )
    return jnp.matmul(k_qs.astype(fit.alpha.dtype), fit.alpha, precision=_PRECISION)


def in_sample_predictions(
    targets: ArrayLike, fit: KRRFit | KRRSpectralFit
) -> jax.Array:
    """Predictions for the support rows themselves, K α, without a kernel product.

    Uses the identity K α = (K + ridge·I) α − ridge·α = targets − ridge·α (exact in
    exact arithmetic; in float32 it matches K α to the solve's residual).

    Args:
      targets: [S, I] (or a row subset [B, I] together with the same rows of alpha:
        pass ``fit._replace(alpha=fit.alpha[rows])``) the targets the fit used.
      fit: a `KRRFit` or `KRRSpectralFit`.

    Returns:
      [S, I] in-sample predictions.

    >>> fit = fit_krr(jnp.eye(2), jnp.ones((2, 3)), 1.0)
    >>> jnp.round(in_sample_predictions(jnp.ones((2, 3)), fit), 5).tolist()[0]
    [0.5, 0.5, 0.5]
    """
    targets = jnp.asarray(targets, fit.alpha.dtype)
    if targets.shape != fit.alpha.shape:
        raise ValueError(f"targets {targets.shape} must match alpha {fit.alpha.shape}")
    return targets - fit.ridge * fit.alpha


def spectrum_krr(k_ss: ArrayLike, targets: ArrayLike) -> KRRSpectrum:
    """The λ-independent part of the eigh sweep: K = QΛQᵀ and QᵀX.

    Args:
      k_ss: [S, S] symmetric PSD support kernel.
      targets: [S, I] targets.

    Returns:
      KRRSpectrum(eigvals [S] clipped at 0, eigvecs [S, S], projected [S, I], trace []).

    >>> spectrum_krr(jnp.eye(2) * 2.0, jnp.ones((2, 1))).eigvals.tolist()
    [2.0, 2.0]
    """
    k_ss = jnp.asarray(k_ss)
    targets = jnp.asarray(targets)
    dtype = jnp.result_type(k_ss.dtype, targets.dtype, jnp.float32)
    k_ss, targets = k_ss.astype(dtype), targets.astype(dtype)
    _check_fit_inputs(k_ss, targets)
    eigvals, eigvecs = jnp.linalg.eigh(k_ss, symmetrize_input=True)
    projected = jnp.matmul(eigvecs.T, targets, precision=_PRECISION)
    return KRRSpectrum(
        eigvals=jnp.maximum(eigvals, 0),
        eigvecs=eigvecs,
        projected=projected,
        trace=jnp.trace(k_ss),
    )


def fit_krr_from_spectrum(
    spectrum: KRRSpectrum, reg: ArrayLike, *, absolute_reg: bool = False
) -> KRRSpectralFit:
    """α(λ) = Q diag(1/(Λ + ridge)) QᵀX from a precomputed spectrum (one GEMM).

    Args:
      spectrum: output of `spectrum_krr`.
      reg: [] regulariser λ (same convention as `fit_krr`).
      absolute_reg: treat reg as the absolute ridge.

    Returns:
      KRRSpectralFit(alpha [S, I], eigvals, eigvecs, ridge []).

    >>> spec = spectrum_krr(jnp.eye(2), jnp.ones((2, 3)))
    >>> fit_krr_from_spectrum(spec, 1.0).alpha.tolist()[0]
    [0.5, 0.5, 0.5]
    """
    dtype = spectrum.eigvals.dtype
    reg = jnp.abs(jnp.asarray(reg, dtype))
    num_support = spectrum.eigvals.shape[0]
    ridge = reg if absolute_reg else reg * spectrum.trace / num_support
    scaled = spectrum.projected / (spectrum.eigvals + ridge)[:, None]
    alpha = jnp.matmul(spectrum.eigvecs, scaled, precision=_PRECISION)
    return KRRSpectralFit(
        alpha=alpha, eigvals=spectrum.eigvals, eigvecs=spectrum.eigvecs, ridge=ridge
    )


def choose_sweep_method(num_regs: int, method: SweepMethod = "auto") -> str:
    """Resolves "auto": Cholesky per λ below `EIGH_MIN_GRID` values, else eigh.

    >>> choose_sweep_method(6), choose_sweep_method(40)
    ('cholesky', 'eigh')
    """
    if method not in ("cholesky", "eigh", "auto"):
        raise ValueError(f"method must be 'cholesky', 'eigh' or 'auto', got {method!r}")
    if method != "auto":
        return method
    return "eigh" if num_regs >= EIGH_MIN_GRID else "cholesky"


def sweep_krr(
    k_ss: ArrayLike,
    targets: ArrayLike,
    regs: Sequence[float],
    *,
    absolute_reg: bool = False,
    method: SweepMethod = "auto",
) -> Iterator[tuple[float, KRRFit | KRRSpectralFit]]:
    """Fits KRR for each regulariser, yielding one fit at a time (memory-light).

    The kernel is never recomputed; per λ only what depends on λ is computed (see the
    module docstring for costs). Only one α ([S, I], 90 MB at ML-1M in float32) is
    alive per step unless the caller keeps them; ``list(sweep_krr(...))`` holds all.
    The "eigh" path keeps Q ([S, S]) and QᵀX ([S, I]) for the whole sweep.

    This is a Python generator, a thin shell over compiled versions of the pure
    functions `fit_krr`, `spectrum_krr` and `fit_krr_from_spectrum` (reg is traced, so
    a sweep compiles once per shape). Inside a jitted program, call those directly.

    Args:
      k_ss: [S, S] support kernel.
      targets: [S, I] targets.
      regs: the λ grid (concrete numbers), same convention as `fit_krr`.
      absolute_reg: treat each reg as the absolute ridge.
      method: "cholesky", "eigh" or "auto" (`choose_sweep_method`).

    Yields:
      (reg, fit) with fit a `KRRFit` (cholesky) or `KRRSpectralFit` (eigh); both work
      with `predict_krr` and `in_sample_predictions`.

    >>> [round(float(f.alpha[0, 0]), 3) for _, f in
    ...  sweep_krr(jnp.eye(2), jnp.ones((2, 1)), [1.0, 3.0], method="eigh")]
    [0.5, 0.25]
    """
    regs = [float(r) if isinstance(r, numbers.Number) else r for r in regs]
    if not regs:
        raise ValueError("regs must not be empty")
    k_ss = jnp.asarray(k_ss)
    targets = jnp.asarray(targets)
    dtype = jnp.result_type(k_ss.dtype, targets.dtype, jnp.float32)
    _check_fit_inputs(k_ss, targets)
    _warn_if_zero_reg(regs, dtype)
    resolved = choose_sweep_method(len(regs), method)
    if resolved == "cholesky":
        for reg in regs:
            yield reg, _fit_krr_jit(k_ss, targets, reg, absolute_reg=absolute_reg)
        return
    spectrum = _spectrum_krr_jit(k_ss, targets)
    for reg in regs:
        yield reg, _fit_from_spectrum_jit(spectrum, reg, absolute_reg=absolute_reg)


# The sweep is a stateful shell (a generator), so it may use compiled versions of the
# pure functions above; reg is traced, so a whole sweep compiles once.
_fit_krr_jit = jax.jit(fit_krr, static_argnames="absolute_reg")
_spectrum_krr_jit = jax.jit(spectrum_krr)
_fit_from_spectrum_jit = jax.jit(fit_krr_from_spectrum, static_argnames="absolute_reg")
