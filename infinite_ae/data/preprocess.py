"""Preprocessing of raw interaction tables: threshold, dedup, filtering, id remap.

Every function takes and returns `RawInteractions` (rows kept in file order), so the
steps compose; `preprocess` chains them and returns a record of every knob for
`Interactions.info`. Order in `preprocess`: rating threshold -> duplicates ->
minimum interactions per user -> k-core.

Conventions:
  * ∞-AE / Distill-CF: no threshold, duplicates kept, users with < 3 interactions
    dropped in one pass, items never filtered directly.
  * k-core (RecBole semantics): repeat until every remaining user and item has at
    least k interactions; `iterative=False` gives Cornac's single pass (users, then
    items), which does not guarantee the property.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from infinite_ae.data.interactions import RawInteractions, factorize

DEDUP_POLICIES = ("first", "last", "none")


def _codes(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return factorize(ids)


def apply_rating_threshold(raw: RawInteractions, threshold: float) -> RawInteractions:
    """Keeps rows with rating >= `threshold` (implicit positives).

    Args:
        raw: [N] table with ratings.
        threshold: minimum rating kept.

    Returns:
        The kept rows, in file order.

    Raises:
        ValueError: if `raw` has no ratings.

    >>> raw = RawInteractions([1, 1, 2], [5, 6, 5], ratings=[5.0, 2.0, 4.0])
    >>> apply_rating_threshold(raw, 4).items.tolist()
    [5, 5]
    """
    if raw.ratings is None:
        raise ValueError(f"{raw.source}: a rating threshold needs ratings")
    return raw.select(raw.ratings >= threshold)


def deduplicate(raw: RawInteractions, *, keep: str = "first") -> RawInteractions:
    """Keeps one row per (user, item) pair.

    Args:
        raw: [N] table.
        keep: "first" or "last" occurrence, ordered by timestamp when `raw` has
            timestamps (ties broken by file order), else by file order; "none" keeps
            every row (the ∞-AE behaviour).

    Returns:
        The kept rows, in file order.

    >>> raw = RawInteractions([1, 1, 1], [5, 5, 6], timestamps=[9, 3, 1])
    >>> deduplicate(raw, keep="first").timestamps.tolist()
    [3, 1]
    """
    if keep not in DEDUP_POLICIES:
        raise ValueError(f"keep must be one of {DEDUP_POLICIES}, got {keep!r}")
    if keep == "none" or len(raw) == 0:
        return raw
    user_codes, _ = _codes(raw.users)
    item_codes, item_uniques = _codes(raw.items)
    pairs = user_codes.astype(np.int64) * item_uniques.size + item_codes
    rows = np.arange(len(raw))
    if raw.timestamps is not None:
        order = np.lexsort((rows, raw.timestamps))
    else:
        order = rows
    if keep == "last":
        order = order[::-1]
    _, first_in_order = np.unique(pairs[order], return_index=True)
    kept = np.sort(order[first_in_order])
    return raw.select(kept)


def filter_min_user_interactions(
    raw: RawInteractions, min_interactions: int = 3
) -> RawInteractions:
    """Drops users with fewer than `min_interactions` rows, in one pass (∞-AE rule).

    Items are not filtered; they disappear only when all their rows belonged to
    dropped users.

    >>> raw = RawInteractions([1, 1, 1, 2], [5, 6, 7, 5])
    >>> filter_min_user_interactions(raw, 3).users.tolist()
    [1, 1, 1]
    """
    if min_interactions <= 1 or len(raw) == 0:
        return raw
    user_codes, _ = _codes(raw.users)
    counts = np.bincount(user_codes)
    return raw.select(counts[user_codes] >= min_interactions)


def k_core(
    raw: RawInteractions,
    *,
    k_user: int,
    k_item: int | None = None,
    iterative: bool = True,
    max_iterations: int = 10_000,
) -> tuple[RawInteractions, dict[str, Any]]:
    """Filters users and items to a k-core.

    Counts are rows (deduplicate first for distinct pairs).

    Args:
        raw: [N] table.
        k_user: minimum rows per user.
        k_item: minimum rows per item (default `k_user`).
        iterative: repeat until a fixed point where every remaining user has
            >= k_user and every item >= k_item rows (RecBole); False runs one pass,
            users then items (Cornac), which may leave users below k_user.
        max_iterations: safety cap for the iterative loop.

    Returns:
        (kept rows in file order, stats: k_user, k_item, iterative, iterations,
        converged, rows / users / items before and after).

    >>> raw = RawInteractions([1, 1, 2, 2, 3], [5, 6, 5, 6, 5])
    >>> kept, stats = k_core(raw, k_user=2)
    >>> len(kept), stats["iterations"]
    (4, 2)
    """
    k_item = k_user if k_item is None else k_item
    user_codes, user_uniques = _codes(raw.users)
    item_codes, item_uniques = _codes(raw.items)
    keep = np.ones(len(raw), bool)
    iterations = 0
    converged = False
    while iterations < max_iterations:
        iterations += 1
        user_counts = np.bincount(user_codes[keep], minlength=user_uniques.size)
        new_keep = keep & (user_counts[user_codes] >= k_user)
        if not iterative:
            item_counts = np.bincount(item_codes[new_keep], minlength=item_uniques.size)
            new_keep &= item_counts[item_codes] >= k_item
            keep = new_keep
            break
        item_counts = np.bincount(item_codes[new_keep], minlength=item_uniques.size)
        new_keep &= item_counts[item_codes] >= k_item
        if np.array_equal(new_keep, keep):
            converged = True
            break
        keep = new_keep
    if not iterative:
        user_counts = np.bincount(user_codes[keep], minlength=user_uniques.size)
        item_counts = np.bincount(item_codes[keep], minlength=item_uniques.size)
        present_users = user_counts[user_counts > 0]
        present_items = item_counts[item_counts > 0]
        converged = bool(
            np.all(present_users >= k_user) and np.all(present_items >= k_item)
        )
    stats = {
        "k_user": int(k_user),
        "k_item": int(k_item),
        "iterative": bool(iterative),
        "iterations": iterations,
        "converged": bool(converged),
        "rows_before": len(raw),
        "rows_after": int(keep.sum()),
        "users_before": int(user_uniques.size),
        "users_after": int(np.unique(user_codes[keep]).size),
        "items_before": int(item_uniques.size),
        "items_after": int(np.unique(item_codes[keep]).size),
    }
    return raw.select(keep), stats


def remap_ids(
    raw: RawInteractions,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Maps raw ids to contiguous indices in ascending raw-id order.

    Returns:
        (user_index [N] int64, item_index [N] int64, user_ids [U] raw,
        item_ids [I] raw), with ``user_ids[user_index] == raw.users``.

    >>> u, i, user_ids, item_ids = remap_ids(RawInteractions([7, 3], ["b", "a"]))
    >>> u.tolist(), item_ids.tolist()
    ([1, 0], ['a', 'b'])
    """
    user_index, user_ids = _codes(raw.users)
    item_index, item_ids = _codes(raw.items)
    return user_index.astype(np.int64), item_index.astype(np.int64), user_ids, item_ids


