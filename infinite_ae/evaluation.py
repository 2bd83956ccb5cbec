"""Full-ranking evaluation protocol over user batches, shared by every model.

Protocol (the ∞-AE code's `eval.py`, `../shared/methods/infinite_ae_and_distill_cf.md`
§4):

* `split="val"`: query rows = train rows, mask = train, targets = val.
* `split="test"`: query rows = train + val rows, mask = train + val, targets = test.
* Every item is ranked; masked (seen) items are set to -inf before `jax.lax.top_k`.
* Metric definitions are those of `infinite_ae.metrics` (`hr@k` is the ∞-AE HR, i.e.
  truncated recall; `recall@k` divides by |T|; `hit@k` is binary; `psp@k` keeps the
  ∞-AE quirk and `psp_norm@k` is normalised). Ranking metrics are ×100 like the
  paper; `auc` and `user_auc` are raw, in [0, 1].
* `auc` is the ∞-AE pooled AUC: one ROC over the held-out positives of all users
  against their sampled negatives (`metrics.sample_auc_negatives`), with UNMASKED
  scores. At `split="val"` the same negatives are used against the validation items,
  as in the original (the negatives exclude train and test items only).
* `user_auc` is the mean per-user AUC over the same pairs (ties count 1/2).

Users with an empty held-out set (the original crashes on them) are skipped: they do
not enter any metric, the pooled AUC included, and are counted in
`num_users_skipped_empty`. The averaging denominator of the ranking metrics is

* `average="all"` (default): all users of the split (every user, or `users`), so a
  skipped user counts as 0. This is the original's convention: it divides by the total
  number of users, and the paper numbers come from it. On ML-1M every user has test
  items, so both conventions agree on the test split.
* `average="evaluated"`: only users with a non-empty held-out set.

`user_auc` is always averaged over users where it is defined (non-empty positives and
negatives), because 0 is not a neutral value for an AUC.

Memory is independent of the number of users: only one batch of rows is densified at a
time. The last batch is padded (by repeating its last user) to the batch size, so the
jitted per-batch metric function compiles once per evaluation shape; padded rows are
dropped on the host. Per-batch results stay on the device until the end, so the host
can densify the next batch while the device works. NaN scores raise a ValueError.

Cost (measured; ML-1M shape 6,040 x 3,706, ks=(10, 100), batch 1024, scores already
computed, 2-core CPU shared with other jobs): one split takes about 0.35 s of CPU time
with PSP and 0.45 s with both AUCs, of which about 0.22 s is the single
`jax.lax.top_k`; wall time was 0.41-0.43 s when the machine was quiet. The original's
per-user Python loop takes about 28 s.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse as sp

from infinite_ae import metrics as metrics_lib
from infinite_ae.types import ArrayLike

SPLIT_NAMES = ("val", "test")
AVERAGES = ("all", "evaluated")
DEFAULT_BATCH_SIZE = 1024
SCALE = 100.0
"""Ranking metrics are reported ×100, like the paper; AUCs are raw."""

ScoreFn = Callable[[jax.Array, np.ndarray], ArrayLike]

# Incremented each time the per-batch metric function is traced; tests read it to
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
        |T| = 0), `"has_nan_scores"` [B] bool and
        `"auc_pos_scores"` [B, P] / `"auc_neg_scores"` [B, N] when `positives` /
        `negatives` are given (padding entries hold the score of item 0).

    >>> out = batch_metrics(jnp.array([[2.0, 1.0, 0.0]]), jnp.array([[0, 1, 0]]),
    ...                     jnp.array([[1, 0, 0]]), ks=(1,))
    >>> float(out["hr@1"][0]), bool(out["has_nan_scores"][0])
    (1.0, False)
    """
    scores = jnp.asarray(scores)
    if not jnp.issubdtype(scores.dtype, jnp.floating):
        scores = scores.astype(jnp.float32)
    out = metrics_lib.ranking_metrics(
        scores, targets, mask, ks=ks, weights=weights, psp_ideal=psp_ideal
    )
    # max propagates NaN; it fuses far better on CPU than counting isnan (~0.2 s of
    # CPU time per ML-1M evaluation saved).
    out["has_nan_scores"] = jnp.isnan(jnp.max(scores, axis=1))
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


