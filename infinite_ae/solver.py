"""Kernel ridge regression: the one fit, prediction and regulariser sweep (∞-AE).

∞-AE (Sachdeva et al., NeurIPS 2022) fits ``α = (K_SS + ridge·I)⁻¹ X_S`` and
predicts ``Ŷ = K(X_q, X_S) α``. Every model, job and scorer in the library goes
through this module for both; the regulariser convention lives only here:

    ridge = reg · (trace(K_SS) / S)      (relative, the default; as the original code)
    ridge = reg                           (absolute_reg=True)

The relative form scales λ by the mean diagonal of K, so one λ grid transfers across
datasets and kernels. λ must be ≥ 0: a negative concrete λ raises `ValueError` (a
traced λ cannot be checked; the entry points check it first). λ = 0 warns
(`RuntimeWarning`) in every dtype: K of a binary matrix is often numerically singular,
and in float32 the solution is noise.

Non-finite numbers never pass silently. `check_finite` raises `NonFiniteError` (a
`ValueError`) naming the array, the count and what to change; `fit_support` calls it
on K and α. In a sweep (`sweep_krr`) a λ whose α is not finite is logged and yielded
as ``(reg, None)``: callers mark it invalid and skip it.

Sweeps (`sweep_krr`) compute everything that does not depend on λ once:

  * "cholesky": per λ one `cho_factor` of K + ridge·I and one `cho_solve` with I
    right-hand sides.
  * "eigh": once K = QΛQᵀ and QᵀX; per λ one GEMM, α(λ) = Q diag(1/(Λ+ridge)) QᵀX.
    In-sample predictions are Q diag(Λ/(Λ+ridge)) QᵀX = X − ridge·α either way.

The eigh path only saves the factorisation per λ, so it pays off for long grids;
"auto" uses it from `EIGH_MIN_GRID` values on (measured crossover in
benchmarks/README.md). In-sample predictions (queries = the support rows) need no
second kernel product: K α = X − ridge·α exactly (`in_sample_predictions`).
"""

from __future__ import annotations

import functools
import numbers
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Literal, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from absl import logging
from jax import lax

from infinite_ae import kernels
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


class NonFiniteError(ValueError):
    """A kernel, a solution or scores hold NaN or ±inf."""


def check_reg(reg: Any, dtype: Any = jnp.float32, *, name: str = "reg") -> None:
    """Checks concrete regularisers: finite and ≥ 0; warns on 0.

    A traced value cannot be checked and passes silently (check it before tracing).

    Args:
      reg: a number or an array of numbers (a grid).
      dtype: the solve dtype (for the message).
      name: how the caller calls the value (e.g. a config field).

    Raises:
      ValueError: a value is negative, NaN or infinite.

    >>> check_reg(5.0)
    >>> check_reg(-5.0)
    Traceback (most recent call last):
    ...
    ValueError: reg=-5: the ridge must be >= 0
    """
    try:
        values = np.atleast_1d(np.asarray(reg, dtype=np.float64))
    except Exception:  # a tracer: the value is unknown at trace time
        return
    for value in values:
        if not np.isfinite(value):
            raise ValueError(f"{name}={value:g}: the ridge must be finite")
        if value < 0:
            raise ValueError(f"{name}={value:g}: the ridge must be >= 0")
    if np.any(values == 0):
        detail = (
            "in float32 the solution is noise"
            if jnp.dtype(dtype) != jnp.float64
            else "the solve is an interpolation and may be ill-conditioned"
        )
        warnings.warn(
            f"{name} = 0: K of a binary matrix is often numerically singular and "
            f"{detail}. Use {name} > 0.",
            RuntimeWarning,
            stacklevel=3,
        )


def check_finite(name: str, array: ArrayLike, *, advice: str = "") -> None:
    """Raises `NonFiniteError` if ``array`` holds NaN or ±inf (host-side check).

    Args:
      name: what the array is, for the message (e.g. "α (reg=1e-08, float32)").
      array: any array (copied to the host).
      advice: what to change, appended to the message.

    >>> check_finite("α", np.ones(3))
    >>> check_finite("α", np.array([1.0, np.nan]), advice="raise λ")
    Traceback (most recent call last):
    ...
    infinite_ae.solver.NonFiniteError: α has 1 non-finite entries of 2; raise λ
    """
    values = np.asarray(array)
    bad = int(values.size - np.count_nonzero(np.isfinite(values)))
    if bad:
        message = f"{name} has {bad} non-finite entries of {values.size}"
        raise NonFiniteError(f"{message}; {advice}" if advice else message)


def ridge_advice(reg: Any, dtype: Any) -> str:
    """What to change when a fit at ``reg`` is not finite."""
    if jnp.dtype(dtype) == jnp.float64:
        return f"raise the ridge (reg={reg:g}) or check the inputs for NaN/inf"
    return (
        f"raise the ridge (reg={reg:g} is too small for float32) or use float64 "
        "(model.dtype='float64'); check the inputs for NaN/inf"
    )


