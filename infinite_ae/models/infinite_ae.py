"""∞-AE (Sachdeva et al., NeurIPS 2022): kernel ridge regression over users.

The model memorises a support X_S [S, I] (the train matrix, a user sample, or a
Distill-CF summary, possibly continuous), fits ``α = (K(X_S) + ridge·I)⁻¹ X_S`` once
and scores any query row x (a user inside or outside the support) with K(x, X_S) α;
fit, ridge convention and scores are `infinite_ae.solver`'s. A fit whose α is not
finite raises `solver.NonFiniteError` saying what to change; in `select_reg` such a
λ is logged, recorded in ``selection_["invalid_regs"]`` and skipped.

Validation λ selection (`InfiniteAE.select_reg`) follows the original protocol: the
support is the train matrix, queries are the train rows, targets the validation items,
metric validation HR@100. Because the queries are the support rows, each λ costs one
solve and no kernel product (K α = X − ridge·α); K is computed once for the grid.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from infinite_ae import kernels, solver
from infinite_ae.models import base
from infinite_ae.types import ArrayLike

DEFAULT_GRID = (1.0, 5.0, 20.0, 50.0, 100.0)
"""The original's λ grid without 0 (λ = 0 gives noise in float32)."""
DEFAULT_KERNEL = kernels.KernelSpec()


@functools.partial(jax.jit, static_argnums=0)
def _support_kernel(spec: kernels.KernelSpec, support: jax.Array) -> jax.Array:
    return kernels.kernel(spec, support)


@functools.partial(jax.jit, static_argnums=0)
def _predict_batch(
    spec: kernels.KernelSpec, queries: jax.Array, support: jax.Array, alpha: jax.Array
) -> jax.Array:
    return solver.kernel_ridge_scores(spec, solver.KRRModel(support, alpha), queries)


@functools.partial(jax.jit, static_argnums=0)
def _cross_kernel(
    spec: kernels.KernelSpec, queries: jax.Array, support: jax.Array
) -> jax.Array:
    return kernels.kernel(spec, queries, support)


@functools.partial(jax.jit, static_argnames="absolute_reg")
def _fit(k_ss, targets, reg, *, absolute_reg):
    fit = solver.fit_krr(k_ss, targets, reg, absolute_reg=absolute_reg)
    return fit, jnp.all(jnp.isfinite(fit.alpha))


