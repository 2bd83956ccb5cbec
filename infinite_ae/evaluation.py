"""The one full-ranking evaluator, shared by every model, job and trainer.

Protocol (the ∞-AE paper's):

* `split="val"`: query rows = train rows, mask = train, targets = val.
* `split="test"`: query rows = train + val rows, mask = train + val, targets = test
  (``mask="train"`` keeps the validation items rankable at test, the RecBole full
  sort that DConRec uses).
* Every item is ranked; masked (seen) items are set to -inf before `jax.lax.top_k`.
* Metric definitions are those of `infinite_ae.metrics` (`hr@k` is the ∞-AE HR, i.e.
  truncated recall; `recall@k` divides by |T|; `hit@k` is binary; `psp@k` keeps the
  ∞-AE normalisation and `psp_norm@k` is normalised). Ranking metrics are ×100 like
  the paper; `auc` and `user_auc` are raw, in [0, 1].
* `auc` is the ∞-AE pooled AUC: one ROC over the held-out positives of all users
  against their sampled negatives (`metrics.sample_auc_negatives`), with UNMASKED
  scores. At `split="val"` the same negatives are used against the validation items,
  as in the original (the negatives exclude train and test items only).
* `user_auc` is the mean per-user AUC over the same pairs (ties count 1/2).
* Sparse inputs are canonicalised first: explicit (stored) zeros are not
  interactions, and duplicate entries count once.

Users with an empty held-out set (the original crashes on them) are skipped: they do
not enter any metric, the pooled AUC included, and are counted in
`num_users_skipped_empty`. The averaging denominator of the ranking metrics is

* `average="all"` (default): all users of the split (every user, or `users`), so a
  skipped user counts as 0 (the original's convention; the paper numbers use it).
* `average="evaluated"`: only users with a non-empty held-out set.

`user_auc` is always averaged over users where it is defined (non-empty positives and
negatives), because 0 is not a neutral value for an AUC.

Scorers come in two forms:

* a host scorer ``score_fn(query_rows [B, I], users [B]) -> [B, I]``, any callable
  (e.g. ``model.score``), called once per batch;
* a pure scorer with parameters, ``score_fn(params, query_rows [B, I]) -> [B, I]``
  and ``params=...`` (e.g. ``solver.krr_score_fn(spec)`` with a `solver.KRRModel`):
  scoring, masking, top-k and the metrics then run as ONE jitted program per batch,
  with ``params`` replicated.

Batches: ``batch_size`` users at a time, or a batch size planned from a memory budget
(``budget_bytes``, `tiles.plan_tiles` with `tiles.evaluation_row_bytes`). Only one
batch of rows is densified at a time, so memory is independent of the number of
users. With ``mesh`` (`sharding.make_user_mesh`) every batch is split over the
devices' user axis (the batch size is rounded up to a multiple of the device count).
The last batch is padded by repeating its last user, so the jitted per-batch function
compiles once; padded rows are dropped on the host. Batch b is collected after batch
b+1 is queued, so the host densifies while the device works. Batched, budget-tiled
and sharded runs give the same metrics (per-user values are combined on the host in
float64). Non-finite scores raise `solver.NonFiniteError` naming the first user.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse as sp

from infinite_ae import metrics as metrics_lib
from infinite_ae import progress as progress_lib
from infinite_ae import sharding, solver, tiles
from infinite_ae.types import ArrayLike

SPLIT_NAMES = ("val", "test")
AVERAGES = ("all", "evaluated")
MASKS = ("query", "train", "none")
DEFAULT_BATCH_SIZE = 1024
SCALE = 100.0
"""Ranking metrics are reported ×100, like the paper; AUCs are raw."""

ScoreFn = Callable[..., ArrayLike]

# Incremented each time a per-batch metric function is traced; tests read it to
# check that a whole evaluation compiles once.
_trace_count = 0


def batch_metrics(
    scores: ArrayLike,
    targets: ArrayLike,
    mask: ArrayLike | None,
    *,
    ks: Sequence[int] = (10, 100),
    weights: ArrayLike | None = None,
    psp_ideal: ArrayLike | None = None,
    positives: ArrayLike | None = None,
    negatives: ArrayLike | None = None,
) -> dict[str, jax.Array]:
    """Per-user metrics of one batch; the pure, jit-able building block of `evaluate`.

    Runs `metrics.ranking_metrics` (one top-k at max(ks)) and, for the AUCs, gathers
    the UNMASKED scores of each user's positives and sampled negatives (the AUCs
    themselves are computed on the host: `metrics.global_auc`, `metrics.grouped_auc`).

    Args:
        scores: [B, I] float scores, unmasked.
        targets: [B, I] binary held-out items T.
        mask: [B, I] seen items (bool, or the binary query rows: non-zero = seen), or
            None.
        ks: static cut-offs.
        weights: optional [I] PSP weights (`metrics.psp_weights`); adds `psp@k`,
            `psp_norm@k`.
        psp_ideal: optional [B, len(ks)] PSP ideals (`metrics.psp_ideal_weights`).
        positives: optional [B, P] int item indices of T, -1 padding (P ≥ max |T|).
        negatives: optional [B, N] int sampled AUC negatives, -1 padding.

    Returns:
        Dict of raw (not ×100) values: `"{name}@{k}"` [B] per-user metrics (NaN where
        |T| = 0), `"nonfinite_scores"` [B] bool and
        `"auc_pos_scores"` [B, P] / `"auc_neg_scores"` [B, N] when `positives` /
        `negatives` are given (padding entries hold the score of item 0).

    >>> out = batch_metrics(jnp.array([[2.0, 1.0, 0.0]]), jnp.array([[0, 1, 0]]),
    ...                     jnp.array([[1, 0, 0]]), ks=(1,))
    >>> float(out["hr@1"][0]), bool(out["nonfinite_scores"][0])
    (1.0, False)
    """
    scores = jnp.asarray(scores)
    if not jnp.issubdtype(scores.dtype, jnp.floating):
        scores = scores.astype(jnp.float32)
    out = metrics_lib.ranking_metrics(
        scores, targets, mask, ks=ks, weights=weights, psp_ideal=psp_ideal
    )
    # max and min propagate NaN and reach ±inf; two fused reductions are far cheaper
    # on CPU than counting isfinite.
    extremes = jnp.max(scores, axis=1) - jnp.min(scores, axis=1)
    out["nonfinite_scores"] = ~jnp.isfinite(extremes)
    for name, indices in (("auc_pos_scores", positives), ("auc_neg_scores", negatives)):
        if indices is not None:
            indices = jnp.asarray(indices)
            if indices.ndim != 2 or indices.shape[0] != scores.shape[0]:
                raise ValueError(
                    f"positives/negatives must be [B, P] with B = {scores.shape[0]}, "
                    f"got {indices.shape}"
                )
            out[name] = jnp.take_along_axis(scores, jnp.maximum(indices, 0), axis=1)
    return out


def _traced_batch_metrics(scores, targets, mask, weights, psp_ideal, pos, neg, *, ks):
    global _trace_count
    _trace_count += 1
    return batch_metrics(
        scores,
        targets,
        mask,
        ks=ks,
        weights=weights,
        psp_ideal=psp_ideal,
        positives=pos,
        negatives=neg,
    )


def _traced_fused_batch(
    score_fn, params, query, targets, weights, psp_ideal, pos, neg, *, ks, masked
):
    """Score, mask, rank and measure one batch in one program (pure scorers)."""
    scores = score_fn(params, query)
    mask = query if masked else None
    return _traced_batch_metrics(
        scores, targets, mask, weights, psp_ideal, pos, neg, ks=ks
    )


_jitted_batch_metrics = jax.jit(_traced_batch_metrics, static_argnames=("ks",))
_jitted_fused_batch = jax.jit(
    _traced_fused_batch, static_argnames=("score_fn", "ks", "masked")
)


def _canonical_csr(matrix: Any, *, name: str) -> sp.csr_matrix:
    """A CSR copy without explicit zeros or duplicates, with sorted indices."""
    if not sp.issparse(matrix):
        matrix = np.asarray(matrix)
        if matrix.ndim != 2:
            raise ValueError(f"{name} must be [U, I], got shape {matrix.shape}")
    csr = sp.csr_matrix(matrix, dtype=np.float32, copy=True)
    csr.sum_duplicates()
    csr.eliminate_zeros()
    csr.sort_indices()
    return csr


def _dense_rows(csr: sp.csr_matrix, rows: np.ndarray, dtype: Any) -> np.ndarray:
    """[len(rows), I] dense copy of the selected rows of a canonical CSR matrix."""
    if dtype == np.float32:
        # scipy's C++ row gather + todense is the fastest path for float rows.
        return csr[rows].toarray()
    out = np.zeros((rows.size, csr.shape[1]), dtype=dtype)
    starts = csr.indptr[rows].astype(np.int64)
    lengths = csr.indptr[rows + 1] - starts
    total = int(lengths.sum())
    if total:
        out_rows = np.repeat(np.arange(rows.size), lengths)
        row_offsets = starts - np.cumsum(lengths) + lengths
        positions = np.repeat(row_offsets, lengths) + np.arange(total)
        out[out_rows, csr.indices[positions]] = csr.data[positions]
    return out


def _padded_indices(csr: sp.csr_matrix, rows: np.ndarray, width: int) -> np.ndarray:
    """[len(rows), width] int32 column indices of each row, padded with -1."""
    out = np.full((rows.size, width), -1, dtype=np.int32)
    starts = csr.indptr[rows]
    lengths = csr.indptr[rows + 1] - starts
    total = int(lengths.sum())
    if total:
        out_rows = np.repeat(np.arange(rows.size), lengths)
        offsets = np.arange(total) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        out[out_rows, offsets] = csr.indices[np.repeat(starts, lengths) + offsets]
    return out


def _check_users(users: ArrayLike | None, num_users: int) -> np.ndarray:
    if users is None:
        return np.arange(num_users, dtype=np.int64)
    users = np.asarray(users)
    if users.ndim != 1 or not np.issubdtype(users.dtype, np.integer):
        raise ValueError(f"users must be a 1-D integer array, got {users.shape}")
    if users.size and (users.min() < 0 or users.max() >= num_users):
        raise ValueError(f"users must lie in [0, {num_users})")
    if users.size == 0:
        raise ValueError("no users to evaluate")
    return users.astype(np.int64)


def _check_negatives(negatives: ArrayLike | None, shape: tuple[int, int]):
    if negatives is None:
        return None
    num_users, num_items = shape
    negatives = np.asarray(negatives)
    if negatives.ndim != 2 or negatives.shape[0] != num_users:
        raise ValueError(
            f"negatives must be [U, N] = ({num_users}, N), got {negatives.shape}"
        )
    if not np.issubdtype(negatives.dtype, np.integer):
        raise ValueError(f"negatives must be integers, got {negatives.dtype}")
    if negatives.size and negatives.max() >= num_items:
        raise ValueError(f"negatives must be item indices < {num_items}")
    return negatives.astype(np.int32)


def _check_options(average: str, auc_ties: str) -> None:
    if average not in AVERAGES:
        raise ValueError(f"average must be one of {AVERAGES}, got {average!r}")
    if auc_ties not in metrics_lib.AUC_TIES:
        raise ValueError(
            f"auc_ties must be one of {metrics_lib.AUC_TIES}, got {auc_ties!r}"
        )


@dataclasses.dataclass(frozen=True)
class _Problem:
    """What one evaluation ranks: canonical matrices and per-user host inputs."""

    targets: sp.csr_matrix  # [U, I] held-out items
    query: sp.csr_matrix | None  # [U, I] query rows = seen items (None: no mask)
    users: np.ndarray  # [Q] users to evaluate
    weights: np.ndarray | None  # [I] PSP weights
    psp_ideal: np.ndarray | None  # [U, len(ks)]
    negatives: np.ndarray | None  # [U, N] AUC negatives
    width: int  # columns of the padded positive indices
    ks: tuple[int, ...]

    @property
    def num_targets(self) -> np.ndarray:
        return np.diff(self.targets.indptr)[self.users]

    def host_batch(self, padded: np.ndarray) -> dict[str, np.ndarray | None]:
        """Dense [B, ...] host inputs of the padded batch of users."""
        with_auc = self.negatives is not None
        return {
            "query": None
            if self.query is None
            else _dense_rows(self.query, padded, np.float32),
            "targets": _dense_rows(self.targets, padded, np.bool_),
            "psp_ideal": None if self.psp_ideal is None else self.psp_ideal[padded],
            "positives": _padded_indices(self.targets, padded, self.width)
            if with_auc
            else None,
            "negatives": self.negatives[padded] if with_auc else None,
        }


def _make_problem(targets, query, users, *, ks, weights, negatives) -> _Problem:
    if query is not None and query.shape != targets.shape:
        raise ValueError(f"query/mask {query.shape} and targets {targets.shape} differ")
    users = _check_users(users, targets.shape[0])
    negatives = _check_negatives(negatives, targets.shape)
    psp_ideal = None
    if weights is not None:
        weights = np.asarray(weights, np.float32)
        if weights.shape != (targets.shape[1],):
            raise ValueError(
                f"PSP weights / item_counts must be [I] = ({targets.shape[1]},), "
                f"got {weights.shape}"
            )
        psp_ideal = metrics_lib.psp_ideal_weights(targets, weights, ks=ks)
    # One positive width per evaluation (rounded up to limit recompilation).
    max_targets = int(np.diff(targets.indptr)[users].max())
    width = min(targets.shape[1], max(8, -(-max_targets // 8) * 8))
    return _Problem(targets, query, users, weights, psp_ideal, negatives, width, ks)


def _plan_batch(
    problem: _Problem,
    *,
    batch_size: int | None,
    budget_bytes: int | None,
    params: Any,
    num_support: int | None,
    shards: int,
) -> int:
    """Users per batch: explicit, planned from a byte budget, or the default."""
    num = problem.users.size
    if batch_size is not None and budget_bytes is not None:
        raise ValueError("give batch_size or budget_bytes, not both")
    if batch_size is not None and batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    if budget_bytes is None:
        batch = min(batch_size or DEFAULT_BATCH_SIZE, num)
        return -(-batch // shards) * shards
    if num_support is None:
        support = getattr(params, "support", None)
        num_support = 0 if support is None else int(np.shape(support)[0])
    param_bytes = sum(
        int(np.prod(np.shape(x))) * np.dtype(x.dtype).itemsize
        for x in jax.tree.leaves(params)
    )
    plan = tiles.plan_tiles(
        num,
        tiles.evaluation_row_bytes(problem.targets.shape[1], num_support),
        int(budget_bytes),
        fixed_bytes=param_bytes,
        multiple_of=shards,
    )
    return plan.tile_size


class _Device:
    """Places batch inputs on one device, or split over a mesh's user axis."""

    def __init__(self, mesh: Any):
        self.mesh = mesh

    @property
    def shards(self) -> int:
        return 1 if self.mesh is None else sharding.num_shards(self.mesh)

    def rows(self, x: np.ndarray | None) -> jax.Array | None:
        if x is None:
            return None
        if self.mesh is None:
            # device_put: jnp.asarray is several times slower for large host arrays.
            return jax.device_put(x)
        return sharding.shard_rows(self.mesh, x)

    def replicated(self, tree: Any) -> Any:
        if self.mesh is None:
            return jax.device_put(tree)
        return sharding.replicate(self.mesh, tree)


