"""EASE (Steck, WWW 2019): closed-form item-item linear autoencoder.

    min_B ‖X − XB‖²_F + λ‖B‖²_F  s.t. diag(B) = 0
    G = XᵀX + λI,  P = G⁻¹,  B_ij = −P_ij / P_jj (i ≠ j),  B_jj = 0,  scores = X_q B

λ is absolute (no trace scaling). ML-1M under the ∞-AE protocol prefers λ ≈ 1000, at
the edge of many grids, so the default grid reaches 2000.

Memory is a few dense [I, I] matrices (`ease_memory_bytes`), independent of the number
of users; the Gram XᵀX is accumulated over user chunks, never densifying all of X.
`EASE.fit` estimates the memory first, logs it, and fails early with advice when it
exceeds the budget.

Sweep (`EASE.select_reg`): the Gram is computed once. Per λ either a Cholesky
factorisation of G + λI and P = cho_solve(I) ("cholesky"), or, with one eigh of XᵀX,
P(λ) = V diag(1/(e + λ)) Vᵀ (one GEMM per λ, "eigh"). The eigh costs about ten
Cholesky fits up front and saves only a fraction of one per λ, so it pays off from
about 40 λ values at ML-1M size: "auto" uses Cholesky below `EIGH_MIN_GRID` = 40
values (measured sweep costs in benchmarks/README.md, "EASE sweep costs").
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse as sp

from infinite_ae.models import base

DEFAULT_GRID = (10.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2000.0)
EIGH_MIN_GRID = 40
"""`select_reg(method="auto")` uses the eigh path from this many λ values on."""
NUM_ITEM_MATRICES = 4
"""Dense [I, I] matrices alive at the peak: Gram, factor (or eigenvectors), P, B."""
_GRAM_CHUNK_BYTES = 256 * 2**20


def ease_memory_bytes(num_items: int, dtype: Any = jnp.float32) -> int:
    """Estimated peak bytes of an EASE fit / sweep: 4 dense [I, I] matrices.

    >>> round(ease_memory_bytes(3706) / 1e9, 3)  # ML-1M, float32
    0.22
    """
    return NUM_ITEM_MATRICES * num_items * num_items * jnp.dtype(dtype).itemsize


def _default_budget() -> int | None:
    try:
        return int(0.8 * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return None


def gram_matrix(train: Any, dtype: Any = jnp.float32) -> jax.Array:
    """XᵀX [I, I], accumulated over user chunks (X is never densified at once).

    Exact in float32 for binary X (counts < 2²⁴).

    Args:
      train: [U, I] scipy sparse or dense matrix.
      dtype: output dtype.

    Returns:
      [I, I] Gram matrix.
    """
    num_users, num_items = train.shape
    chunk = max(1, _GRAM_CHUNK_BYTES // (num_items * jnp.dtype(dtype).itemsize))
    gram = jnp.zeros((num_items, num_items), dtype)
    for start in range(0, num_users, chunk):
        rows = train[start : start + chunk]
        rows = jnp.asarray(rows.toarray() if sp.issparse(rows) else rows, dtype)
        gram = gram + jnp.matmul(rows.T, rows, precision="highest")
    return gram


def _weights_from_inverse(inverse: jax.Array) -> jax.Array:
    weights = -inverse / jnp.diagonal(inverse)[None, :]
    index = jnp.arange(inverse.shape[0])
    return weights.at[index, index].set(0)


@jax.jit
def ease_weights(gram: jax.Array, reg: jax.Array) -> jax.Array:
    """EASE item-item weights B [I, I] from the Gram XᵀX and λ (Cholesky inverse).

    Args:
      gram: [I, I] XᵀX.
      reg: [] absolute λ > 0.

    Returns:
      [I, I] B with B_ij = −P_ij/P_jj, diag(B) = 0, P = (XᵀX + λI)⁻¹.

    >>> b = ease_weights(jnp.array([[2.0, 1.0], [1.0, 2.0]]), 1.0)
    >>> [round(v, 4) for v in b.ravel().tolist()]
    [0.0, 0.3333, 0.3333, 0.0]
    """
    index = jnp.arange(gram.shape[0])
    regularised = gram.at[index, index].add(jnp.asarray(reg, gram.dtype))
    chol, _ = jax.scipy.linalg.cho_factor(regularised, lower=True)
    inverse = jax.scipy.linalg.cho_solve(
        (chol, True), jnp.eye(gram.shape[0], dtype=gram.dtype)
    )
    return _weights_from_inverse(inverse)


@jax.jit
def _eigh(gram):
    eigvals, eigvecs = jnp.linalg.eigh(gram, symmetrize_input=True)
    return jnp.maximum(eigvals, 0), eigvecs


@jax.jit
def _weights_from_eigh(eigvals, eigvecs, reg):
    scaled = eigvecs / (eigvals + reg)[None, :]
    inverse = jnp.matmul(scaled, eigvecs.T, precision="highest")
    return _weights_from_inverse(inverse)


_all_finite = jax.jit(lambda x: jnp.all(jnp.isfinite(x)))


@jax.jit
def _scores(query_rows, weights):
    return jnp.matmul(query_rows, weights, precision="highest")


class EASE:
    """EASE recommender (Steck 2019) with an absolute λ.

    Args:
      reg: λ (absolute). Defaults to 500 (Cornac's default; ML-1M prefers ~1000).
      dtype: float32 (default) or float64 (needs jax_enable_x64).
      memory_budget_bytes: fail before fitting if `ease_memory_bytes` exceeds this;
        None = 80 % of physical memory; 0 disables the check.

    Attributes (after fit): ``weights_`` [I, I] B, ``reg_``; after `select_reg` also
    ``val_metrics_`` and ``selection_``.

    >>> import numpy as np
    >>> x = np.array([[1, 1, 0], [0, 1, 1], [1, 1, 1]], np.float32)
    >>> model = EASE(reg=1.0).fit(x)
    >>> model.score(jnp.asarray(x), np.arange(3)).shape
    (3, 3)
    """

    def __init__(
        self,
        reg: float = 500.0,
        *,
        dtype: Any = jnp.float32,
        memory_budget_bytes: int | None = None,
    ):
        if reg <= 0:
            raise ValueError(f"EASE needs reg > 0, got {reg}")
        self.reg = float(reg)
        self.dtype = jnp.dtype(dtype)
        if self.dtype == jnp.float64 and not jax.config.jax_enable_x64:
            raise ValueError(
                "dtype=float64 needs jax.config.update('jax_enable_x64', True)"
            )
        self.memory_budget_bytes = memory_budget_bytes
        self.weights_: jax.Array | None = None
        self.reg_: float | None = None
        self.val_metrics_: dict[float, dict[str, float]] = {}
        self.selection_: dict[str, Any] = {}

    def check_memory(self, num_items: int) -> int:
        """Logs the estimated peak memory; raises MemoryError early if over budget."""
        need = ease_memory_bytes(num_items, self.dtype)
        budget = self.memory_budget_bytes
        if budget is None:
            budget = _default_budget()
        logging.info(
            "EASE: %d items, %s, needs about %.2f GB (%d dense [I, I] matrices)",
            num_items,
            self.dtype.name,
            need / 1e9,
            NUM_ITEM_MATRICES,
        )
        if budget and need > budget:
            raise MemoryError(
                f"EASE on {num_items} items needs about {need / 1e9:.2f} GB "
                f"({NUM_ITEM_MATRICES} dense {num_items}x{num_items} "
                f"{self.dtype.name} matrices) but the budget is {budget / 1e9:.2f} GB. "
                "Use float32, filter rare items (k-core / min item count), or a sparse "
                "approximation (e.g. SANSA); pass memory_budget_bytes to override."
            )
        return need

    def _gram(self, train: Any) -> jax.Array:
        matrix = base.train_matrix(train)
        if matrix.ndim != 2:
            raise ValueError(f"train must be [U, I], got shape {matrix.shape}")
        self.check_memory(matrix.shape[1])
        return gram_matrix(matrix, self.dtype)

    def fit(self, train: Any) -> EASE:
        """Fits B at ``self.reg`` on [U, I] train (CSR, dense or Interactions)."""
        gram = self._gram(train)
        self.weights_ = ease_weights(gram, jnp.asarray(self.reg, self.dtype))
        self.reg_ = self.reg
        return self

    def score(
        self, query_rows: jax.Array, users: np.ndarray | None = None
    ) -> jax.Array:
        """[B, I] scores X_q·B (unmasked)."""
        if self.weights_ is None:
            raise ValueError("call fit() or select_reg() first")
        query_rows = base.check_queries(query_rows, self.weights_.shape[0], self.dtype)
        return _scores(query_rows, self.weights_)

    def select_reg(
        self,
        data: Any,
        grid: Sequence[float] = DEFAULT_GRID,
        metric: str = "hr@100",
        *,
        support: Any = None,
        method: str = "auto",
        batch_size: int = 1024,
        evaluate_fn: Callable[..., dict[str, float]] | None = None,
        **evaluate_kwargs: Any,
    ) -> EASE:
        """Picks λ on validation (higher ``metric`` is better); keeps that B.

        The Gram is computed once; per λ one inverse (see the module docstring).
        Ties keep the first λ of the grid.

        Args:
          data: an Interactions (``.train``, ``.val``); its train rows are the
            validation queries.
          grid: absolute λ values > 0.
          metric: key of the evaluation dict to maximise.
          support: None (B from data.train) or [S, I] rows B is learned from
            instead (a user sample, a distilled summary; dense or CSR).
          method: "cholesky", "eigh" or "auto".
          batch_size: users per evaluation batch.
          evaluate_fn: default `infinite_ae.evaluation.evaluate`.
          **evaluate_kwargs: passed on to ``evaluate_fn``.

        Returns:
          self, fitted at the chosen λ.
        """
        if evaluate_fn is None:
            from infinite_ae import evaluation

            evaluate_fn = evaluation.evaluate
        grid = [float(reg) for reg in grid]
        if not grid or min(grid) <= 0:
            raise ValueError(f"grid must be non-empty with values > 0, got {grid}")
        if method not in ("cholesky", "eigh", "auto"):
            raise ValueError(f"method must be cholesky, eigh or auto, got {method!r}")
        if method == "auto":
            method = "eigh" if len(grid) >= EIGH_MIN_GRID else "cholesky"
        gram = self._gram(data if support is None else support)
        if method == "eigh":
            eigvals, eigvecs = _eigh(gram)
        best = None
        invalid = []
        self.val_metrics_ = {}
        for reg in grid:
            reg_array = jnp.asarray(reg, self.dtype)
            if method == "eigh":
                weights = _weights_from_eigh(eigvals, eigvecs, reg_array)
            else:
                weights = ease_weights(gram, reg_array)
            if not bool(_all_finite(weights)):
                logging.warning(
                    "EASE reg=%g is invalid and skipped: B is not finite (raise λ or "
                    "use float64)",
                    reg,
                )
                invalid.append(reg)
                continue

            def score_fn(query_rows, users, weights=weights):
                return _scores(jnp.asarray(query_rows, self.dtype), weights)

            value, self.val_metrics_[reg] = base.validation_metric(
                evaluate_fn,
                score_fn,
                data,
                metric=metric,
                batch_size=batch_size,
                label=f"EASE reg={reg:g}",
                **evaluate_kwargs,
            )
            if best is None or value > best[0]:
                best = (value, reg, weights)
            del weights
        if best is None:
            raise ValueError(
                f"EASE.select_reg: B is not finite at every λ of {grid}; raise λ or "
                "use float64"
            )
        value, self.reg_, self.weights_ = best
        self.reg = self.reg_
        self.selection_ = {
            "metric": metric,
            "best_value": value,
            "grid": grid,
            "invalid_regs": invalid,
            "method": method,
        }
        return self