def _traced_batch_metrics(
    scores, targets, mask, weights, psp_ideal, positives, negatives, *, ks
):
    global _trace_count
    _trace_count += 1
    return batch_metrics(
        scores,
        targets,
        mask,
        ks=ks,
        weights=weights,
        psp_ideal=psp_ideal,
        positives=positives,
        negatives=negatives,
    )


_jitted_batch_metrics = jax.jit(_traced_batch_metrics, static_argnames=("ks",))


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
    return users.astype(np.int64)


def _check_options(average: str, auc_ties: str, batch_size: int) -> None:
    if average not in AVERAGES:
        raise ValueError(f"average must be one of {AVERAGES}, got {average!r}")
    if auc_ties not in metrics_lib.AUC_TIES:
        raise ValueError(
            f"auc_ties must be one of {metrics_lib.AUC_TIES}, got {auc_ties!r}"
        )
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")


def _run(
    get_scores: Callable[[np.ndarray, jax.Array | None], jax.Array],
    targets: sp.csr_matrix,
    mask: sp.csr_matrix | None,
    users: np.ndarray,
    *,
    ks: tuple[int, ...],
    batch_size: int,
    weights: jax.Array | None,
    negatives: np.ndarray | None,
    average: str,
    auc_ties: str,
    return_per_user: bool,
) -> dict[str, float] | tuple[dict[str, float], dict[str, np.ndarray]]:
    """Batched loop shared by `evaluate` and `evaluate_scores`.

    `get_scores(padded_rows [B], mask_rows [B, I] float32 jax.Array | None)` returns
    the [B, I] scores of the padded batch.
    """
    num_users, num_items = targets.shape
    if users.size == 0:
        raise ValueError("no users to evaluate")
    if negatives is not None:
        negatives = np.asarray(negatives)
        if negatives.ndim != 2 or negatives.shape[0] != num_users:
            raise ValueError(
                f"negatives must be [U, N] = ({num_users}, N), got {negatives.shape}"
            )
        if not np.issubdtype(negatives.dtype, np.integer):
            raise ValueError(f"negatives must be integers, got {negatives.dtype}")
        if negatives.size and negatives.max() >= num_items:
            raise ValueError(f"negatives must be item indices < {num_items}")
        negatives = negatives.astype(np.int32)
    num_targets = np.diff(targets.indptr)[users]
    psp_ideal = None
    if weights is not None:
        psp_ideal = metrics_lib.psp_ideal_weights(targets, weights, ks=ks)
    # One positive width per evaluation (rounded up to limit recompilation).
    max_targets = int(num_targets.max()) if users.size else 0
    width = min(num_items, max(8, -(-max_targets // 8) * 8))
    batch = max(1, min(batch_size, users.size))
    # Per batch, the host keeps the [B] metric vectors and only the VALID AUC scores
    # (flattened); padded [B, width] score blocks never pile up for all users (at
    # Netflix size they would take several GB). Batch b is fetched after batch b+1
    # is queued, so the device keeps working while the host compacts.
    kept: list[dict[str, np.ndarray]] = []
    auc_parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    num_auc_groups = 0

    def collect(output, start: int) -> None:
        nonlocal num_auc_groups
        output = jax.device_get(output)
        n = min(batch, users.size - start)
        auc_keys = ("auc_pos_scores", "auc_neg_scores")
        kept.append({k: v[:n] for k, v in output.items() if k not in auc_keys})
        if negatives is None:
            return
        rows = users[start : start + n]
        ev = num_targets[start : start + n] > 0
        part = _auc_pool(
            output["auc_pos_scores"][:n][ev],
            np.arange(width)[None, :] < num_targets[start : start + n][ev][:, None],
            output["auc_neg_scores"][:n][ev],
            negatives[rows[ev]] >= 0,
        )
        auc_parts.append((part[0], part[1], part[2] + num_auc_groups))
        num_auc_groups += int(ev.sum())

    pending = None
    for start in range(0, users.size, batch):
        rows = users[start : start + batch]
        padded = np.pad(rows, (0, batch - rows.size), mode="edge")
        mask_rows = None
        if mask is not None:
            # device_put: jnp.asarray is several times slower for large host arrays.
            mask_rows = jax.device_put(_dense_rows(mask, padded, np.float32))
        scores = get_scores(padded, mask_rows)
        if scores.shape != (batch, num_items):
            raise ValueError(
                f"scores must be [B, I] = ({batch}, {num_items}), got {scores.shape}"
            )
        host_inputs = (
            _dense_rows(targets, padded, np.bool_),
            None if psp_ideal is None else psp_ideal[padded],
            None if negatives is None else _padded_indices(targets, padded, width),
            None if negatives is None else negatives[padded],
        )
        output = _jitted_batch_metrics(
            scores, host_inputs[0], mask_rows, weights, *host_inputs[1:], ks=ks
        )
        if pending is not None:
            collect(*pending)
        pending = (output, start)
    collect(*pending)

    def gather(name: str) -> np.ndarray:
        return np.concatenate([o[name] for o in kept])

    nan_users = int(np.count_nonzero(gather("has_nan_scores")))
    if nan_users:
        raise ValueError(f"the scores of {nan_users} users contain NaN")
    evaluated = num_targets > 0
    num_evaluated = int(evaluated.sum())
    denominator = users.size if average == "all" else num_evaluated

    names = [*metrics_lib.RANKING_METRICS]
    if weights is not None:
        names += metrics_lib.PSP_METRICS
    result: dict[str, float] = {}
    per_user: dict[str, np.ndarray] = {
        "users": users,
        "num_targets": num_targets.astype(np.int32),
    }
    for name in names:
        for k in ks:
            key = f"{name}@{k}"
            values = SCALE * gather(key).astype(np.float64)
            per_user[key] = values
            total = float(np.sum(values[evaluated]))
            result[key] = total / denominator if denominator else float("nan")
    if negatives is not None:
        pooled_scores, pooled_labels, pooled_groups = (
            np.concatenate([p[i] for p in auc_parts]) for i in range(3)
        )
        auc = metrics_lib.global_auc(pooled_scores, pooled_labels, ties=auc_ties)
        user_auc = metrics_lib.grouped_auc(
            pooled_scores, pooled_labels, pooled_groups, num_groups=num_auc_groups
        )
        result["auc"] = auc
        defined = ~np.isnan(user_auc)
        result["user_auc"] = (
            float(np.mean(user_auc[defined])) if defined.any() else float("nan")
        )
        per_user["user_auc"] = np.full(users.size, np.nan)
        per_user["user_auc"][evaluated] = user_auc
    result["num_users"] = users.size
    result["num_users_evaluated"] = num_evaluated
    result["num_users_skipped_empty"] = users.size - num_evaluated
    if return_per_user:
        return result, per_user
    return result


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


def evaluate(
    score_fn: ScoreFn,
    data: Any,
    *,
    split: str = "test",
    ks: int | Sequence[int] = (10, 100),
    batch_size: int = DEFAULT_BATCH_SIZE,
    negatives: ArrayLike | None = None,
    users: ArrayLike | None = None,
    average: str = "all",
    psp: bool = True,
    auc_ties: str = "half",
    return_per_user: bool = False,
    mask: str = "query",
) -> dict[str, float] | tuple[dict[str, float], dict[str, np.ndarray]]:
    """Full-ranking evaluation of a scoring function on the val or test split.

    For each batch of users, the query rows (train for "val", train + val for "test")
    are densified, scored by `score_fn`, masked (the query items are the seen items)
    and compared with the held-out items. See the module docstring for the protocol,
    the skipped users and the averaging denominators. With HR = hits / min(|T|, k),
    the reported value of a ranking metric is

        metric@k = 100 · Σ_{u evaluated} metric_u@k / denominator.

    Args:
        score_fn: `score_fn(query_rows [B, I] float32 jax.Array, users [B] int
            np.ndarray) -> [B, I] scores`. The last batch is padded by repeating its
            last user, so B is constant and a jitted `score_fn` compiles once.
        data: an `infinite_ae.data.Interactions` (uses `.train`, `.val`, `.test`
            [U, I] CSR and `.item_counts` [I]).
        split: "val" or "test".
        ks: cut-offs.
        batch_size: users per batch (memory ~ a few [B, I] float32 arrays).
        negatives: optional [U, N] int AUC negatives (`metrics.sample_auc_negatives`,
            -1 padding); adds "auc" and "user_auc".
        users: optional [Q] user indices to evaluate (default: all users).
        average: "all" (divide by all users of the split; original, default) or
            "evaluated" (divide by users with a non-empty held-out set).
        psp: add `psp@k` (∞-AE quirk) and `psp_norm@k`, with `metrics.psp_weights`
            of the train item counts.
        auc_ties: tie handling of the pooled AUC (`metrics.global_auc`).
        return_per_user: also return the per-user values.
        mask: "query" (default; the protocol above: at "test" the query rows and
            the mask are train + val) or "train" (RecBole full sort, the DConRec
            protocol: the query rows and the mask are the training rows at both
            splits, so validation items stay rankable at "test").

    Returns:
        Dict with `hr@k`, `recall@k`, `hit@k`, `precision@k`, `ndcg@k`, `mrr@k`
        (and `psp@k`, `psp_norm@k`) ×100; `auc`, `user_auc` raw (with negatives);
        `num_users`, `num_users_evaluated`, `num_users_skipped_empty`. With
        `return_per_user`, a second dict maps "users" [Q], "num_targets" [Q] and every
        metric key to [Q] per-user arrays on the same scale (NaN for skipped users;
        the mean with NaN as 0 reproduces `average="all"`).

    Raises:
        ValueError: bad split, average, mask, shapes, or NaN scores.

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
    if split not in SPLIT_NAMES:
        raise ValueError(f"split must be one of {SPLIT_NAMES}, got {split!r}")
    _check_options(average, auc_ties, batch_size)
    ks = metrics_lib._check_ks(ks)
    train = _canonical_csr(data.train, name="train")
    targets = _canonical_csr(getattr(data, split), name=split)
    if mask not in ("query", "train"):
        raise ValueError(f"mask must be 'query' or 'train', got {mask!r}")
    if split == "test" and mask == "query":
        query = _canonical_csr(train + _canonical_csr(data.val, name="val"), name="q")
    else:
        query = train
    if targets.shape != query.shape:
        raise ValueError(f"train {query.shape} and {split} {targets.shape} differ")
    users = _check_users(users, targets.shape[0])
    weights = None
    if psp:
        weights = metrics_lib.psp_weights(np.asarray(data.item_counts))
        if weights.shape != (targets.shape[1],):
            raise ValueError(
                f"item_counts must be [I] = ({targets.shape[1]},), got {weights.shape}"
            )

    def get_scores(rows, query_rows):
        return jnp.asarray(score_fn(query_rows, rows))

    return _run(
        get_scores,
        targets,
        query,
        users,
        ks=ks,
        batch_size=batch_size,
        weights=weights,
        negatives=negatives,
        average=average,
        auc_ties=auc_ties,
        return_per_user=return_per_user,
    )


def evaluate_scores(
    scores: ArrayLike,
    targets: Any,
    mask: Any | None = None,
    *,
    ks: int | Sequence[int] = (10, 100),
    batch_size: int = DEFAULT_BATCH_SIZE,
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
    _check_options(average, auc_ties, batch_size)
    ks = metrics_lib._check_ks(ks)
    targets = _canonical_csr(targets, name="targets")
    mask = None if mask is None else _canonical_csr(mask, name="mask")
    if mask is not None and mask.shape != targets.shape:
        raise ValueError(f"mask {mask.shape} and targets {targets.shape} differ")
    if not isinstance(scores, jax.Array):
        scores = np.asarray(scores)
    if scores.shape != targets.shape:
        raise ValueError(f"scores {scores.shape} and targets {targets.shape} differ")
    users = _check_users(users, targets.shape[0])
    if weights is not None:
        weights = jnp.asarray(weights, jnp.float32)
        if weights.shape != (targets.shape[1],):
            raise ValueError(f"weights must be [I], got {weights.shape}")

    def get_scores(rows, _):
        if isinstance(scores, jax.Array):
            return scores[rows]
        return jax.device_put(scores[rows])

    return _run(
        get_scores,
        targets,
        mask,
        users,
        ks=ks,
        batch_size=batch_size,
        weights=weights,
        negatives=negatives,
        average=average,
        auc_ties=auc_ties,
        return_per_user=return_per_user,
    )