def _run(
    problem: _Problem,
    compute: Callable[[np.ndarray, dict[str, Any]], dict[str, jax.Array]],
    *,
    batch: int,
    average: str,
    auc_ties: str,
    return_per_user: bool,
    progress: str | None,
) -> dict[str, float] | tuple[dict[str, float], dict[str, np.ndarray]]:
    """The batched loop shared by `evaluate` and `evaluate_scores`.

    ``compute(padded_users [B], host_inputs)`` queues one batch on the device and
    returns its `batch_metrics` output. Per batch, the host keeps the [B] metric
    vectors and only the VALID AUC scores (flattened), so padded [B, width] score
    blocks never pile up for all users.
    """
    users, num_targets = problem.users, problem.num_targets
    kept: list[dict[str, np.ndarray]] = []
    auc_parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    num_groups = 0

    def collect(output, start: int) -> None:
        nonlocal num_groups
        output = jax.device_get(output)
        n = min(batch, users.size - start)
        auc_keys = ("auc_pos_scores", "auc_neg_scores")
        kept.append({k: v[:n] for k, v in output.items() if k not in auc_keys})
        if problem.negatives is None:
            return
        rows = users[start : start + n]
        counts = num_targets[start : start + n]
        ev = counts > 0
        part = _auc_pool(
            output["auc_pos_scores"][:n][ev],
            np.arange(problem.width)[None, :] < counts[ev][:, None],
            output["auc_neg_scores"][:n][ev],
            problem.negatives[rows[ev]] >= 0,
        )
        auc_parts.append((part[0], part[1], part[2] + num_groups))
        num_groups += int(ev.sum())

    starts = range(0, users.size, batch)
    bar = (
        progress_lib.Progress(len(starts), progress, unit="batch") if progress else None
    )
    pending = None
    for start in starts:
        rows = users[start : start + batch]
        padded = np.pad(rows, (0, batch - rows.size), mode="edge")
        output = compute(padded, problem.host_batch(padded))
        if pending is not None:
            collect(*pending)
        pending = (output, start)
        if bar is not None:
            bar.update()
    collect(*pending)
    if bar is not None:
        bar.close()
    per_user = {k: np.concatenate([o[k] for o in kept]) for k in kept[0]}
    return _aggregate(
        problem, per_user, auc_parts, num_groups, average, auc_ties, return_per_user
    )


