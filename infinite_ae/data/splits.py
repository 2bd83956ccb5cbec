"""Split protocols and the `build_dataset` convenience.

A split is an index array like ∞-AE's ``index.npz``: one tag per raw row, 0 train,
1 validation, 2 test, -1 dropped, identified by `split_hash`.

Protocols:
  * ``"infinite_ae"`` (Sachdeva et al., NeurIPS'22, ``preprocess.py``): per user with
    n >= 3 rows, a random permutation of the user's rows; permuted positions
    ``[0, int(0.8 n))`` go to train, ``[int(0.8 n), int(0.9 n))`` to validation, the
    rest to test, and position 0 is additionally forced into test. Users with n < 3
    are dropped. The original code is unseeded; here the permutation comes from an
    explicit ``np.random.Generator`` (a uniform random permutation per user drawn by
    sorting i.i.d. uniform keys), so the *rule* is identical but the original
    ``index.npz`` cannot be regenerated; load it with `load_infinite_ae` instead.
  * ``"random"`` (RecBole ``RS: [0.8, 0.1, 0.1]`` grouped by user, random order):
    per user with n rows, ``int(0.1 n)`` rows go to validation and test and the rest
    to train; when ``0 < 0.1 n < 1`` (n < 10) test and then validation receive one
    row each while train keeps more than one (RecBole's ``_calcu_split_ids``). No
    forced test item; nothing is dropped.
  * ``"temporal_loo"`` (leave-one-out by time): per user, rows sorted by timestamp
    with ties broken by file order; the last goes to test, the second-to-last to
    validation, the rest to train. Users with 2 rows get train + test (no
    validation); users with 1 row keep it in train (never evaluated). With
    ``short_users="drop"`` users with < 3 rows are dropped instead.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from infinite_ae.data import preprocess as preprocess_lib
from infinite_ae.data.interactions import Interactions, RawInteractions, factorize

PROTOCOLS = ("infinite_ae", "random", "temporal_loo")
TRAIN, VAL, TEST, DROPPED = 0, 1, 2, -1


def _as_generator(seed_or_rng: int | np.random.Generator) -> np.random.Generator:
    if isinstance(seed_or_rng, np.random.Generator):
        return seed_or_rng
    return np.random.default_rng(seed_or_rng)


def _group_ranks(
    user_codes: np.ndarray, order: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Rank of each row (in `order`) within its user and the user's row count."""
    counts = np.bincount(user_codes)
    sorted_codes = user_codes[order]
    starts = np.cumsum(counts) - counts
    rank = np.arange(order.size) - starts[sorted_codes]
    return rank, counts[sorted_codes]