def _check_dtype(dtype: Any) -> Any:
    dtype = jnp.dtype(dtype)
    if dtype not in (jnp.float32, jnp.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    if dtype == jnp.float64 and not jax.config.jax_enable_x64:
        raise ValueError(
            "dtype=float64 needs jax.config.update('jax_enable_x64', True)"
        )
    return dtype


class InfiniteAE:
    """∞-AE recommender: NTK kernel ridge regression with the support as memory.

    Args:
      kernel: the kernel (`kernels.KernelSpec`; default: depth-1 ReLU NTK, W_std √2,
        b_std 0.1, as the paper).
      reg: λ; ridge = |reg|·trace(K)/S (relative, default) or |reg| (absolute_reg).
      absolute_reg: use reg as the absolute ridge.
      dtype: float32 (default) or float64 (needs jax_enable_x64).
      batch_size: query rows per kernel evaluation in `predict` (memory ≈
        batch_size·(S + I)·bytes plus the support).

    Attributes (after fit): ``support_`` [S, I], ``fit_`` (`solver.KRRFit` or
    `solver.KRRSpectralFit`), ``reg_``; after `select_reg` also ``val_metrics_``
    ({λ: metrics dict}) and ``selection_``.

    >>> import numpy as np
    >>> x = np.array([[1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 1]], np.float32)
    >>> model = InfiniteAE(reg=0.1).fit(x)
    >>> model.predict(x).shape
    (3, 4)
    """

    def __init__(
        self,
        kernel: kernels.KernelSpec = DEFAULT_KERNEL,
        reg: float = 1.0,
        *,
        absolute_reg: bool = False,
        dtype: Any = jnp.float32,
        batch_size: int = 4096,
    ):
        if not isinstance(kernel, kernels.KernelSpec):
            raise TypeError(f"kernel must be a KernelSpec, got {type(kernel)}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        self.kernel = kernel
        solver.check_reg(reg, dtype, name="InfiniteAE reg")
        self.reg = float(reg)
        self.absolute_reg = absolute_reg
        self.dtype = _check_dtype(dtype)
        self.batch_size = batch_size
        self.support_: jax.Array | None = None
        self.fit_: solver.KRRFit | solver.KRRSpectralFit | None = None
        self.reg_: float | None = None
        self.val_metrics_: dict[float, dict[str, float]] = {}
        self.selection_: dict[str, Any] = {}

    def _set_support(self, support: Any) -> jax.Array:
        x_s = base.to_dense(base.train_matrix(support), self.dtype)
        if x_s.shape[0] < 1:
            raise ValueError("the support needs at least one row")
        self.support_ = x_s
        return _support_kernel(self.kernel, x_s)

    def fit(self, support: Any) -> InfiniteAE:
        """Fits α = (K(X_S) + ridge·I)⁻¹ X_S at ``self.reg``.

        Args:
          support: [S, I] support rows: dense (binary or continuous, e.g. a distilled
            summary), scipy CSR, or an Interactions (its train matrix).

        Returns:
          self.
        """
        solver.check_reg(self.reg, self.dtype)  # _fit traces reg
        k_ss = self._set_support(support)
        if not bool(jnp.all(jnp.isfinite(k_ss))):
            solver.check_finite("the support kernel K", k_ss, advice="check the inputs")
        fit, finite = _fit(
            k_ss,
            self.support_,
            jnp.asarray(self.reg, self.dtype),
            absolute_reg=self.absolute_reg,
        )
        if not bool(finite):
            solver.check_finite(
                f"α (reg={self.reg:g}, {self.dtype.name})",
                fit.alpha,
                advice=solver.ridge_advice(self.reg, self.dtype),
            )
        self.fit_ = fit
        self.reg_ = self.reg
        return self

    def _check_fitted(self) -> None:
        if self.fit_ is None:
            raise ValueError("call fit() or select_reg() first")

    def predict(
        self, queries: ArrayLike, *, batch_size: int | None = None
    ) -> jax.Array:
        """Scores K(X_q, X_S) α for any query rows, ``batch_size`` rows at a time.

        Args:
          queries: [B, I] query rows (dense or CSR); users inside or outside the
            support.
          batch_size: rows per kernel evaluation (default ``self.batch_size``).

        Returns:
          [B, I] scores (unmasked).
        """
        self._check_fitted()
        queries = base.check_queries(queries, self.support_.shape[1], self.dtype)
        batch_size = batch_size or self.batch_size
        alpha = self.fit_.alpha
        if queries.shape[0] <= batch_size:
            return _predict_batch(self.kernel, queries, self.support_, alpha)
        outputs = [
            _predict_batch(
                self.kernel, queries[start : start + batch_size], self.support_, alpha
            )
            for start in range(0, queries.shape[0], batch_size)
        ]
        return jnp.concatenate(outputs)

    def score(
        self, query_rows: jax.Array, users: np.ndarray | None = None
    ) -> jax.Array:
        """`Recommender.score`: `predict` on the query rows (users are not needed)."""
        return self.predict(query_rows)

    def select_reg(
        self,
        data: Any,
        grid: Sequence[float] = DEFAULT_GRID,
        metric: str = "hr@100",
        *,
        support: Any = None,
        method: solver.SweepMethod = "auto",
        batch_size: int = 1024,
        max_cache_bytes: int = 2**30,
        evaluate_fn: Callable[..., dict[str, float]] | None = None,
        **evaluate_kwargs: Any,
    ) -> InfiniteAE:
        """Picks λ on validation (higher ``metric`` is better) and keeps that fit.

        K(X_S) is computed once; per λ only the solve (`solver.sweep_krr`). With the
        default ``support=None`` the support is ``data.train`` and the validation
        queries (the train rows) are the support rows, so scores are the in-sample
        predictions X_S − ridge·α (no kernel product). With another support (a user
        sample, a distilled summary) validation scores are K(X_train, X_S) α; that
        cross kernel is computed once and cached when it fits ``max_cache_bytes``.
        Ties keep the first λ of the grid.

        Args:
          data: an Interactions (``.train``, ``.val``, ``.item_counts``).
          grid: λ values ≥ 0 (relative unless ``absolute_reg``).
          metric: key of the evaluation dict to maximise (default the original's
            "hr@100").
          support: None (use data.train) or a [S, I] support (dense / CSR).
          method: sweep method ("cholesky", "eigh", "auto"; see `solver.sweep_krr`).
          batch_size: users per evaluation batch.
          max_cache_bytes: cache budget of the [U, S] cross kernel (other supports).
          evaluate_fn: the evaluation function (default
            `infinite_ae.evaluation.evaluate`), called as ``evaluate_fn(score_fn,
            data, split="val", batch_size=..., **evaluate_kwargs)``.
          **evaluate_kwargs: passed on (e.g. ``ks``, ``negatives``).

        Returns:
          self, fitted at the chosen λ (``reg_``), with ``val_metrics_`` and
          ``selection_`` recorded.

        Raises:
          ValueError: empty grid, a negative λ, or ``metric`` missing from the
            evaluation output.
          solver.NonFiniteError: α is not finite at every λ of the grid.
        """
        if evaluate_fn is None:
            from infinite_ae import evaluation

            evaluate_fn = evaluation.evaluate
        grid = [float(reg) for reg in grid]
        if not grid:
            raise ValueError("grid must not be empty")
        in_sample = support is None
        k_ss = self._set_support(data.train if in_sample else support)
        x_s = self.support_
        num_users = data.train.shape[0]
        if in_sample and x_s.shape[0] != num_users:
            raise ValueError(f"support {x_s.shape} and train {data.train.shape} differ")
        cached_k = None
        itemsize = jnp.dtype(self.dtype).itemsize
        if not in_sample and num_users * x_s.shape[0] * itemsize <= max_cache_bytes:
            train = base.to_dense(data.train, self.dtype)
            cached_k = jnp.concatenate(
                [
                    _cross_kernel(self.kernel, train[s : s + self.batch_size], x_s)
                    for s in range(0, num_users, self.batch_size)
                ]
            )
            del train

        best = None
        invalid = []
        self.val_metrics_ = {}
        for reg, fit in solver.sweep_krr(
            k_ss, x_s, grid, absolute_reg=self.absolute_reg, method=method
        ):
            if fit is None:  # α not finite at this λ: logged by the sweep
                invalid.append(reg)
                continue

            def score_fn(query_rows, users, fit=fit):
                users = jnp.asarray(users)
                if in_sample:
                    rows = fit._replace(alpha=fit.alpha[users])
                    return solver.in_sample_predictions(x_s[users], rows)
                if cached_k is not None:
                    return solver.predict_krr(cached_k[users], fit)
                rows = jnp.asarray(query_rows, self.dtype)
                return _predict_batch(self.kernel, rows, x_s, fit.alpha)

            value, self.val_metrics_[reg] = base.validation_metric(
                evaluate_fn,
                score_fn,
                data,
                metric=metric,
                batch_size=batch_size,
                label=f"InfiniteAE reg={reg:g}",
                **evaluate_kwargs,
            )
            if best is None or value > best[0]:
                best = (value, reg, fit)
        if best is None:
            raise solver.NonFiniteError(
                f"InfiniteAE.select_reg: α is not finite at every λ of {grid}; "
                + solver.ridge_advice(max(grid), self.dtype)
            )
        value, self.reg_, self.fit_ = best
        self.reg = self.reg_
        self.selection_ = {
            "metric": metric,
            "best_value": value,
            "grid": grid,
            "invalid_regs": invalid,
            "method": solver.choose_sweep_method(len(grid), method),
            "in_sample": in_sample,
        }
        return self