def _aggregate(problem, per_user, auc_parts, num_groups, average, auc_ties, full):
    """Averages (×100, float64 on the host), pooled AUCs and the user counts."""
    users, num_targets = problem.users, problem.num_targets
    bad = np.flatnonzero(per_user.pop("nonfinite_scores"))
    if bad.size:
        raise solver.NonFiniteError(
            f"the scores of {bad.size} users are not finite (NaN or ±inf; first user "
            f"index {users[bad[0]]}); for a kernel model raise the ridge λ or use "
            "float64, and check the model's inputs"
        )
    evaluated = num_targets > 0
    num_evaluated = int(evaluated.sum())
    denominator = users.size if average == "all" else num_evaluated
    result: dict[str, float] = {}
    out_per_user = {"users": users, "num_targets": num_targets.astype(np.int32)}
    names = list(metrics_lib.RANKING_METRICS)
    if problem.weights is not None:
        names += metrics_lib.PSP_METRICS
    for key in (f"{name}@{k}" for name in names for k in problem.ks):
        values = SCALE * per_user[key].astype(np.float64)
        out_per_user[key] = values
        total = float(np.sum(values[evaluated]))
        result[key] = total / denominator if denominator else float("nan")
    if problem.negatives is not None:
        scores, labels, groups = (
            np.concatenate([p[i] for p in auc_parts]) for i in range(3)
        )
        result["auc"] = metrics_lib.global_auc(scores, labels, ties=auc_ties)
        user_auc = metrics_lib.grouped_auc(
            scores, labels, groups, num_groups=num_groups
        )
        defined = ~np.isnan(user_auc)
        result["user_auc"] = (
            float(np.mean(user_auc[defined])) if defined.any() else float("nan")
        )
        out_per_user["user_auc"] = np.full(users.size, np.nan)
        out_per_user["user_auc"][evaluated] = user_auc
    result["num_users"] = int(users.size)
    result["num_users_evaluated"] = num_evaluated
    result["num_users_skipped_empty"] = int(users.size) - num_evaluated
    return (result, out_per_user) if full else result