def ridge_value(
    k_ss: ArrayLike, reg: ArrayLike, *, absolute_reg: bool = False
) -> jax.Array:
    """The absolute ridge: reg·(trace(K)/S) (relative, default) or reg.

    Args:
      k_ss: [S, S] support kernel.
      reg: [] regulariser λ ≥ 0.
      absolute_reg: use reg as is.

    Returns:
      [] ridge in the dtype of ``k_ss``.

    >>> float(ridge_value(jnp.eye(2) * 3.0, 2.0))
    6.0
    """
    k_ss = jnp.asarray(k_ss)
    reg = jnp.asarray(reg, k_ss.dtype)
    if absolute_reg:
        return reg
    return reg * (jnp.trace(k_ss) / k_ss.shape[0])


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

    ridge = reg·(trace(K)/S) unless ``absolute_reg`` (then ridge = reg). ``reg`` may
    be traced, so a sweep over reg compiles once; a concrete reg is checked
    (`check_reg`).

    Args:
      k_ss: [S, S] symmetric PSD support kernel (e.g. ``kernel(spec, x_s)``).
      targets: [S, I] regression targets (∞-AE: the support rows X_S themselves).
      reg: [] regulariser λ ≥ 0 (see the convention above).
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
    check_reg(reg, dtype)
    ridge = ridge_value(k_ss, reg, absolute_reg=absolute_reg)
    chol, _ = jax.scipy.linalg.cho_factor(_add_to_diagonal(k_ss, ridge), lower=True)
    alpha = jax.scipy.linalg.cho_solve((chol, True), targets)
    return KRRFit(alpha=alpha, chol=chol, ridge=ridge)


def predict_krr(k_qs: ArrayLike, fit: KRRFit | KRRSpectralFit | jax.Array) -> jax.Array:
    """Predictions K(X_q, X_S) α for any query rows.

    Args:
      k_qs: [Q, S] kernel between queries and the support (``kernel(spec, x_q, x_s)``).
      fit: a `KRRFit` or `KRRSpectralFit` (only ``alpha`` is used), or α [S, I].

    Returns:
      [Q, I] predicted scores.

    >>> fit = fit_krr(jnp.eye(2), jnp.ones((2, 3)), 1.0)
    >>> jnp.round(predict_krr(jnp.ones((1, 2)), fit), 5).tolist()
    [[1.0, 1.0, 1.0]]
    """
    alpha = jnp.asarray(getattr(fit, "alpha", fit))
    k_qs = jnp.asarray(k_qs)
    if k_qs.ndim != 2 or k_qs.shape[1] != alpha.shape[0]:
        raise ValueError(
            f"k_qs must be [Q, S] with alpha {alpha.shape}, got {k_qs.shape}"
        )
    return jnp.matmul(k_qs.astype(alpha.dtype), alpha, precision=_PRECISION)


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
    check_reg(reg, dtype)
    reg = jnp.asarray(reg, dtype)
    num_support = spectrum.eigvals.shape[0]
    ridge = reg if absolute_reg else reg * (spectrum.trace / num_support)
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
      with `predict_krr` and `in_sample_predictions`. ``fit`` is None when α at that
      λ is not finite (logged as a warning): the caller marks that λ invalid.

    Raises:
      ValueError: an empty grid, or a negative / non-finite λ.
      NonFiniteError: K or the targets are not finite.

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
    check_reg(regs, dtype)
    if not bool(_all_finite(k_ss)):
        check_finite("the support kernel K", k_ss, advice="check the inputs")
    if not bool(_all_finite(targets)):
        check_finite("the targets", targets, advice="check the inputs")
    resolved = choose_sweep_method(len(regs), method)
    if resolved == "cholesky":
        fits = (
            _fit_krr_jit(k_ss, targets, reg, absolute_reg=absolute_reg) for reg in regs
        )
    else:
        spectrum = _spectrum_krr_jit(k_ss, targets)
        fits = (
            _fit_from_spectrum_jit(spectrum, reg, absolute_reg=absolute_reg)
            for reg in regs
        )
    for reg, fit in zip(regs, fits, strict=True):
        if bool(_all_finite(fit.alpha)):
            yield reg, fit
        else:
            logging.warning(
                "KRR sweep: λ=%g is invalid and skipped: α is not finite (%s)",
                reg,
                ridge_advice(reg, dtype),
            )
            yield reg, None


# The sweep is a stateful shell (a generator), so it may use compiled versions of the
# pure functions above; reg is traced, so a whole sweep compiles once.
_fit_krr_jit = jax.jit(fit_krr, static_argnames="absolute_reg")
_spectrum_krr_jit = jax.jit(spectrum_krr)
_fit_from_spectrum_jit = jax.jit(fit_krr_from_spectrum, static_argnames="absolute_reg")
_all_finite = jax.jit(lambda x: jnp.all(jnp.isfinite(x)))