def _random_ranks(
    user_codes: np.ndarray, generator: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A uniform random order of each user's rows: (order, rank in user, user count).

    Sorting (user + uniform key) draws a uniform random permutation within each user
    in one argsort (faster than a lexsort on two keys).
    """
    keys = user_codes + generator.random(user_codes.size) * 0.5
    order = np.argsort(keys, kind="stable")
    rank, count = _group_ranks(user_codes, order)
    return order, rank, count


def infinite_ae_split(
    user_codes: Any,
    *,
    rng: int | np.random.Generator,
    min_interactions: int = 3,
) -> np.ndarray:
    """Tags rows with the ∞-AE per-user 80/10/10 split (+ first permuted -> test).

    Args:
        user_codes: [N] user index (or any integer user key) of every row.
        rng: an ``np.random.Generator`` or a seed for one.
        min_interactions: users with fewer rows are tagged -1 (∞-AE: 3).

    Returns:
        [N] int8 tags: 0 train, 1 val, 2 test, -1 dropped.

    >>> tags = infinite_ae_split([0] * 10 + [1] * 2, rng=0)
    >>> [int((tags[:10] == t).sum()) for t in (0, 1, 2)], tags[10:].tolist()
    ([7, 1, 2], [-1, -1])
    """
    user_codes = factorize(np.asarray(user_codes))[0]
    if user_codes.size == 0:
        return np.zeros(0, np.int8)
    order, rank, count = _random_ranks(user_codes, _as_generator(rng))
    first_split = (0.8 * count).astype(np.int64)
    second_split = (0.9 * count).astype(np.int64)
    tags = np.where(rank < first_split, TRAIN, np.where(rank < second_split, VAL, TEST))
    tags[rank == 0] = TEST
    tags[count < min_interactions] = DROPPED
    out = np.empty(user_codes.size, np.int8)
    out[order] = tags
    return out


def _recbole_counts(count: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-user (train, val) sizes of the RecBole 80/10/10 split; test is the rest."""
    val = (0.1 * count).astype(np.int64)
    test = val.copy()
    train = count - val - test
    small = (0.1 * count > 0) & (0.1 * count < 1)
    # RecBole moves one row from train to test, then to validation, while train > 1.
    move_test = small & (train > 1)
    train, test = train - move_test, test + move_test
    move_val = small & (train > 1)
    train, val = train - move_val, val + move_val
    return train, val


def random_split(user_codes: Any, *, rng: int | np.random.Generator) -> np.ndarray:
    """Tags rows with RecBole's per-user random 80/10/10 ratio split.

    Args:
        user_codes: [N] user index (or any integer user key) of every row.
        rng: an ``np.random.Generator`` or a seed for one.

    Returns:
        [N] int8 tags: 0 train, 1 val, 2 test.

    >>> tags = random_split([0] * 10 + [1] * 3, rng=0)
    >>> [int((tags[:10] == t).sum()) for t in (0, 1, 2)]
    [8, 1, 1]
    >>> sorted(tags[10:].tolist())
    [0, 1, 2]
    """
    user_codes = factorize(np.asarray(user_codes))[0]
    if user_codes.size == 0:
        return np.zeros(0, np.int8)
    order, rank, count = _random_ranks(user_codes, _as_generator(rng))
    train, val = _recbole_counts(count)
    tags = np.where(rank < train, TRAIN, np.where(rank < train + val, VAL, TEST))
    out = np.empty(user_codes.size, np.int8)
    out[order] = tags
    return out


def temporal_loo_split(
    user_codes: Any, timestamps: Any, *, short_users: str = "train"
) -> np.ndarray:
    """Tags rows with leave-one-out by time: last -> test, second-to-last -> val.

    Args:
        user_codes: [N] user key of every row.
        timestamps: [N] int timestamps; ties broken by row order (stable).
        short_users: "train" (n = 2: train + test; n = 1: train) or "drop" (users
            with n < 3 tagged -1).

    Returns:
        [N] int8 tags: 0 train, 1 val, 2 test, -1 dropped.

    >>> temporal_loo_split([0, 0, 0, 0], [4, 1, 3, 2]).tolist()
    [2, 0, 1, 0]
    """
    if short_users not in ("train", "drop"):
        raise ValueError(f"short_users must be 'train' or 'drop', got {short_users!r}")
    user_codes = factorize(np.asarray(user_codes))[0]
    timestamps = np.asarray(timestamps)
    if timestamps.shape != user_codes.shape:
        raise ValueError(
            f"timestamps: expected shape {user_codes.shape}, got {timestamps.shape}"
        )
    if user_codes.size == 0:
        return np.zeros(0, np.int8)
    rows = np.arange(user_codes.size)
    order = np.lexsort((rows, timestamps, user_codes))
    rank, count = _group_ranks(user_codes, order)
    from_end = count - 1 - rank
    tags = np.full(order.size, TRAIN, np.int64)
    tags[from_end == 0] = TEST
    tags[(from_end == 1) & (count >= 3)] = VAL
    tags[count == 1] = TRAIN
    if short_users == "drop":
        tags[count < 3] = DROPPED
    out = np.empty(user_codes.size, np.int8)
    out[order] = tags
    return out


def split_hash(
    tags: np.ndarray, *, raw: RawInteractions | None = None, protocol: str = ""
) -> str:
    """sha256 hex of a split: the protocol name, the tags and (optionally) the rows."""
    digest = hashlib.sha256()
    digest.update(protocol.encode())
    digest.update(np.asarray(tags).astype("<i1").tobytes())
    if raw is not None:
        for ids in (raw.users, raw.items):
            if ids.dtype.kind == "U":
                digest.update("\x00".join(ids.tolist()).encode("utf-8"))
            else:
                digest.update(ids.astype("<i8").tobytes())
    return digest.hexdigest()


def split_raw(
    raw: RawInteractions,
    *,
    protocol: str = "infinite_ae",
    seed: int = 0,
    name: str | None = None,
    binarize: bool = True,
    info: dict | None = None,
    short_users: str = "train",
) -> tuple[Interactions, np.ndarray]:
    """Splits a (preprocessed) table and builds the `Interactions`.

    Users and items are remapped over the kept rows (tag >= 0), ascending raw id.

    Args:
        raw: [N] table.
        protocol: "infinite_ae", "random" or "temporal_loo".
        seed: seed of the ``np.random.Generator`` (infinite_ae only).
        name: dataset name (default: the source's base name).
        binarize: duplicate pairs collapse to 1.
        info: extra entries for `Interactions.info`.
        short_users: temporal_loo handling of users with < 3 rows.

    Returns:
        (`Interactions`, [N] int8 tags over the rows of `raw`).
    """
    if protocol == "infinite_ae":
        tags = infinite_ae_split(raw.users, rng=np.random.default_rng(seed))
        split_info: dict[str, Any] = {"seed": seed}
    elif protocol == "random":
        tags = random_split(raw.users, rng=np.random.default_rng(seed))
        split_info = {"seed": seed}
    elif protocol == "temporal_loo":
        if raw.timestamps is None:
            raise ValueError(
                f"{raw.source}: split 'temporal_loo' needs timestamps; this table has "
                "none (use split='infinite_ae')"
            )
        tags = temporal_loo_split(raw.users, raw.timestamps, short_users=short_users)
        split_info = {"seed": None, "short_users": short_users}
    else:
        raise ValueError(f"unknown split protocol {protocol!r}; expected {PROTOCOLS}")
    kept = tags >= 0
    user_index, item_index, user_ids, item_ids = preprocess_lib.remap_ids(
        raw.select(kept)
    )
    full_info = {
        **(info or {}),
        "split": protocol,
        **split_info,
        "split_hash": split_hash(tags, raw=raw, protocol=protocol),
        "num_split_dropped_rows": int(np.sum(~kept)),
    }
    data = Interactions.from_split_index(
        user_index,
        item_index,
        tags[kept],
        user_ids=user_ids,
        item_ids=item_ids,
        name=name or _default_name(raw.source),
        info=full_info,
        binarize=binarize,
    )
    return data, tags


def _default_name(source: str) -> str:
    base = source.replace("\\", "/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    for suffix in (".gz", ".zip", ".csv", ".dat", ".inter", ".json", ".data"):
        if base.endswith(suffix):
            base = base[: -len(suffix)]
    return base or "dataset"


def build_dataset(
    raw: RawInteractions,
    *,
    rating_threshold: float | None = None,
    dedup: str = "first",
    min_user_interactions: int | None = 3,
    k_core: int | tuple[int, int] | None = None,
    k_core_iterative: bool = True,
    split: str = "infinite_ae",
    seed: int = 0,
    name: str | None = None,
    binarize: bool = True,
) -> Interactions:
    """Raw table -> preprocessing -> split -> `Interactions`, every knob in `info`.

    Args:
        raw: [N] table from a loader.
        rating_threshold: keep rating >= threshold (None: all rows positive).
        dedup: "first" / "last" (by time) or "none" duplicate policy.
        min_user_interactions: one-pass user filter (∞-AE: 3).
        k_core: k or (k_user, k_item); None skips.
        k_core_iterative: iterate the k-core to a fixed point.
        split: "infinite_ae", "random" or "temporal_loo".
        seed: split seed.
        name: dataset name.
        binarize: duplicate pairs collapse to 1 (only matters with dedup="none").

    Returns:
        The split `Interactions`.

    >>> raw = RawInteractions(np.repeat(np.arange(4), 5), np.tile(np.arange(5), 4))
    >>> data = build_dataset(raw, seed=0)
    >>> data.num_interactions
    {'train': 12, 'val': 0, 'test': 8}
    """
    processed, info = preprocess_lib.preprocess_raw(
        raw,
        rating_threshold=rating_threshold,
        dedup=dedup,
        min_user_interactions=min_user_interactions,
        k_core=k_core,
        k_core_iterative=k_core_iterative,
    )
    data, _ = split_raw(
        processed, protocol=split, seed=seed, name=name, binarize=binarize, info=info
    )
    return data
