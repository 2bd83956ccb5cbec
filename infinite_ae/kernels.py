"""Closed-form NTK / NNGP / linear kernels of fully connected ReLU networks (∞-AE).

The ∞-AE kernel (Sachdeva et al., NeurIPS 2022) is the infinite-width NTK of
``depth × [Dense → ReLU] → Dense`` in NTK parameterisation with ``W_std = √2`` and
``b_std = 0.1``. Inputs are rows of the user × item matrix; only co-interaction counts
⟨x, y⟩ and squared norms ‖x‖² enter, so every kernel here is one Gram GEMM followed by
elementwise work.

First layer (the input is scaled by 1/I): ``K⁰(x, y) = w_std² ⟨x, y⟩ / I + b_std²``.
Each ReLU layer then applies, with v = Σ(x, x) and v' = Σ(y, y):

    s = √max(v v' − Σ², 0)              (= √(v v') sin θ)
    θ = atan2(s, Σ)
    Σ̇ = ½ − θ / (2π)
    S = s / (2π) + Σ̇ · Σ                 (order-1 arc-cosine kernel)
    Σ ← w_std² S + b_std²
    Θ ← Σ + w_std² Σ̇ Θ
    v ← w_std² v / 2 + b_std²

starting from Σ = Θ = K⁰. The final Σ is the NNGP and the final Θ the NTK. atan2
(not arccos) and the ``s/(2π) + Σ̇ Σ`` form keep float32 exact where θ = 0, a safe
square root keeps ``jax.grad`` finite for duplicate and all-zero rows, and the
one-argument call ``kernel(spec, x)`` sets s = 0 on the diagonal so the diagonal is
exact (≈1e-7 relative in float32 instead of ≈1e-4 from √(rounding noise)). Pairs
whose v v' − Σ² is below
8·eps·v v' (exact duplicate rows, in either call) get s = 0 too, so duplicates are
exact as well.

Matches neural-tangents 0.6.5 ``stax.serial(*[Dense(., W_std, b_std), Relu()] * depth,
Dense(., W_std, b_std))`` (see ``tests/make_nt_reference.py``). neural-tangents is never
imported here.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Literal

import jax
import jax.numpy as jnp
from jax import lax

from infinite_ae.types import ArrayLike

KernelKind = Literal["ntk", "nngp", "linear"]
KERNEL_KINDS = ("ntk", "nngp", "linear")
_PRECISION = lax.Precision.HIGHEST
_SNAP_EPS = 8.0


@dataclasses.dataclass(frozen=True)
class KernelSpec:
    """Static description of a kernel; frozen and hashable (usable as a static jit arg).

    Attributes:
      kind: "ntk" (∞-AE default), "nngp" (final Σ) or "linear" (the first-layer K⁰).
      depth: number of hidden ReLU layers (∞-AE uses 1). Ignored for "linear".
      w_std: weight standard deviation of every Dense layer (σ_w).
      b_std: bias standard deviation of every Dense layer (σ_b); 0 means no bias.
    """

    kind: KernelKind = "ntk"
    depth: int = 1
    w_std: float = math.sqrt(2.0)
    b_std: float = 0.1

    def __post_init__(self):
        if self.kind not in KERNEL_KINDS:
            raise ValueError(f"kind must be one of {KERNEL_KINDS}, got {self.kind!r}")
        if int(self.depth) != self.depth or self.depth < 1:
            raise ValueError(f"depth must be a positive integer, got {self.depth!r}")
        if self.w_std <= 0 or self.b_std < 0:
            raise ValueError(
                f"need w_std > 0 and b_std >= 0, got w_std={self.w_std}, "
                f"b_std={self.b_std}"
            )


@jax.custom_jvp
def safe_sqrt(x: ArrayLike) -> jax.Array:
    """√max(x, 0) whose derivative is 0 where x <= 0 (instead of inf / NaN).

    >>> float(safe_sqrt(jnp.float32(4.0)))
    2.0
    >>> float(jax.grad(safe_sqrt)(jnp.float32(0.0)))
    0.0
    """
    return jnp.sqrt(jnp.maximum(x, 0))


@safe_sqrt.defjvp
def _safe_sqrt_jvp(primals, tangents):
    (x,), (x_dot,) = primals, tangents
    y = safe_sqrt(x)
    positive = x > 0
    y_dot = jnp.where(positive, x_dot / (2 * jnp.where(positive, y, 1)), 0)
    return y, y_dot


def _safe_atan2(s: jax.Array, c: jax.Array) -> jax.Array:
    # atan2(0, 0) = 0 but its gradient is 0/0; that point only occurs with b_std = 0
    # and an all-zero row, where θ = 0 is as good a value as any (Σ = 0 there).
    both_zero = (s == 0) & (c == 0)
    return jnp.arctan2(s, jnp.where(both_zero, jnp.ones_like(c), c))


def _float_dtype(*arrays) -> jnp.dtype:
    return jnp.result_type(*(a.dtype for a in arrays), jnp.float32)


def kernel_from_gram(
    spec: KernelSpec,
    gram: ArrayLike,
    x_sq: ArrayLike,
    y_sq: ArrayLike,
    num_items: int,
    *,
    diagonal: bool = False,
    diagonal_offset: ArrayLike = 0,
) -> jax.Array:
    """The elementwise part of the kernel, given raw inner products.

    Lets callers build kernels from Gram tiles computed elsewhere (sparse products,
    sharded blocks). ``gram[i, j] = ⟨x_i, y_j⟩``, ``x_sq[i] = ‖x_i‖²``,
    ``y_sq[j] = ‖y_j‖²`` (raw, before the 1/I scaling).

    Args:
      spec: the kernel.
      gram: [Nx, Ny] inner products ⟨x_i, y_j⟩.
      x_sq: [Nx] squared norms of the rows of x.
      y_sq: [Ny] squared norms of the rows of y.
      num_items: I, the input dimension (the 1/I scaling of the first layer).
      diagonal: if True, entries (i, i + diagonal_offset) are self-pairs: K⁰ there is
        taken from ``x_sq`` and s = 0 at every layer, which makes them exact.
      diagonal_offset: column offset of the self-pairs (a row tile of a symmetric
        kernel starting at row r has offset r). May be traced.

    Returns:
      [Nx, Ny] kernel values in the floating dtype of ``gram`` (at least float32).

    >>> spec = KernelSpec()
    >>> k = kernel_from_gram(spec, jnp.array([[2.0]]), jnp.array([2.0]),
    ...                      jnp.array([2.0]), 4, diagonal=True)
    >>> round(float(k[0, 0]), 6)  # 4 * 2 / 4 + 0.03
    2.03
    """
    gram = jnp.asarray(gram)
    dtype = _float_dtype(gram)
    gram = gram.astype(dtype)
    x_sq = jnp.asarray(x_sq, dtype)
    y_sq = jnp.asarray(y_sq, dtype)
    if gram.ndim != 2 or gram.shape != (x_sq.shape[0], y_sq.shape[0]):
        raise ValueError(
            f"gram {gram.shape} must be [Nx, Ny] with x_sq {x_sq.shape}, "
            f"y_sq {y_sq.shape}"
        )
    w_var = jnp.asarray(spec.w_std**2, dtype)
    b_var = jnp.asarray(spec.b_std**2, dtype)
    scale = w_var / num_items

    sigma = scale * gram + b_var
    v_x = (scale * x_sq + b_var)[:, None]
    v_y = (scale * y_sq + b_var)[None, :]
    if diagonal:
        rows = lax.broadcasted_iota(jnp.int32, gram.shape, 0)
        cols = lax.broadcasted_iota(jnp.int32, gram.shape, 1)
        is_diag = cols == rows + jnp.asarray(diagonal_offset, jnp.int32)
        # Take the diagonal from the norms so that Σ = v exactly on self-pairs.
        sigma = jnp.where(is_diag, v_x, sigma)
    if spec.kind == "linear":
        return sigma

    theta_ntk = sigma
    two_pi = jnp.asarray(2 * math.pi, dtype)
    # Exact duplicates give v v' − Σ² = 0 in exact arithmetic, but FMA contraction and
    # 1-ulp differences between the Σ and v updates leave a residual of a few eps·vv',
    # and √ of it is an O(√eps) error. Residuals below SNAP_EPS·eps·vv' are set to 0;
    # for genuine pairs that small the true s is itself within √(SNAP_EPS·eps) of 0,
    # and binary rows that differ at all have θ² ≥ ~1/‖x‖², far above the threshold.
    snap = jnp.asarray(_SNAP_EPS * jnp.finfo(dtype).eps, dtype)
    for _ in range(spec.depth):
        norm_sq = v_x * v_y
        sin_sq = norm_sq - sigma * sigma
        s = safe_sqrt(
            jnp.where(sin_sq <= snap * norm_sq, jnp.zeros_like(sin_sq), sin_sq)
        )
        if diagonal:
            s = jnp.where(is_diag, jnp.zeros_like(s), s)
        theta = _safe_atan2(s, sigma)
        sigma_dot = 0.5 - theta / two_pi
        order1 = s / two_pi + sigma_dot * sigma
        sigma = w_var * order1 + b_var
        if spec.kind == "ntk":
            theta_ntk = sigma + w_var * sigma_dot * theta_ntk
        v_x = w_var * v_x / 2 + b_var
        v_y = w_var * v_y / 2 + b_var
    return theta_ntk if spec.kind == "ntk" else sigma


def _gram(x: jax.Array, y: jax.Array) -> jax.Array:
    return lax.dot_general(x, y, (((1,), (1,)), ((), ())), precision=_PRECISION)


def _check_inputs(x: ArrayLike, y: ArrayLike | None) -> tuple[jax.Array, jax.Array]:
    x = jnp.asarray(x)
    arrays = (x,) if y is None else (x, jnp.asarray(y))
    dtype = _float_dtype(*arrays)
    x = x.astype(dtype)
    if x.ndim != 2:
        raise ValueError(f"x must be [Nx, I], got shape {x.shape}")
    if y is None:
        return x, None
    y = jnp.asarray(y).astype(dtype)
    if y.ndim != 2 or y.shape[1] != x.shape[1]:
        raise ValueError(f"x {x.shape} and y {y.shape} must both be [N, I]")
    return x, y


def kernel(
    spec: KernelSpec,
    x: ArrayLike,
    y: ArrayLike | None = None,
    *,
    tile_size: int | None = None,
) -> jax.Array:
    """Closed-form NTK / NNGP / linear kernel between the rows of x and y.

    Implements the recurrence of the module docstring in its numerically safe form
    (atan2, safe square root, exact diagonal). Cost: one Gram GEMM
    (precision="highest") plus ~20 fused elementwise flops per entry and layer. Pure;
    jit the caller with ``spec`` static.

    Args:
      spec: the kernel.
      x: [Nx, I] rows (binary interactions or any real values).
      y: [Ny, I] rows, or None for the symmetric K(x, x) with an exact diagonal (use
        this for the support kernel; K(x, x) passed explicitly cannot know which
        entries are self-pairs).
      tile_size: if given, compute ``tile_size`` rows at a time with ``lax.map`` (see
        `kernel_tiled`) to bound the peak memory of the intermediates.

    Returns:
      [Nx, Ny] (or [Nx, Nx]) kernel in the input's floating dtype (at least float32).

    >>> k = kernel(KernelSpec(), jnp.array([[1.0, 0.0], [1.0, 1.0]]))
    >>> round(float(k[0, 0]), 6)  # 4 * 1 / 2 + 0.03
    2.03
    """
    if tile_size is not None:
        return kernel_tiled(spec, x, y, tile_size=tile_size)
    x, y = _check_inputs(x, y)
    x_sq = jnp.sum(x * x, axis=1)
    if y is None:
        return kernel_from_gram(
            spec, _gram(x, x), x_sq, x_sq, x.shape[1], diagonal=True
        )
    y_sq = jnp.sum(y * y, axis=1)
    return kernel_from_gram(spec, _gram(x, y), x_sq, y_sq, x.shape[1])


def kernel_tiled(
    spec: KernelSpec,
    x: ArrayLike,
    y: ArrayLike | None = None,
    *,
    tile_size: int = 1024,
) -> jax.Array:
    """`kernel` computed ``tile_size`` rows of x at a time with ``lax.map``.

    Peak memory (bytes, b = bytes per element): the output ``Nx' · Ny · b`` (Nx' = Nx
    rounded up to a multiple of ``tile_size``; plus one more copy when Nx' > Nx for the
    final slice), a padded copy of x, and about 4 live ``tile_size × Ny`` intermediates
    of the current tile, instead of ~4 full ``Nx × Ny`` intermediates when XLA does
    not fuse everything. Results equal `kernel` up to GEMM rounding (exactly on the
    diagonal when y is None).

    Args:
      spec: the kernel.
      x: [Nx, I].
      y: [Ny, I], or None for the symmetric kernel with an exact diagonal.
      tile_size: rows per tile (static).

    Returns:
      [Nx, Ny] kernel.

    >>> x = jnp.eye(3)
    >>> bool(jnp.allclose(kernel_tiled(KernelSpec(), x, tile_size=2),
    ...                   kernel(KernelSpec(), x)))
    True
    """
    if tile_size < 1:
        raise ValueError(f"tile_size must be positive, got {tile_size}")
    x, y = _check_inputs(x, y)
    num_rows, num_items = x.shape
    symmetric = y is None
    y_full = x if symmetric else y
    y_sq = jnp.sum(y_full * y_full, axis=1)
    num_tiles = -(-num_rows // tile_size)
    pad = num_tiles * tile_size - num_rows
    x_tiles = jnp.pad(x, ((0, pad), (0, 0))).reshape(num_tiles, tile_size, num_items)

    def one_tile(args):
        index, x_tile = args
        return kernel_from_gram(
            spec,
            _gram(x_tile, y_full),
            jnp.sum(x_tile * x_tile, axis=1),
            y_sq,
            num_items,
            diagonal=symmetric,
            diagonal_offset=index * tile_size,
        )

    tiles = lax.map(one_tile, (jnp.arange(num_tiles, dtype=jnp.int32), x_tiles))
    out = tiles.reshape(num_tiles * tile_size, y_full.shape[0])
    return out[:num_rows] if pad else out
