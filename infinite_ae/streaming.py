"""Memory-budgeted tiles, and ∞-AE evaluation streamed over all users from CSR.

Nothing here materialises a [U, I] or [U, U] array. The unit of work is a tile of B
users: its rows are densified straight from the sparse matrices, scored against a
small replicated support, ranked and reduced to metric sums, then dropped. Memory is
therefore O(nnz) for the sparse data + O(S·I) for the support + O(B·(I + S)) for one
tile, i.e. linear in the number of users, and B is chosen from a byte budget
(`plan_tiles`), not by hand.

Memory model of one evaluation tile (float32, `evaluation_row_bytes`), per user row:
the dense query rows (also the seen-item mask), the scores, the masked copy and the
top-k work space (4 × 4·I bytes on the device), the held-out rows (1·I, bool), the
host-side dense copies of the query and held-out rows (5·I), and the kernel row
K(x, X_S) with its elementwise intermediates (≈ 6 × 4·S). At Netflix shape
(I = 17,770, S = 500) that is ≈ 0.40 MB per user: a 1 GiB budget gives 2,476 users
per tile. The replicated support costs `support_bytes` (X_S, α and
K_SS) once.

Evaluation protocol and metric definitions are exactly those of
`infinite_ae.evaluation.evaluate` (the per-tile work calls its pure
`evaluation.batch_metrics`): ``split="val"`` queries the train rows and predicts val;
``split="test"`` queries train + val and predicts test; seen items are masked with
-inf; users with an empty held-out set are skipped; ``average="all"`` divides by all
users. Per tile, each metric is summed on the device (float32, over ≤ B users) and
accumulated on the host in float64, so results match `evaluate` to float32 rounding
(`tests/streaming_test.py`: ≤ 1e-5 relative).

With ``mesh`` (`infinite_ae.sharding.make_user_mesh`) every tile is split over the
devices' user axis and the support is replicated; the tile size is rounded to a
multiple of the device count (padding rows carry no held-out items and do not count).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse as sp
from absl import logging

from infinite_ae import evaluation, kernels, metrics, solver
from infinite_ae import sharding as sharding_lib
from infinite_ae.types import ArrayLike

DEFAULT_BUDGET_BYTES = 1 << 30
"""Default device+host budget for the per-tile intermediates (1 GiB)."""

_FLOAT_BYTES = 4


@dataclasses.dataclass(frozen=True)
class TilePlan:
    """How many rows per tile, derived from a byte budget.

    Attributes:
      num_rows: rows to cover.
      tile_size: rows per tile (a multiple of ``multiple_of``).
      num_tiles: ceil(num_rows / tile_size).
      row_bytes: estimated bytes per row of a tile.
      fixed_bytes: bytes that do not depend on the tile size (e.g. the support).
      budget_bytes: the budget the plan was made for.
    """

    num_rows: int
    tile_size: int
    num_tiles: int
    row_bytes: int
    fixed_bytes: int
    budget_bytes: int

    @property
    def padded_rows(self) -> int:
        """num_tiles · tile_size."""
        return self.num_tiles * self.tile_size

    @property
    def peak_bytes(self) -> int:
        """Estimated peak: fixed_bytes + tile_size · row_bytes."""
        return self.fixed_bytes + self.tile_size * self.row_bytes

    def slices(self) -> Iterator[tuple[int, int]]:
        """(start, stop) of each tile; the last one may be short."""
        for start in range(0, self.num_rows, self.tile_size):
            yield start, min(start + self.tile_size, self.num_rows)


def plan_tiles(
    num_rows: int,
    row_bytes: int,
    budget_bytes: int,
    *,
    fixed_bytes: int = 0,
    multiple_of: int = 1,
    max_tile: int | None = None,
) -> TilePlan:
    """The largest tile that fits ``budget_bytes``, balanced over the rows.

    ``tile = (budget − fixed) // row_bytes`` rounded down to ``multiple_of``, capped at
    ``max_tile`` and at ``num_rows`` (rounded up to ``multiple_of``); then shrunk to
    ``ceil(num_rows / num_tiles)`` (rounded up to ``multiple_of``) so the tiles are
    equally full and the last one wastes little padding.

    Args:
      num_rows: rows to cover (users).
      row_bytes: bytes per row of a tile (e.g. `evaluation_row_bytes`).
      budget_bytes: total bytes the tiles may use, including ``fixed_bytes``.
      fixed_bytes: bytes independent of the tile (e.g. `support_bytes`).
      multiple_of: tile sizes are multiples of this (the device count).
      max_tile: upper bound on the tile size.

    Returns:
      A `TilePlan`.

    Raises:
      ValueError: if not even ``multiple_of`` rows fit the budget (the message
        gives the minimum budget).

    >>> plan = plan_tiles(10_000, 1_000, 3_000_000)
    >>> plan.tile_size, plan.num_tiles
    (2500, 4)
    """
    if num_rows < 1 or row_bytes < 1 or multiple_of < 1:
        raise ValueError(
            f"need positive num_rows, row_bytes, multiple_of; got {num_rows}, "
            f"{row_bytes}, {multiple_of}"
        )

    def ceil_div(a: int, b: int) -> int:
        return -(-a // b)

    available = int(budget_bytes) - int(fixed_bytes)
    tile = available // int(row_bytes) // multiple_of * multiple_of
    if tile < multiple_of:
        need = fixed_bytes + multiple_of * row_bytes
        raise ValueError(
            f"budget {budget_bytes / 2**20:.1f} MiB is too small: "
            f"{fixed_bytes / 2**20:.1f} MiB fixed + {row_bytes / 2**10:.1f} KiB "
            "per row needs at least "
            f"{need / 2**20:.1f} MiB for {multiple_of} row(s)"
        )
    cap = ceil_div(num_rows, multiple_of) * multiple_of
    if max_tile is not None:
        cap = min(cap, max(multiple_of, max_tile // multiple_of * multiple_of))
    tile = min(tile, cap)
    num_tiles = ceil_div(num_rows, tile)
    tile = ceil_div(ceil_div(num_rows, num_tiles), multiple_of) * multiple_of
    return TilePlan(
        num_rows=int(num_rows),
        tile_size=int(tile),
        num_tiles=ceil_div(num_rows, tile),
        row_bytes=int(row_bytes),
        fixed_bytes=int(fixed_bytes),
        budget_bytes=int(budget_bytes),
    )


def evaluation_row_bytes(num_items: int, num_support: int) -> int:
    """Estimated bytes per user of one evaluation tile (module docstring).

    >>> evaluation_row_bytes(17_770, 500) // 1000
    402
    """
    device = 4 * _FLOAT_BYTES * num_items + num_items  # query, scores, masked, top-k
    host = (_FLOAT_BYTES + 1) * num_items  # dense query + held-out rows
    kernel = 6 * _FLOAT_BYTES * num_support
    return int(device + host + kernel)


def support_bytes(num_support: int, num_items: int) -> int:
    """Bytes of the replicated support: X_S and α [S, I], K_SS and its factor [S, S].

    >>> support_bytes(500, 17_770)
    73080000
    """
    return int(_FLOAT_BYTES * (2 * num_support * num_items + 2 * num_support**2))


def distill_row_bytes(num_items: int, num_support: int) -> int:
    """Estimated bytes per real user of one Distill-CF step (forward + backward).

    Per user: the dense target row on host and device, the predictions, their
    log-softmax and the cotangents of both (≈ 6 × 4·I), and the kernel row with its
    recurrence intermediates kept for the backward pass (≈ 12 × 4·S).

    >>> distill_row_bytes(17_770, 500) // 1000
    521
    """
    return int(
        6 * _FLOAT_BYTES * num_items
        + _FLOAT_BYTES * num_items
        + 12 * _FLOAT_BYTES * num_support
    )


def distill_fixed_bytes(num_support: int, num_items: int) -> int:
    """Bytes of a Distill-CF step independent of the batch: logits, Adam moments,
    the sampled support and its gradient, α and its cotangent, K_SS work (≈ 10 [S, I]
    + 4 [S, S] float32)."""
    return int(_FLOAT_BYTES * (10 * num_support * num_items + 4 * num_support**2))


# ---------------------------------------------------------------------------------
# ∞-AE scoring on a support.


class KRRParams(NamedTuple):
    """A fitted ∞-AE on a (small) support: what a scorer needs, replicated.

    Attributes:
      support: [S, I] support rows X_S (sampled users or a distilled summary).
      alpha: [S, I] dual coefficients (K_SS + ridge·I)⁻¹ X_S.
    """

    support: jax.Array
    alpha: jax.Array


@functools.partial(jax.jit, static_argnums=0)
def _fit_support(spec: kernels.KernelSpec, support: jax.Array, reg: jax.Array):
    k_ss = kernels.kernel(spec, support)
    return solver.fit_krr(k_ss, support, reg).alpha


def fit_support(spec: kernels.KernelSpec, support: ArrayLike, reg: float) -> KRRParams:
    """Fits ∞-AE on a support: α = (K(X_S) + reg·tr(K)/S·I)⁻¹ X_S (relative ridge).

    Args:
      spec: the kernel.
      support: [S, I] support rows (dense or CSR).
      reg: relative ridge λ (`solver.fit_krr` convention).

    Returns:
      `KRRParams(support [S, I] float32, alpha [S, I])`.
    """
    if sp.issparse(support):
        support = support.toarray()
    support = jnp.asarray(support, jnp.float32)
    if support.ndim != 2:
        raise ValueError(f"support must be [S, I], got {support.shape}")
    return KRRParams(support, _fit_support(spec, support, jnp.float32(reg)))


@functools.cache
def krr_score_fn(
    spec: kernels.KernelSpec,
) -> Callable[[KRRParams, jax.Array], jax.Array]:
    """``score(params, query_rows [B, I]) -> K(query_rows, X_S) α`` [B, I] (pure).

    Cached per spec, so a jitted evaluation that takes it as a static argument
    compiles once per spec.
    """

    def score(params: KRRParams, query_rows: jax.Array) -> jax.Array:
        k_qs = kernels.kernel(spec, query_rows, params.support)
        return jnp.matmul(k_qs, params.alpha, precision="highest")

    return score


# ---------------------------------------------------------------------------------
# Streamed evaluation.


def _tile_outputs(
    score_fn,
    params,
    query,
    targets,
    weights,
    psp_ideal,
    positives,
    negatives,
    *,
    ks,
    metric_names,
):
    scores = score_fn(params, query)
    out = evaluation.batch_metrics(
        scores,
        targets,
        query,
        ks=ks,
        weights=weights,
        psp_ideal=psp_ideal,
        positives=positives,
        negatives=negatives,
    )
    evaluated = jnp.sum(targets, axis=1, dtype=jnp.int32) > 0
    result = {
        name: jnp.sum(jnp.where(evaluated, out[name], 0.0)) for name in metric_names
    }
    # max propagates NaN (cheaper than counting isnan on CPU).
    has_nan = jnp.isnan(jnp.max(scores, axis=1))
    result["num_nan_users"] = jnp.sum(has_nan, dtype=jnp.int32)
    for name in ("auc_pos_scores", "auc_neg_scores"):
        if name in out:
            result[name] = out[name]
    return result


_jitted_tile_outputs = jax.jit(
    _tile_outputs, static_argnames=("score_fn", "ks", "metric_names")
)


def _padded_indices(csr: sp.csr_matrix, width: int) -> np.ndarray:
    """[rows, width] int32 column indices of each row of a CSR tile, -1 padding."""
    out = np.full((csr.shape[0], width), -1, dtype=np.int32)
    lengths = np.diff(csr.indptr)
    rows = np.repeat(np.arange(csr.shape[0]), lengths)
    offsets = np.arange(csr.nnz) - np.repeat(csr.indptr[:-1], lengths)
    out[rows, offsets] = csr.indices
    return out


def _canonical(matrix: Any) -> sp.csr_matrix:
    csr = matrix if sp.isspmatrix_csr(matrix) else sp.csr_matrix(matrix)
    if not csr.has_canonical_format:
        csr = csr.copy()
        csr.sum_duplicates()
    return csr


def evaluate_streamed(
    score_fn: Callable[[Any, jax.Array], jax.Array],
    params: Any,
    data: Any,
    *,
    split: str = "test",
    ks: int | Sequence[int] = (10, 100),
    budget_bytes: int = DEFAULT_BUDGET_BYTES,
    num_support: int | None = None,
    tile_size: int | None = None,
    negatives: ArrayLike | None = None,
    users: ArrayLike | None = None,
    average: str = "all",
    psp: bool = True,
    auc_ties: str = "half",
    mesh: Any = None,
    log_every_seconds: float = 60.0,
) -> dict[str, float]:
    """Full-ranking evaluation over all users in memory-budgeted tiles.

    Same protocol and output keys as `evaluation.evaluate` (module docstring), but
    the scorer is a pure function of replicated parameters, so each tile runs as one
    jitted program (score → mask → top-k → metric sums) and only scalars come back
    (plus the gathered AUC scores when ``negatives`` is given).

    Args:
      score_fn: pure ``score_fn(params, query_rows [B, I] float32) -> [B, I]``,
        hashable (static under jit; e.g. `krr_score_fn(spec)`).
      params: pytree of arrays the scorer needs (e.g. `KRRParams`); replicated.
      data: an `Interactions` (``train``, ``val``, ``test`` CSR, ``item_counts``).
      split: "val" or "test".
      ks: cut-offs.
      budget_bytes: budget of one tile's intermediates plus the replicated params.
      num_support: S for the memory estimate (default: the leading dimension of
        ``params.support`` if present, else 0).
      tile_size: explicit users per tile (overrides the budget).
      negatives: optional [U, N] int AUC negatives (-1 padding); adds "auc" and
        "user_auc" (the gathered scores, ≈ 12 bytes per pair, stay on the host).
      users: optional [Q] user indices (default: all users).
      average: "all" or "evaluated" (as `evaluate`).
      psp: add psp@k / psp_norm@k with `metrics.psp_weights` of the train counts.
      auc_ties: tie handling of the pooled AUC.
      mesh: optional `sharding.make_user_mesh` mesh: tiles are split over its user
        axis, params replicated.
      log_every_seconds: progress log period.

    Returns:
      Dict as `evaluation.evaluate`, plus "num_tiles" and "tile_size".

    Raises:
      ValueError: bad options, shapes, or NaN scores.
    """
    if split not in evaluation.SPLIT_NAMES:
        raise ValueError(
            f"split must be one of {evaluation.SPLIT_NAMES}, got {split!r}"
        )
    if average not in evaluation.AVERAGES:
        raise ValueError(
            f"average must be one of {evaluation.AVERAGES}, got {average!r}"
        )
    ks = metrics._check_ks(ks)
    train = _canonical(data.train)
    val = _canonical(data.val)
    targets_csr = _canonical(getattr(data, split))
    num_users, num_items = train.shape
    if targets_csr.shape != train.shape:
        raise ValueError(f"train {train.shape} and {split} {targets_csr.shape} differ")
    users = evaluation._check_users(users, num_users)
    if users.size == 0:
        raise ValueError("no users to evaluate")
    contiguous = users.size == num_users and bool(np.all(users == np.arange(num_users)))

    weights = None
    names = list(metrics.RANKING_METRICS)
    if psp:
        weights = metrics.psp_weights(np.asarray(data.item_counts))
        if weights.shape != (num_items,):
            raise ValueError(f"item_counts must be [I] = ({num_items},)")
        names += list(metrics.PSP_METRICS)
    metric_names = tuple(f"{n}@{k}" for n in names for k in ks)

    if negatives is not None:
        if jax.process_count() > 1:
            raise NotImplementedError("AUC negatives are single-process only")
        negatives = np.asarray(negatives)
        if negatives.ndim != 2 or negatives.shape[0] != num_users:
            raise ValueError(f"negatives must be [U, N], got {negatives.shape}")
        negatives = negatives.astype(np.int32)
        num_targets_all = np.diff(targets_csr.indptr)[users]
        max_targets = int(num_targets_all.max())
        width = min(num_items, max(8, -(-max_targets // 8) * 8))

    multiple = 1 if mesh is None else sharding_lib.num_shards(mesh)
    if num_support is None:
        support = getattr(params, "support", None)
        num_support = 0 if support is None else int(support.shape[0])
    param_bytes = sum(
        int(np.prod(x.shape)) * x.dtype.itemsize for x in jax.tree.leaves(params)
    )
    if tile_size is not None:
        tile = -(-int(tile_size) // multiple) * multiple
        plan = TilePlan(
            users.size,
            tile,
            -(-users.size // tile),
            evaluation_row_bytes(num_items, num_support),
            param_bytes,
            budget_bytes,
        )
    else:
        plan = plan_tiles(
            users.size,
            evaluation_row_bytes(num_items, num_support),
            budget_bytes,
            fixed_bytes=param_bytes,
            multiple_of=multiple,
        )
    tile = plan.tile_size

    if mesh is None:
        place_rows = jax.device_put
        weights_dev = None if weights is None else jnp.asarray(weights)
    else:
        params = sharding_lib.replicate(mesh, params)

        def place_rows(x):
            return sharding_lib.shard_rows(mesh, x)

        weights_dev = None if weights is None else sharding_lib.replicate(mesh, weights)
    if mesh is None:
        params = jax.device_put(params)

    def host_tile(start: int, stop: int):
        if contiguous:
            rows = slice(start, stop)
        else:
            rows = users[start:stop]
        query = train[rows]
        if split == "test":
            query = query + val[rows]
        target_tile = targets_csr[rows]
        pad = tile - (stop - start)
        dense_query = np.zeros((tile, num_items), np.float32)
        query.toarray(out=dense_query[: stop - start])
        dense_targets = np.zeros((tile, num_items), np.bool_)
        target_tile.astype(np.bool_).toarray(out=dense_targets[: stop - start])
        inputs = {
            "query": dense_query,
            "targets": dense_targets,
            "psp_ideal": None,
            "positives": None,
            "negatives": None,
        }
        if weights is not None:
            ideal = metrics.psp_ideal_weights(target_tile, weights, ks=ks)
            inputs["psp_ideal"] = np.pad(ideal, ((0, pad), (0, 0)))
        if negatives is not None:
            inputs["positives"] = np.pad(
                _padded_indices(target_tile, width),
                ((0, pad), (0, 0)),
                constant_values=-1,
            )
            neg_rows = negatives[users[start:stop]]
            inputs["negatives"] = np.pad(
                neg_rows, ((0, pad), (0, 0)), constant_values=-1
            )
        num_targets = np.zeros(tile, np.int64)
        num_targets[: stop - start] = np.diff(target_tile.indptr)
        return inputs, num_targets

    def dispatch(inputs):
        placed = {k: None if v is None else place_rows(v) for k, v in inputs.items()}
        return _jitted_tile_outputs(
            score_fn,
            params,
            placed["query"],
            placed["targets"],
            weights_dev,
            placed["psp_ideal"],
            placed["positives"],
            placed["negatives"],
            ks=ks,
            metric_names=metric_names,
        )

    sums = dict.fromkeys(metric_names, 0.0)
    num_nan_users = 0
    num_evaluated = 0
    auc_scores: list[np.ndarray] = []
    auc_labels: list[np.ndarray] = []
    auc_groups: list[np.ndarray] = []
    pending = None
    last_log = time.perf_counter()

    def collect(item) -> None:
        nonlocal num_nan_users, num_evaluated
        outputs, num_targets, neg_valid = item
        outputs = jax.device_get(outputs)
        for name in metric_names:
            sums[name] += float(outputs[name])
        num_nan_users += int(outputs["num_nan_users"])
        evaluated = num_targets > 0
        if negatives is not None:
            # Per user: its positives, then its negatives (the order of `evaluate`).
            pos = outputs["auc_pos_scores"][evaluated]
            neg = outputs["auc_neg_scores"][evaluated]
            pos_valid = np.arange(width)[None, :] < num_targets[evaluated][:, None]
            scores_2d = np.concatenate([pos, neg], axis=1)
            labels_2d = np.concatenate(
                [np.ones(pos.shape, bool), np.zeros(neg.shape, bool)], axis=1
            )
            valid_2d = np.concatenate([pos_valid, neg_valid[evaluated]], axis=1)
            groups = np.broadcast_to(
                (num_evaluated + np.arange(pos.shape[0]))[:, None], scores_2d.shape
            )
            auc_scores.append(scores_2d[valid_2d])
            auc_labels.append(labels_2d[valid_2d])
            auc_groups.append(groups[valid_2d].astype(np.int64))
        num_evaluated += int(evaluated.sum())

    start_time = time.perf_counter()
    for index, (start, stop) in enumerate(plan.slices()):
        inputs, num_targets = host_tile(start, stop)
        neg_valid = None if negatives is None else inputs["negatives"] >= 0
        outputs = dispatch(inputs)
        del inputs
        # Collect the previous tile after queueing this one, so that the host
        # densifies tile t+1 while the device still works on tile t.
        if pending is not None:
            collect(pending)
        pending = (outputs, num_targets, neg_valid)
        now = time.perf_counter()
        if now - last_log > log_every_seconds:
            last_log = now
            logging.info(
                "evaluate_streamed %s: tile %d/%d (%.0f s)",
                split,
                index + 1,
                plan.num_tiles,
                now - start_time,
            )
    collect(pending)

    if num_nan_users:
        raise ValueError(f"the scores of {num_nan_users} users contain NaN")
    denominator = users.size if average == "all" else num_evaluated
    result: dict[str, float] = {}
    for name in metric_names:
        result[name] = (
            evaluation.SCALE * sums[name] / denominator if denominator else math.nan
        )
    if negatives is not None:
        scores = np.concatenate(auc_scores)
        labels = np.concatenate(auc_labels)
        groups = np.concatenate(auc_groups)
        result["auc"] = metrics.global_auc(scores, labels, ties=auc_ties)
        user_auc = metrics.grouped_auc(scores, labels, groups, num_groups=num_evaluated)
        defined = ~np.isnan(user_auc)
        result["user_auc"] = (
            float(np.mean(user_auc[defined])) if defined.any() else math.nan
        )
    result["num_users"] = int(users.size)
    result["num_users_evaluated"] = num_evaluated
    result["num_users_skipped_empty"] = int(users.size) - num_evaluated
    result["num_tiles"] = plan.num_tiles
    result["tile_size"] = tile
    return result


def evaluate_krr_streamed(
    spec: kernels.KernelSpec, params: KRRParams, data: Any, **kwargs: Any
) -> dict[str, float]:
    """`evaluate_streamed` with the ∞-AE scorer `krr_score_fn(spec)`."""
    return evaluate_streamed(krr_score_fn(spec), params, data, **kwargs)