def _auc_pool(
    pos_scores: np.ndarray,
    pos_valid: np.ndarray,
    neg_scores: np.ndarray,
    neg_valid: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flattened (scores, labels, group) of the valid entries of [Q, P] / [Q, N].

    The pool lists each user's positives, then negatives, user by user: the order of
    the original, which matters for `ties="original"` only. Groups are 0..Q-1.
    """
    scores = np.concatenate([pos_scores, neg_scores], axis=1)
    labels = np.concatenate(
        [np.ones(pos_scores.shape, bool), np.zeros(neg_scores.shape, bool)], axis=1
    )
    valid = np.concatenate([pos_valid, neg_valid], axis=1)
    groups = np.broadcast_to(
        np.arange(scores.shape[0], dtype=np.int64)[:, None], scores.shape
    )
    return scores[valid], labels[valid], groups[valid]


def _split_matrices(data: Any, split: str, mask: str):
    """(targets, query) canonical CSR matrices of the protocol ("none" queries as
    "query" does)."""
    if split not in SPLIT_NAMES:
        raise ValueError(f"split must be one of {SPLIT_NAMES}, got {split!r}")
    if mask not in MASKS:
        raise ValueError(f"mask must be one of {MASKS}, got {mask!r}")
    train = _canonical_csr(data.train, name="train")
    targets = _canonical_csr(getattr(data, split), name=split)
    query = train
    if split == "test" and mask != "train":
        query = _canonical_csr(train + _canonical_csr(data.val, name="val"), name="q")
    if targets.shape != query.shape:
        raise ValueError(f"train {query.shape} and {split} {targets.shape} differ")
    return targets, query


def _batch_program(
    score_fn, params, device: _Device, problem: _Problem, *, batch, masked
):
    """``compute(padded_users, host_inputs)``: one batch queued on the device(s)."""
    weights = None if problem.weights is None else device.replicated(problem.weights)
    params_dev = None if params is None else device.replicated(params)
    num_items = problem.targets.shape[1]

    def compute(padded: np.ndarray, host: dict[str, Any]) -> dict[str, jax.Array]:
        placed = {k: device.rows(v) for k, v in host.items()}
        query, targets = placed["query"], placed["targets"]
        rest = (placed["psp_ideal"], placed["positives"], placed["negatives"])
        ks = problem.ks
        if params is not None:
            return _jitted_fused_batch(
                score_fn, params_dev, query, targets, weights, *rest, ks=ks,
                masked=masked,
            )  # fmt: skip
        scores = jnp.asarray(score_fn(query, padded))
        if scores.shape != (batch, num_items):
            raise ValueError(
                f"scores must be [B, I] = ({batch}, {num_items}), got {scores.shape}"
            )
        seen = query if masked else None
        return _jitted_batch_metrics(scores, targets, seen, weights, *rest, ks=ks)

    return compute


def evaluate(
    score_fn: ScoreFn,
    data: Any,
    *,
    split: str = "test",
    ks: int | Sequence[int] = (10, 100),
    batch_size: int | None = None,
    budget_bytes: int | None = None,
    params: Any = None,
    num_support: int | None = None,
    mesh: Any = None,
    negatives: ArrayLike | None = None,
    users: ArrayLike | None = None,
    average: str = "all",
    psp: bool = True,
    auc_ties: str = "half",
    return_per_user: bool = False,
    mask: str = "query",
    progress: str | None = None,
) -> dict[str, float] | tuple[dict[str, float], dict[str, np.ndarray]]:
    """Full-ranking evaluation of a scorer on the val or test split.

    Per batch of users the query rows are densified, scored, masked and compared
    with the held-out items; the module docstring gives the protocol, the scorer
    forms, batching and averaging. A reported ranking metric is
    100 · Σ_{u evaluated} metric_u@k / denominator.

    Args:
        score_fn: a host scorer ``(query_rows [B, I] float32, users [B]) -> [B, I]``
            or, with ``params``, a pure hashable ``(params, query_rows) -> [B, I]``.
            B is constant (the last batch repeats its last user).
        data: an `Interactions` (`.train`, `.val`, `.test` [U, I], `.item_counts`).
        split: "val" or "test".
        ks: cut-offs.
        batch_size: users per batch (default `DEFAULT_BATCH_SIZE`), or
        budget_bytes: a byte budget to plan the batch from (`tiles`).
        params: the pure scorer's pytree (e.g. a `solver.KRRModel`); replicated.
        num_support: S for the memory model (default: ``params.support`` rows).
        mesh: a `sharding.make_user_mesh` mesh to split batches over.
        negatives: [U, N] int AUC negatives, -1 padding; adds "auc", "user_auc".
        users: [Q] user indices to evaluate (default: all).
        average: "all" (original) or "evaluated".
        psp: add `psp@k` and `psp_norm@k` (weights from the train item counts).
        auc_ties: tie handling of the pooled AUC (`metrics.global_auc`).
        return_per_user: also return per-user values ("users", "num_targets" and
            every metric key, NaN for skipped users).
        mask: "query" (train at "val", train + val at "test"), "train" (RecBole /
            DConRec: validation items stay rankable at "test") or "none".
        progress: a description to show a progress bar and log lines under.

    Returns:
        `hr@k`, `recall@k`, `hit@k`, `precision@k`, `ndcg@k`, `mrr@k` (and PSP) ×100,
        `auc` / `user_auc` raw, `num_users`, `num_users_evaluated`,
        `num_users_skipped_empty`; with ``return_per_user`` also the per-user dict.

    Raises:
        ValueError: bad options or shapes. solver.NonFiniteError: non-finite
        scores. NotImplementedError: a mesh on a multi-process run.

    >>> import types
    >>> train = sp.csr_matrix(np.array([[1, 0, 0], [0, 1, 0]], np.float32))
    >>> test = sp.csr_matrix(np.array([[0, 1, 0], [0, 0, 1]], np.float32))
    >>> data = types.SimpleNamespace(train=train, val=train * 0, test=test,
    ...                              item_counts=np.array([1.0, 1.0, 0.0]))
    >>> out = evaluate(lambda q, u: jnp.tile(jnp.arange(3.0), (q.shape[0], 1)),
    ...                data, ks=(1,), psp=False)
    >>> out["hr@1"], out["num_users_evaluated"]
    (50.0, 2)
    """
    _check_options(average, auc_ties)
    if mesh is not None and jax.process_count() > 1:
        raise NotImplementedError(
            "evaluate(mesh=...) splits batches over this process's devices; on a "
            "multi-process run give each process its own users (users=...) and a "
            "mesh of its local devices, and combine the per-user results"
        )
    ks = metrics_lib._check_ks(ks)
    targets, query = _split_matrices(data, split, mask)
    weights = metrics_lib.psp_weights(np.asarray(data.item_counts)) if psp else None
    problem = _make_problem(
        targets, query, users, ks=ks, weights=weights, negatives=negatives
    )
    device = _Device(mesh)
    batch = _plan_batch(
        problem,
        batch_size=batch_size,
        budget_bytes=budget_bytes,
        params=params,
        num_support=num_support,
        shards=device.shards,
    )
    compute = _batch_program(
        score_fn, params, device, problem, batch=batch, masked=mask != "none"
    )
    return _run(
        problem,
        compute,
        batch=batch,
        average=average,
        auc_ties=auc_ties,
        return_per_user=return_per_user,
        progress=progress,
    )


def evaluate_scores(
    scores: ArrayLike,
    targets: Any,
    mask: Any | None = None,
    *,
    ks: int | Sequence[int] = (10, 100),
    batch_size: int | None = None,
    weights: ArrayLike | None = None,
    negatives: ArrayLike | None = None,
    users: ArrayLike | None = None,
    average: str = "all",
    auc_ties: str = "half",
    return_per_user: bool = False,
) -> dict[str, float] | tuple[dict[str, float], dict[str, np.ndarray]]:
    """`evaluate` for scores that already exist (e.g. in-sample KRR predictions).

    Same metrics, batching, skipping and averaging as `evaluate`; row u of `scores`,
    `targets`, `mask` and `negatives` belongs to user u.

    Args:
        scores: [U, I] float scores (NumPy or JAX), unmasked.
        targets: [U, I] held-out items, scipy sparse or dense binary.
        mask: optional [U, I] seen items, scipy sparse or dense binary.
        ks: cut-offs.
        batch_size: users per batch.
        weights: optional [I] PSP weights (`metrics.psp_weights`); adds `psp@k` and
            `psp_norm@k`.
        negatives: optional [U, N] int AUC negatives, -1 padding.
        users: optional [Q] rows to evaluate (default: all rows).
        average: "all" or "evaluated" (see the module docstring).
        auc_ties: tie handling of the pooled AUC.
        return_per_user: also return the per-user values (see `evaluate`).

    Returns:
        As `evaluate`.

    >>> scores = np.array([[0.0, 1.0, 2.0]], np.float32)
    >>> out = evaluate_scores(scores, np.array([[0, 1, 0]]), np.array([[0, 0, 1]]),
    ...                       ks=(1,))
    >>> out["ndcg@1"]
    100.0
    """
    _check_options(average, auc_ties)
    ks = metrics_lib._check_ks(ks)
    targets = _canonical_csr(targets, name="targets")
    mask = None if mask is None else _canonical_csr(mask, name="mask")
    if not isinstance(scores, jax.Array):
        scores = np.asarray(scores)
    if scores.shape != targets.shape:
        raise ValueError(f"scores {scores.shape} and targets {targets.shape} differ")
    problem = _make_problem(
        targets, mask, users, ks=ks, weights=weights, negatives=negatives
    )
    batch = _plan_batch(
        problem,
        batch_size=batch_size,
        budget_bytes=None,
        params=None,
        num_support=None,
        shards=1,
    )
    weights_dev = None if weights is None else jnp.asarray(weights, jnp.float32)

    def compute(padded: np.ndarray, host: dict[str, Any]) -> dict[str, jax.Array]:
        rows = scores[padded]
        placed = {k: None if v is None else jax.device_put(v) for k, v in host.items()}
        return _jitted_batch_metrics(
            jax.device_put(rows),
            placed["targets"],
            placed["query"],
            weights_dev,
            placed["psp_ideal"],
            placed["positives"],
            placed["negatives"],
            ks=ks,
        )

    return _run(
        problem,
        compute,
        batch=batch,
        average=average,
        auc_ties=auc_ties,
        return_per_user=return_per_user,
        progress=None,
    )