# ---------------------------------------------------------------------------------
# ∞-AE on a support: fit from rows, score query rows.


class KRRModel(NamedTuple):
    """A fitted ∞-AE on a support: all a scorer needs (a pytree of two arrays).

    Attributes:
      support: [S, I] support rows X_S (real users, a sample, or a summary).
      alpha: [S, I] dual coefficients (K_SS + ridge·I)⁻¹ X_S.
    """

    support: jax.Array
    alpha: jax.Array


def fit_kernel_ridge(
    spec: kernels.KernelSpec,
    support: ArrayLike,
    reg: ArrayLike,
    *,
    absolute_reg: bool = False,
) -> KRRFit:
    """∞-AE's fit on support rows: `fit_krr` of K(X_S) with the targets X_S.

    Pure and jit-able (``spec`` static). The support kernel uses the one-argument
    `kernels.kernel` call, whose diagonal is exact.

    Args:
      spec: the kernel.
      support: [S, I] support rows.
      reg: [] regulariser λ ≥ 0 (relative unless ``absolute_reg``).
      absolute_reg: treat reg as the absolute ridge.

    Returns:
      `KRRFit` (alpha [S, I], chol [S, S], ridge []).

    >>> fit = fit_kernel_ridge(kernels.KernelSpec(), jnp.eye(3), 1.0)
    >>> fit.alpha.shape
    (3, 3)
    """
    support = jnp.asarray(support)
    return fit_krr(
        kernels.kernel(spec, support), support, reg, absolute_reg=absolute_reg
    )


def kernel_ridge_scores(
    spec: kernels.KernelSpec, model: KRRModel, queries: ArrayLike
) -> jax.Array:
    """∞-AE scores of query rows: K(queries, X_S) · α (pure, jit-able).

    Args:
      spec: the kernel (static under jit).
      model: the support and α.
      queries: [B, I] query rows.

    Returns:
      [B, I] scores in the dtype of α.

    >>> x = jnp.eye(3)
    >>> model = KRRModel(x, fit_kernel_ridge(kernels.KernelSpec(), x, 1.0).alpha)
    >>> kernel_ridge_scores(kernels.KernelSpec(), model, x).shape
    (3, 3)
    """
    queries = jnp.asarray(queries, model.alpha.dtype)
    k_qs = kernels.kernel(spec, queries, model.support.astype(model.alpha.dtype))
    return predict_krr(k_qs, model.alpha)


@functools.cache
def krr_score_fn(
    spec: kernels.KernelSpec,
) -> Callable[[KRRModel, jax.Array], jax.Array]:
    """``score(model, query_rows [B, I]) -> [B, I]``, `kernel_ridge_scores` of spec.

    Cached per spec, so the pure scorer that `evaluation.evaluate(..., params=model)`
    takes as a static argument compiles once per spec.
    """
    return functools.partial(kernel_ridge_scores, spec)


@functools.partial(jax.jit, static_argnums=0, static_argnames="absolute_reg")
def _fit_model(spec, support, reg, *, absolute_reg):
    fit = fit_kernel_ridge(spec, support, reg, absolute_reg=absolute_reg)
    return fit.alpha, _all_finite(fit.alpha)


def fit_model(
    spec: kernels.KernelSpec,
    support: ArrayLike,
    reg: float,
    *,
    absolute_reg: bool = False,
    dtype: Any = jnp.float32,
) -> KRRModel:
    """Fits ∞-AE on concrete support rows and checks the result (host-side shell).

    Args:
      spec: the kernel.
      support: [S, I] support rows (dense or scipy sparse).
      reg: regulariser λ ≥ 0 (relative unless ``absolute_reg``).
      absolute_reg: treat reg as the absolute ridge.
      dtype: float32 or float64 (needs jax_enable_x64).

    Returns:
      `KRRModel(support [S, I], alpha [S, I])`.

    Raises:
      ValueError: a negative λ or a support that is not [S, I].
      NonFiniteError: the support or α is not finite (the message says what to
        change).
    """
    if hasattr(support, "toarray"):
        support = support.toarray()
    support = jnp.asarray(support, dtype)
    if support.ndim != 2 or support.shape[0] < 1:
        raise ValueError(f"support must be [S, I] with S >= 1, got {support.shape}")
    check_reg(reg, dtype)
    if not bool(_all_finite(support)):
        check_finite("the support rows", support, advice="check the inputs")
    alpha, finite = _fit_model(spec, support, reg, absolute_reg=absolute_reg)
    if not bool(finite):
        check_finite(
            f"α (reg={reg:g}, {jnp.dtype(dtype).name})",
            alpha,
            advice=ridge_advice(reg, dtype),
        )
    return KRRModel(support, alpha)
