"""Users sharded over a device mesh with `jax.sharding`; the small support replicated.

One mesh axis, ``"u"`` (`USER_AXIS`), over which the real users (Distill-CF targets,
evaluation queries, kernel row blocks) are split. Everything small (the support
X_S [S, I], α [S, I], the Distill-CF logits and optimiser state, hyper-parameters,
PRNG keys) is replicated: every device holds a copy and computes the support's kernel
and Cholesky factor redundantly (S ≤ a few thousand, so that is cheaper than
communicating it). The code is plain `jax.jit` with `NamedSharding` placements, so the
reductions over users (the loss mean, the gradient with respect to the replicated
logits, metric sums) become all-reduces (psum) inserted by XLA's SPMD partitioner:
the same function runs unchanged on 1 device or N.

Batches are padded to a multiple of the device count with zero-weight rows
(`pad_rows`, `pad_batch`), so the sharded result equals the unsharded one up to
float32 reduction order (`tests/sharding_test.py` states the tolerances).

Multi-host (TPU pods, GPU clusters): call ``jax.distributed.initialize()`` before any
other JAX call; `make_user_mesh` then spans every process's devices, and
`shard_rows` builds global arrays from each process's local rows with
``jax.make_array_from_process_local_data``. See docs/scaling.md.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from infinite_ae import kernels, solver
from infinite_ae.types import ArrayLike

USER_AXIS = "u"


def make_user_mesh(
    num_devices: int | None = None, *, devices: Sequence[jax.Device] | None = None
) -> Mesh:
    """A 1-D mesh with axis ``"u"`` over the first ``num_devices`` devices.

    Args:
      num_devices: devices to use (default: all of ``jax.devices()``, every process's
        devices on a multi-host run).
      devices: explicit device list (default ``jax.devices()``).

    Returns:
      `jax.sharding.Mesh` of shape (num_devices,) and axis names ("u",).

    >>> make_user_mesh(1).axis_names
    ('u',)
    """
    devices = list(jax.devices() if devices is None else devices)
    num_devices = len(devices) if num_devices is None else int(num_devices)
    if not 1 <= num_devices <= len(devices):
        raise ValueError(
            f"num_devices must be in [1, {len(devices)}], got {num_devices}"
        )
    return Mesh(np.asarray(devices[:num_devices]), (USER_AXIS,))


def user_sharding(mesh: Mesh, ndim: int = 2) -> NamedSharding:
    """Rows (axis 0) split over ``"u"``, other axes whole: P("u", None, ...)."""
    return NamedSharding(mesh, P(USER_AXIS, *([None] * (ndim - 1))))


def replicated(mesh: Mesh) -> NamedSharding:
    """Every device holds the whole array: P()."""
    return NamedSharding(mesh, P())


def num_shards(mesh: Mesh) -> int:
    """Devices along the user axis."""
    return int(mesh.shape[USER_AXIS])


def pad_rows(array: ArrayLike, multiple: int, *, value: Any = 0) -> np.ndarray:
    """Pads axis 0 with ``value`` up to a multiple of ``multiple`` (NumPy, host).

    >>> pad_rows(np.ones((3, 2)), 4).shape
    (4, 2)
    """
    array = np.asarray(array)
    pad = -array.shape[0] % int(multiple)
    if not pad:
        return array
    widths = [(0, pad)] + [(0, 0)] * (array.ndim - 1)
    return np.pad(array, widths, constant_values=value)


def pad_batch(
    targets: ArrayLike, weights: ArrayLike | None, multiple: int
) -> tuple[np.ndarray, np.ndarray]:
    """Pads a user batch to a multiple of the device count with zero-weight rows.

    Args:
      targets: [B, I] rows.
      weights: [B] user weights, or None for ones.
      multiple: usually `num_shards(mesh)`.

    Returns:
      (targets [B', I], weights [B'] float32) with B' = B rounded up; padding rows
      are zeros with weight 0, so weighted means are unchanged.

    >>> t, w = pad_batch(np.ones((3, 2)), None, 2)
    >>> t.shape, w.tolist()
    ((4, 2), [1.0, 1.0, 1.0, 0.0])
    """
    targets = np.asarray(targets)
    if weights is None:
        weights = np.ones(targets.shape[0], np.float32)
    weights = np.asarray(weights, np.float32)
    if weights.shape != targets.shape[:1]:
        raise ValueError(f"weights {weights.shape} must be [B] for {targets.shape}")
    return pad_rows(targets, multiple), pad_rows(weights, multiple)


def shard_rows(mesh: Mesh, array: ArrayLike) -> jax.Array:
    """Places ``array`` with its rows split over ``"u"`` (axis 0 divisible by N).

    Single process: ``jax.device_put``. Multi-process: ``array`` is this process's
    rows (a contiguous block; process p holds block p) and the global array is
    assembled with ``jax.make_array_from_process_local_data``.

    Args:
      mesh: from `make_user_mesh`.
      array: [B, ...] rows (host or device array).

    Returns:
      Global jax.Array [B_global, ...] sharded P("u", None, ...).
    """
    sharding = user_sharding(mesh, np.ndim(array))
    if jax.process_count() > 1:
        return jax.make_array_from_process_local_data(sharding, np.asarray(array))
    if np.shape(array)[0] % num_shards(mesh):
        raise ValueError(
            f"{np.shape(array)[0]} rows do not divide over {num_shards(mesh)} devices; "
            "pad them first (pad_rows / pad_batch)"
        )
    return jax.device_put(array, sharding)


def replicate(mesh: Mesh, tree: Any) -> Any:
    """Places every leaf of ``tree`` on every device of ``mesh``."""
    return jax.device_put(tree, replicated(mesh))


def shard_step(
    step_fn: Callable[..., Any],
    mesh: Mesh,
    *,
    batch_argnums: Sequence[int],
    donate_argnums: Sequence[int] = (),
) -> Callable[..., Any]:
    """Jits ``step_fn`` with the batch arguments split over users, the rest replicated.

    Arguments at ``batch_argnums`` (arrays or pytrees of arrays whose leaves have the
    user axis first) are split over ``"u"``; every other argument and every output
    is replicated. Inside, the code is unchanged: sums and means over the user axis
    become all-reduces, and the gradient with respect to a replicated parameter is
    the psum of the per-device gradients. Batch sizes must divide by the device
    count (pad with zero weights: `pad_batch`).

    Args:
      step_fn: a pure function with only array (pytree) positional arguments; bind
        static settings with ``functools.partial`` first.
      mesh: from `make_user_mesh`.
      batch_argnums: positions of the per-user arguments.
      donate_argnums: positions donated to the output (e.g. the optimiser state).

    Returns:
      ``fn(*args)`` that places its arguments (a no-op when already placed) and runs
      the jitted, partitioned step.
    """
    batch_argnums = tuple(batch_argnums)

    def in_sharding(index: int, arg: Any) -> Any:
        if index in batch_argnums:
            return jax.tree.map(lambda x: user_sharding(mesh, np.ndim(x)), arg)
        return replicated(mesh)

    compiled: dict[int, Callable[..., Any]] = {}

    def run(*args):
        shardings = tuple(in_sharding(i, a) for i, a in enumerate(args))
        placed = tuple(
            jax.tree.map(_place, a, s) if i in batch_argnums else jax.device_put(a, s)
            for i, (a, s) in enumerate(zip(args, shardings, strict=True))
        )
        if len(args) not in compiled:
            compiled[len(args)] = jax.jit(
                step_fn,
                in_shardings=shardings,
                out_shardings=replicated(mesh),
                donate_argnums=tuple(donate_argnums),
            )
        return compiled[len(args)](*placed)

    return run


def _place(x: Any, sharding: NamedSharding) -> jax.Array:
    if isinstance(x, jax.Array) and x.sharding == sharding:
        return x
    if jax.process_count() > 1:
        return jax.make_array_from_process_local_data(sharding, np.asarray(x))
    return jax.device_put(x, sharding)


def make_sharded_distill_update(
    mesh: Mesh,
    *,
    spec: Any,
    optimizer: Any,
    update_fn: Callable[..., Any] | None = None,
) -> Callable[..., Any]:
    """Distill-CF's ``update`` with the target users sharded and the summary replicated.

    Wraps the pure ``infinite_ae.distill.update(state, key, targets, weights, hparams,
    *, spec, optimizer)`` unchanged: the logits, optimiser state, key and
    hyper-parameters are replicated, ``targets`` [B, I] and ``weights`` [B] split over
    "u". Each device samples the same synthetic support (same key), factors its
    kernel, scores its own users; XLA all-reduces the weighted loss and the [S, I]
    gradient. B must divide by the device count (`pad_batch` adds zero weights).

    Args:
      mesh: from `make_user_mesh`.
      spec: `distill.DistillSpec` (static).
      optimizer: from `distill.make_optimizer` (static).
      update_fn: the update to wrap (default ``infinite_ae.distill.update``), for any
        function with the same signature (e.g. a micro-batched variant).

    Returns:
      ``step(state, key, targets, weights, hparams) -> (state, aux)``; the input
      state is donated.
    """
    if update_fn is None:
        from infinite_ae import distill

        update_fn = distill.update
    bound = functools.partial(update_fn, spec=spec, optimizer=optimizer)
    return shard_step(bound, mesh, batch_argnums=(2, 3), donate_argnums=(0,))


@functools.partial(jax.jit, static_argnums=0)
def _kernel_block(spec: kernels.KernelSpec, x: jax.Array, y: jax.Array) -> jax.Array:
    return kernels.kernel(spec, x, y)


@functools.partial(jax.jit, static_argnums=0)
def _predict_block(
    spec: kernels.KernelSpec, x: jax.Array, support: jax.Array, alpha: jax.Array
) -> jax.Array:
    return solver.kernel_ridge_scores(spec, solver.KRRModel(support, alpha), x)


def sharded_kernel(
    spec: kernels.KernelSpec, x: ArrayLike, y: ArrayLike, *, mesh: Mesh
) -> jax.Array:
    """K(x, y) with the rows of x (and of K) split over "u", y replicated.

    Each device computes its row block K[rows_d, :] from its rows of x and the whole
    (small) y: no communication. Rows are padded to a multiple of the device count
    and the padding is sliced off.

    Args:
      spec: the kernel.
      x: [Nx, I] query rows (users).
      y: [Ny, I] support rows.
      mesh: from `make_user_mesh`.

    Returns:
      [Nx, Ny] kernel, rows sharded over "u" (when Nx divides; else gathered by the
      final slice).

    >>> k = sharded_kernel(kernels.KernelSpec(), np.eye(3), np.eye(3),
    ...                    mesh=make_user_mesh(1))
    >>> k.shape
    (3, 3)
    """
    num_rows = np.shape(x)[0]
    x = shard_rows(mesh, pad_rows(np.asarray(x, np.float32), num_shards(mesh)))
    y = replicate(mesh, jnp.asarray(y, jnp.float32))
    out = _kernel_block(spec, x, y)
    return out if out.shape[0] == num_rows else out[:num_rows]


def sharded_predict(
    spec: kernels.KernelSpec,
    queries: ArrayLike,
    support: ArrayLike,
    alpha: ArrayLike,
    *,
    mesh: Mesh,
) -> jax.Array:
    """∞-AE scores K(queries, support) α with the query users split over "u".

    Args:
      spec: the kernel.
      queries: [Q, I] query rows.
      support: [S, I] support rows (replicated).
      alpha: [S, I] dual coefficients (replicated).
      mesh: from `make_user_mesh`.

    Returns:
      [Q, I] scores, rows sharded over "u".
    """
    num_rows = np.shape(queries)[0]
    queries = shard_rows(
        mesh, pad_rows(np.asarray(queries, np.float32), num_shards(mesh))
    )
    support, alpha = replicate(mesh, (jnp.asarray(support), jnp.asarray(alpha)))
    out = _predict_block(spec, queries, support, alpha)
    return out if out.shape[0] == num_rows else out[:num_rows]
