"""Distilled or condensed users -> training sequences for sequential recommenders.

A Distill-CF summary row, a DConRec condensed user or a real user of an
`Interactions` is an item *set*; a sequential model needs an *order*. The adapter
keeps each user's item set and only orders it, using statistics of the real training
sequences (`sequence_stats`):

* ``"random"``: a random permutation (the baseline);
* ``"mean_position"``: items sorted by their mean relative position in the real
  histories (position / (length − 1), so 0 = always first, 1 = always last; items
  never seen in a history sit at 0.5);
* ``"greedy_chain"``: a first-order chain on the real item-to-next-item transition
  counts: start at the set's earliest item (lowest mean position; ties go to the
  item that starts more histories), then move to the remaining item most often
  following the current one; when no remaining item ever follows it, continue with
  the remaining item of lowest mean position. (Starting at the item that most often
  starts a history fails for sets that miss the usual first items: an item that
  starts short histories would jump ahead of items that precede it elsewhere.)
* ``"sampled_chain"``: the same chain drawn at random: the first item with
  probability proportional to how often it starts a history, each next one with
  probability proportional to how often it follows the current item (the real
  transition distribution instead of its mode); the fallbacks are the greedy
  chain's.

With ``num_sequences > 1`` each synthetic user yields several sequences: with
``sets="sampled"`` (`sample_item_sets`) each is an item set drawn without
replacement from the user's learned distribution (the row of a continuous summary,
normalised), then ordered as above; with ``sets="kept"`` each is the row's own item
set in another order (useful with the random orderings).

The output is an ordinary `Sequences` (training prefixes only; no validation or test
items) over the real item space, which every sequential trainer consumes unchanged.
Sampled chains train SASRec better than the greedy chain, random or mean-position
orders (benchmarks/README.md, "Adapter variants"); the jobs default to four sampled
chains of each kept set.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import scipy.sparse as sp

from infinite_ae.data.sequences import Sequences
from infinite_ae.distill import coresets
from infinite_ae.models.markov import transition_counts

ORDERINGS = ("random", "mean_position", "greedy_chain", "sampled_chain")
SETS = ("sampled", "kept")


@dataclasses.dataclass(frozen=True)
class SequenceStats:
    """Order statistics of real training sequences over I items.

    Attributes:
      first_counts: [I] how often each item starts a history.
      mean_position: [I] mean relative position in [0, 1]; 0.5 for unseen items.
      transitions: [I, I] CSR counts of i directly followed by j.
    """

    first_counts: np.ndarray
    mean_position: np.ndarray
    transitions: sp.csr_matrix


def sequence_stats(sequences: Any) -> SequenceStats:
    """`SequenceStats` of the training prefixes of a `Sequences`.

    >>> import types
    >>> seqs = types.SimpleNamespace(train_indptr=np.array([0, 3, 5]),
    ...     train_items=np.array([0, 1, 2, 1, 2]), num_items=4)
    >>> stats = sequence_stats(seqs)
    >>> stats.first_counts.tolist(), stats.mean_position.tolist()
    ([1, 1, 0, 0], [0.0, 0.25, 1.0, 0.5])
    """
    indptr = np.asarray(sequences.train_indptr, np.int64)
    items = np.asarray(sequences.train_items, np.int64)
    num_items = sequences.num_items
    lengths = np.diff(indptr)
    starts = indptr[:-1][lengths > 0]
    first_counts = np.bincount(items[starts], minlength=num_items)
    owner_length = np.repeat(lengths, lengths)
    offset = np.arange(items.size) - np.repeat(indptr[:-1], lengths)
    relative = np.where(owner_length > 1, offset / np.maximum(owner_length - 1, 1), 0.5)
    totals = np.bincount(items, weights=relative, minlength=num_items)
    counts = np.bincount(items, minlength=num_items)
    mean_position = np.full(num_items, 0.5)
    seen = counts > 0
    mean_position[seen] = totals[seen] / counts[seen]
    return SequenceStats(first_counts, mean_position, transition_counts(sequences))


def _chain(
    items: np.ndarray, stats: SequenceStats, rng: np.random.Generator | None
) -> np.ndarray:
    """The transition chain through ``items``: greedy, or sampled with ``rng``."""
    n = items.size
    if n <= 1:
        return items.copy()
    sub = stats.transitions[items][:, items].toarray()
    position = stats.mean_position[items]
    first = stats.first_counts[items].astype(np.float64)
    if rng is not None and first.sum() > 0:
        current = int(rng.choice(n, p=first / first.sum()))
    else:
        # The earliest item by mean position; ties: the one starting more histories.
        current = int(np.lexsort((-first, position))[0])
    order = [current]
    remaining = np.ones(n, bool)
    remaining[current] = False
    for _ in range(n - 1):
        follow = np.where(remaining, sub[current], 0.0)
        total = follow.sum()
        if total <= 0:
            current = int(np.argmin(np.where(remaining, position, np.inf)))
        elif rng is None:
            current = int(np.argmax(np.where(remaining, follow, -1.0)))
        else:
            current = int(rng.choice(n, p=follow / total))
        order.append(current)
        remaining[current] = False
    return items[np.asarray(order)]


def order_items(
    items: np.ndarray,
    *,
    ordering: str,
    stats: SequenceStats,
    rng: np.random.Generator,
) -> np.ndarray:
    """One item set in the chosen order (a permutation of ``items``).

    Args:
      items: [n] distinct item indices.
      ordering: one of `ORDERINGS`.
      stats: `sequence_stats` of the real training sequences.
      rng: NumPy generator (used by "random" and "sampled_chain").

    Returns:
      [n] the same items, ordered.

    >>> stats = SequenceStats(np.array([0, 0, 1]), np.array([0.9, 0.1, 0.0]),
    ...                       sp.csr_matrix(np.eye(3)))
    >>> order_items(np.array([0, 1, 2]), ordering="mean_position", stats=stats,
    ...             rng=np.random.default_rng(0)).tolist()
    [2, 1, 0]
    """
    items = np.asarray(items, np.int64)
    if ordering == "random":
        return rng.permutation(items)
    if ordering == "mean_position":
        return items[np.argsort(stats.mean_position[items], kind="stable")]
    if ordering == "greedy_chain":
        return _chain(items, stats, None)
    if ordering == "sampled_chain":
        return _chain(items, stats, rng)
    raise ValueError(f"ordering={ordering!r}; valid: {', '.join(ORDERINGS)}")


def item_sets(rows: Any) -> list[np.ndarray]:
    """The item set of each row of a binary (or non-negative) [S, I] matrix.

    Args:
      rows: scipy sparse or dense [S, I]; non-zero entries are the set's items.

    Returns:
      S arrays of item indices (ascending).
    """
    csr = sp.csr_matrix(rows)
    csr.eliminate_zeros()
    csr.sort_indices()
    return [
        csr.indices[csr.indptr[s] : csr.indptr[s + 1]].copy()
        for s in range(csr.shape[0])
    ]


def sample_item_sets(
    weights: Any,
    *,
    num_sequences: int,
    rng: np.random.Generator,
    lengths: np.ndarray | None = None,
) -> list[np.ndarray]:
    """``num_sequences`` item sets per row, drawn from the row's distribution.

    Each set draws round(row sum) items (or ``lengths[s]``) without replacement
    with probabilities proportional to the row's weights (a continuous Distill-CF
    summary row; for a binary row this is a random subset of its items).

    Args:
      weights: [S, I] non-negative weights (dense or sparse).
      num_sequences: sets per row.
      rng: NumPy generator.
      lengths: optional [S] set sizes.

    Returns:
      S · num_sequences arrays, grouped by row.
    """
    dense = weights.toarray() if sp.issparse(weights) else np.asarray(weights)
    dense = np.clip(np.asarray(dense, np.float64), 0.0, None)
    out = []
    for s, row in enumerate(dense):
        support = np.flatnonzero(row > 0)
        size = int(round(row.sum())) if lengths is None else int(lengths[s])
        size = max(1, min(size, support.size))
        probs = row[support] / row[support].sum()
        for _ in range(num_sequences):
            out.append(np.sort(rng.choice(support, size=size, replace=False, p=probs)))
    return out


def to_sequences(
    rows: Any,
    real: Any,
    *,
    ordering: str = "sampled_chain",
    num_sequences: int = 1,
    sets: str = "sampled",
    rng: np.random.Generator,
    stats: SequenceStats | None = None,
    name: str = "adapted",
) -> Sequences:
    """Training sequences from synthetic or condensed users (module docstring).

    Args:
      rows: [S, I] users as item sets over the real items: a binary or continuous
        Distill-CF summary (dense or sparse), a condensed CSR, or an `Interactions`
        (its train matrix). A row's non-zero items are its set; with
        ``num_sequences > 1`` and ``sets="sampled"`` each sequence's set is drawn
        from the row instead (`sample_item_sets`).
      real: the real `Sequences` whose training prefixes give the order statistics
        and whose item ids the output keeps.
      ordering: one of `ORDERINGS`.
      num_sequences: sequences per row.
      sets: with ``num_sequences > 1``, "sampled" (a set drawn per sequence) or
        "kept" (the row's set, ordered anew per sequence).
      rng: NumPy generator (random orders and sampled sets).
      stats: precomputed `sequence_stats(real)` (computed when None).
      name: the output's name.

    Returns:
      `Sequences` with one training prefix per produced sequence (no validation or
      test items), user ids ``"<name>_<row>_<k>"``, the real item ids.

    Raises:
      ValueError: unknown ordering or sets, or rows over a different number of
        items.
    """
    if ordering not in ORDERINGS:
        raise ValueError(f"ordering={ordering!r}; valid: {', '.join(ORDERINGS)}")
    if sets not in SETS:
        raise ValueError(f"sets={sets!r}; valid: {', '.join(SETS)}")
    matrix = getattr(rows, "train", rows)
    if matrix.shape[1] != real.num_items:
        raise ValueError(
            f"rows have {matrix.shape[1]} items, the real sequences {real.num_items}"
        )
    if num_sequences < 1:
        raise ValueError(f"num_sequences must be >= 1, got {num_sequences}")
    stats = sequence_stats(real) if stats is None else stats
    if num_sequences > 1 and sets == "sampled":
        chosen = sample_item_sets(matrix, num_sequences=num_sequences, rng=rng)
    else:
        chosen = [s for s in item_sets(matrix) for _ in range(num_sequences)]
    ordered = [order_items(s, ordering=ordering, stats=stats, rng=rng) for s in chosen]
    lengths = np.array([len(s) for s in ordered], np.int64)
    indptr = np.concatenate([[0], np.cumsum(lengths)])
    items = np.concatenate(ordered) if ordered else np.zeros(0, np.int64)
    count = len(ordered)
    user_ids = np.array(
        [f"{name}_{i // num_sequences}_{i % num_sequences}" for i in range(count)]
    )
    return Sequences(
        train_indptr=indptr.astype(np.int64),
        train_items=items.astype(np.int32),
        val_items=np.full(count, -1, np.int32),
        test_items=np.full(count, -1, np.int32),
        user_ids=user_ids,
        item_ids=real.item_ids,
        name=name,
        info={
            "ordering": ordering,
            "num_sequences": num_sequences,
            "sets": sets,
            "rows": len(ordered) // num_sequences,
        },
    )


BASELINES = ("random_users", "longest", "most_recent", "k_center", "herding")
EMBEDDING_BASELINES = ("k_center", "herding")
"""The baselines that select on sequence embeddings (`sequence_embeddings`)."""


def sequence_embeddings(real: Any, item_vectors: Any) -> np.ndarray:
    """[U, d] float64 embedding of every user's training prefix: the mean of its
    items' L2-normalised vectors, L2-normalised (zero for an empty prefix).

    Args:
      real: `Sequences`.
      item_vectors: [I, d] item vectors (e.g. frozen text embeddings).
    """
    vectors = np.asarray(item_vectors, np.float64)
    if vectors.ndim != 2 or vectors.shape[0] != real.num_items:
        raise ValueError(
            f"item_vectors must be [{real.num_items}, d], got {vectors.shape}"
        )
    vectors = vectors / np.maximum(
        np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12
    )
    users = np.repeat(np.arange(real.num_users), np.diff(real.train_indptr))
    sums = np.zeros((real.num_users, vectors.shape[1]))
    np.add.at(sums, users, vectors[real.train_items])
    return sums / np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12)


def baseline_users(
    real: Any,
    count: int,
    *,
    kind: str,
    rng: np.random.Generator,
    embeddings: Any = None,
) -> np.ndarray:
    """Real users whose sequences form an equal-budget training set.

    Args:
      real: the real `Sequences`.
      count: how many users (the budget in training users).
      kind: "random_users" (uniform without replacement), "longest" (longest
        training prefixes; ties by index), "most_recent" (latest last training
        interaction; needs ``real.last_train_times``), or a coreset on
        ``embeddings`` (`distill.coresets`): "k_center" (greedy farthest point)
        or "herding" (the chosen users' mean embedding closest to everyone's).
      rng: NumPy generator (for "random_users").
      embeddings: [U, d] sequence embeddings (`sequence_embeddings`), for the
        coreset kinds.

    Returns:
      [count] sorted user indices among users with at least 2 training items.

    Raises:
      ValueError: unknown kind, a budget larger than the eligible users,
        "most_recent" without timestamps, or a coreset kind without embeddings.
    """
    eligible = np.flatnonzero(real.lengths >= 2)
    if not 1 <= count <= eligible.size:
        raise ValueError(f"budget {count} must lie in [1, {eligible.size}]")
    if kind == "random_users":
        chosen = rng.choice(eligible, size=count, replace=False)
    elif kind == "longest":
        order = np.argsort(-real.lengths[eligible], kind="stable")
        chosen = eligible[order[:count]]
    elif kind == "most_recent":
        if real.last_train_times is None:
            raise ValueError(
                f"most_recent needs timestamps; {real.name} has none (pre-split or "
                "generated sequences)"
            )
        order = np.argsort(-real.last_train_times[eligible], kind="stable")
        chosen = eligible[order[:count]]
    elif kind in EMBEDDING_BASELINES:
        if embeddings is None or np.shape(embeddings)[0] != real.num_users:
            raise ValueError(
                f"{kind} selects on sequence embeddings: pass embeddings= "
                f"[{real.num_users}, d] (sequence_embeddings)"
            )
        select = coresets.k_center if kind == "k_center" else coresets.herding
        chosen = eligible[select(np.asarray(embeddings)[eligible], count)]
    else:
        raise ValueError(f"kind={kind!r}; valid: {', '.join(BASELINES)}")
    return np.sort(chosen)


def top_items(weights: Any, lengths: np.ndarray) -> sp.csr_matrix:
    """[S, I] binary rows holding each row's ``lengths[s]`` largest-weight items.

    Args:
      weights: [S, I] dense non-negative weights (e.g. a continuous summary).
      lengths: [S] set sizes (clipped to [1, I]).

    Returns:
      [S, I] float32 CSR with ones at the chosen items (ties: lower item index).

    >>> top_items(np.array([[0.1, 0.9, 0.5]]), np.array([2])).toarray().tolist()
    [[0.0, 1.0, 1.0]]
    """
    dense = np.asarray(weights.toarray() if sp.issparse(weights) else weights)
    num_rows, num_items = dense.shape
    lengths = np.clip(np.asarray(lengths, np.int64), 1, num_items)
    order = np.argsort(-dense, axis=1, kind="stable")
    rows = np.repeat(np.arange(num_rows), lengths)
    cols = np.concatenate([order[s, : lengths[s]] for s in range(num_rows)])
    values = np.ones(rows.size, np.float32)
    return sp.csr_matrix((values, (rows, cols)), shape=(num_rows, num_items))