def preprocess_raw(
    raw: RawInteractions,
    *,
    rating_threshold: float | None = None,
    dedup: str = "first",
    min_user_interactions: int | None = 3,
    k_core: int | tuple[int, int] | None = None,
    k_core_iterative: bool = True,
) -> tuple[RawInteractions, dict[str, Any]]:
    """Chains threshold -> dedup -> min-user filter -> k-core and records every knob.

    Args:
        raw: [N] table.
        rating_threshold: keep rating >= threshold (None: every row is a positive).
        dedup: duplicate policy, "first" / "last" (by time) or "none".
        min_user_interactions: one-pass user filter (∞-AE: 3); None or <= 1 skips.
        k_core: k or (k_user, k_item) for a k-core, None skips.
        k_core_iterative: iterate the k-core to a fixed point (RecBole) or one pass.

    Returns:
        (filtered rows, info dict with the knobs and row counts after each step).
    """
    info: dict[str, Any] = {
        "source": raw.source,
        "num_raw_rows": len(raw),
        "rating_threshold": rating_threshold,
        "dedup": dedup,
        "min_user_interactions": min_user_interactions,
        "k_core": None,
    }
    if rating_threshold is not None:
        raw = apply_rating_threshold(raw, rating_threshold)
    info["rows_after_threshold"] = len(raw)
    raw = deduplicate(raw, keep=dedup)
    info["rows_after_dedup"] = len(raw)
    if min_user_interactions is not None:
        raw = filter_min_user_interactions(raw, min_user_interactions)
    info["rows_after_min_user"] = len(raw)
    if k_core is not None:
        k_user, k_item = (k_core, k_core) if np.isscalar(k_core) else tuple(k_core)
        raw, stats = _k_core(
            raw, k_user=int(k_user), k_item=int(k_item), iterative=k_core_iterative
        )
        info["k_core"] = stats
    info["rows_after_preprocess"] = len(raw)
    return raw, info


_k_core = k_core
