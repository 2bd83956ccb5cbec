"""Per-user chronological item sequences with a leave-one-out split.

`Sequences` is what sequential recommenders (SASRec, GRU4Rec) consume: for every user
the training prefix in time order, one validation item and one test item. The split
is leave-one-out by time: the last interaction is the test item, the one before it
the validation item, everything earlier the training prefix. Validation queries see
the prefix; test queries see the prefix plus the validation item.

Storage (CSR-like, item indices 0..I-1):
  * ``train_indptr`` [U+1] int64 and ``train_items`` [N] int32: user u's prefix is
    ``train_items[train_indptr[u]:train_indptr[u + 1]]``, oldest first;
  * ``val_items`` [U] and ``test_items`` [U] int32, -1 where the user has none;
  * ``user_ids`` [U] and ``item_ids`` [I] raw ids (int64 or unicode), as in
    `Interactions`.

Model inputs (`history`, `training_windows`) use the SASRec convention: item index
+ 1, 0 is padding, sequences **right-aligned** (left-padded) so the last column is
the most recent item, and only the most recent L items are kept.

Sources: `Sequences.from_raw` builds the split from any timestamped
`RawInteractions` (MovieLens, Amazon, RecBole ``.inter``); `load_recbole_sequences`
reads the RecBole / UniSRec pre-split sequential files (``<name>.train.inter`` with
growing prefixes, ``.valid.inter`` and ``.test.inter`` with one row per user) and
keeps their split. `to_interactions` gives the set view of the same split, so the
set-based models (∞-AE, EASE, Distill-CF, DConRec) run on the same users and
held-out items.

Policies (details in each docstring):
  * time ties: broken by file order (stable sort), as `splits.temporal_loo_split`;
  * repeats: `from_raw` removes duplicate (user, item) pairs before the split by
    default (``dedup="first"``); sequences keep any repeats they have, and the set
    view drops a held-out item its query already holds (disjoint matrices);
  * indices: `from_raw` orders users and items by ascending raw id over the kept
    rows; `load_recbole_sequences` keeps the files' own indices (``*2index`` maps).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
import pathlib
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from absl import logging

from infinite_ae.data import loaders
from infinite_ae.data import preprocess as preprocess_lib
from infinite_ae.data.interactions import (
    Interactions,
    RawInteractions,
    _ids_digest,
    _lookup,
    factorize,
    normalize_ids,
)
from infinite_ae.data.splits import _default_name

SPLITS = ("train", "val", "test")
# Output cells (rows x max_len) built at once by the vectorised gathers; bounds the
# temporaries of `history` and `training_windows` on large batches.
_CHUNK_CELLS = 1 << 22
_INT_TOKEN_RE = re.compile(r"^-?[0-9]+$")


def _int_array(
    value: Any, *, field: str, dtype: Any, shape: tuple[int, ...]
) -> np.ndarray:
    """`value` as a 1-D integer array of `shape`, converted to `dtype`."""
    array = np.asarray(value)
    if array.shape != shape:
        raise ValueError(f"{field}: expected shape {shape}, got {array.shape}")
    if array.dtype.kind not in "iu" and not (
        array.size == 0 and array.dtype.kind in "fb"
    ):
        raise ValueError(f"{field}: expected integers, got dtype {array.dtype}")
    return array.astype(dtype, copy=False)


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Concatenation of ``arange(s, s + n)`` over (s, n) pairs, as int64."""
    starts = np.asarray(starts, np.int64)
    lengths = np.asarray(lengths, np.int64)
    total = int(lengths.sum())
    offsets = np.arange(total, dtype=np.int64) - np.repeat(
        np.cumsum(lengths) - lengths, lengths
    )
    return np.repeat(starts, lengths) + offsets


def _right_aligned(
    items: np.ndarray,
    starts: np.ndarray,
    lengths: np.ndarray,
    extra: np.ndarray,
    max_len: int,
) -> np.ndarray:
    """[B, L] int32 windows: the last `max_len` items of ``items[s:s+n] + [extra]``.

    Stored as index + 1 with 0 as left padding; `extra` [B] is appended where >= 0.
    """
    rows = starts.shape[0]
    out = np.zeros((rows, max_len), np.int32)
    columns = np.arange(max_len, dtype=np.int64)
    step = max(1, _CHUNK_CELLS // max_len)
    for begin in range(0, rows, step):
        end = min(begin + step, rows)
        start = starts[begin:end, None]
        length = lengths[begin:end, None]
        tail = extra[begin:end, None]
        total = length + (tail >= 0)
        position = total - max_len + columns[None, :]
        in_prefix = (position >= 0) & (position < length)
        is_extra = (position == length) & (tail >= 0)
        block = out[begin:end]
        block[in_prefix] = items[(start + position)[in_prefix]] + 1
        block[is_extra] = np.broadcast_to(tail + 1, is_extra.shape)[is_extra]
    return out


def _check_max_len(max_len: Any) -> int:
    if isinstance(max_len, bool) or not isinstance(max_len, (int, np.integer)):
        raise ValueError(f"max_len must be a positive integer, got {max_len!r}")
    if max_len < 1:
        raise ValueError(f"max_len must be a positive integer, got {max_len}")
    return int(max_len)


@dataclasses.dataclass(frozen=True, eq=False)
class Sequences:
    """Chronological per-user item sequences, split leave-one-out by time.

    Attributes:
        train_indptr: [U+1] int64 offsets into `train_items` (CSR-like).
        train_items: [N] int32 item indices in [0, I): each user's training prefix,
            oldest first.
        val_items: [U] int32 validation item (the second-to-last interaction), -1
            where the user has none.
        test_items: [U] int32 test item (the last interaction), -1 where none.
        user_ids: [U] raw user ids (int64 or unicode), row u <-> user_ids[u].
        item_ids: [I] raw item ids (int64 or unicode), item i <-> item_ids[i].
        name: dataset name.
        info: provenance: source, split protocol, policies and counts.
        last_train_times: optional [U] float64 timestamp of each user's last
            training interaction (NaN for an empty prefix); None when the source
            has no timestamps (pre-split files, generated data).

    >>> seq = Sequences(train_indptr=[0, 2, 3], train_items=[0, 1, 2],
    ...                 val_items=[2, 0], test_items=[1, -1],
    ...                 user_ids=["a", "b"], item_ids=[10, 20, 30])
    >>> seq.num_users, seq.num_items, seq.lengths.tolist()
    (2, 3, [2, 1])
    >>> seq.history([0, 1], split="test", max_len=4).tolist()
    [[0, 1, 2, 3], [0, 0, 3, 1]]
    """

    train_indptr: np.ndarray
    train_items: np.ndarray
    val_items: np.ndarray
    test_items: np.ndarray
    user_ids: np.ndarray
    item_ids: np.ndarray
    name: str = "sequences"
    info: dict = dataclasses.field(default_factory=dict)
    last_train_times: np.ndarray | None = None

    def __post_init__(self):
        user_ids = normalize_ids(self.user_ids, field="user_ids")
        item_ids = normalize_ids(self.item_ids, field="item_ids")
        if np.unique(user_ids).size != user_ids.size:
            raise ValueError("user_ids: raw ids must be unique")
        if np.unique(item_ids).size != item_ids.size:
            raise ValueError("item_ids: raw ids must be unique")
        num_users, num_items = user_ids.size, item_ids.size
        if num_items >= np.iinfo(np.int32).max:
            raise ValueError(f"item_ids: {num_items} items do not fit int32 indices")
        indptr = _int_array(
            self.train_indptr,
            field="train_indptr",
            dtype=np.int64,
            shape=(num_users + 1,),
        )
        train_items = np.asarray(self.train_items)
        if train_items.ndim != 1:
            raise ValueError(
                f"train_items: expected a 1-D array, got shape {train_items.shape}"
            )
        train_items = _int_array(
            train_items, field="train_items", dtype=np.int64, shape=train_items.shape
        )
        if indptr[0] != 0 or np.any(np.diff(indptr) < 0):
            raise ValueError(
                "train_indptr: must start at 0 and never decrease (CSR offsets)"
            )
        if indptr[-1] != train_items.size:
            raise ValueError(
                f"train_indptr: ends at {indptr[-1]}, but train_items has "
                f"{train_items.size} entries"
            )
        if train_items.size and (
            train_items.min() < 0 or train_items.max() >= num_items
        ):
            raise ValueError(
                f"train_items: item indices must be in [0, {num_items}), got "
                f"[{train_items.min()}, {train_items.max()}]"
            )
        object.__setattr__(self, "train_indptr", indptr)
        object.__setattr__(self, "train_items", train_items.astype(np.int32))
        if self.last_train_times is not None:
            times = np.asarray(self.last_train_times, np.float64)
            if times.shape != (num_users,):
                raise ValueError(
                    f"last_train_times: expected shape ({num_users},), got "
                    f"{times.shape}"
                )
            object.__setattr__(self, "last_train_times", times)
        for field in ("val_items", "test_items"):
            values = _int_array(
                getattr(self, field), field=field, dtype=np.int64, shape=(num_users,)
            )
            if values.size and (values.min() < -1 or values.max() >= num_items):
                raise ValueError(
                    f"{field}: item indices must be in [0, {num_items}) or -1 (none), "
                    f"got [{values.min()}, {values.max()}]"
                )
            object.__setattr__(self, field, values.astype(np.int32))
        object.__setattr__(self, "user_ids", user_ids)
        object.__setattr__(self, "item_ids", item_ids)
        if not isinstance(self.name, str):
            raise ValueError(f"name: expected a str, got {type(self.name).__name__}")
        if not isinstance(self.info, dict):
            raise ValueError(f"info: expected a dict, got {type(self.info).__name__}")
        object.__setattr__(self, "info", dict(self.info))

    # ------------------------------------------------------------------- properties
    @property
    def num_users(self) -> int:
        """U, the number of users."""
        return int(self.user_ids.size)

    @property
    def num_items(self) -> int:
        """I, the size of the item space."""
        return int(self.item_ids.size)

    @property
    def lengths(self) -> np.ndarray:
        """[U] int64 length of each user's training prefix."""
        return np.diff(self.train_indptr)

    @property
    def num_interactions(self) -> dict[str, int]:
        """Interactions per split: {"train": N, "val": n, "test": n} (repeats count)."""
        return {
            "train": int(self.train_items.size),
            "val": int(np.sum(self.val_items >= 0)),
            "test": int(np.sum(self.test_items >= 0)),
        }

    def checksum(self) -> str:
        """sha256 hex digest of the sequences, the held-out items and both id maps.

        Unlike the set view's checksum it depends on the order within a sequence.
        """
        digest = hashlib.sha256()
        digest.update(b"infinite_ae.Sequences.v1")
        for array in (self.train_indptr, self.train_items, self.val_items):
            digest.update(np.asarray(array, "<i8").tobytes())
        digest.update(np.asarray(self.test_items, "<i8").tobytes())
        digest.update(_ids_digest(self.user_ids))
        digest.update(_ids_digest(self.item_ids))
        return digest.hexdigest()

    def summary(self) -> dict[str, Any]:
        """Counts per split and prefix-length statistics."""
        counts = self.num_interactions
        lengths = self.lengths
        return {
            "name": self.name,
            "num_users": self.num_users,
            "num_items": self.num_items,
            **{f"num_{split}": count for split, count in counts.items()},
            "num_interactions": sum(counts.values()),
            "mean_train_length": float(lengths.mean()) if lengths.size else 0.0,
            "max_train_length": int(lengths.max()) if lengths.size else 0,
        }

    @functools.cached_property
    def user_index(self) -> dict:
        """Raw user id -> user index."""
        return {raw: index for index, raw in enumerate(self.user_ids.tolist())}

    @functools.cached_property
    def item_index(self) -> dict:
        """Raw item id -> item index."""
        return {raw: index for index, raw in enumerate(self.item_ids.tolist())}

    def users_to_index(self, raw_ids: Any) -> np.ndarray:
        """Vectorised raw user id -> user index; raises KeyError for unknown ids."""
        return _lookup(self.user_ids, raw_ids, field="user")

    def items_to_index(self, raw_ids: Any) -> np.ndarray:
        """Vectorised raw item id -> item index; raises KeyError for unknown ids."""
        return _lookup(self.item_ids, raw_ids, field="item")

    def prefix(self, user: int) -> np.ndarray:
        """[n] int32 training prefix of one user (item indices, oldest first)."""
        user = self._check_users(user)[0]
        return self.train_items[self.train_indptr[user] : self.train_indptr[user + 1]]

    def _check_users(self, users: Any) -> np.ndarray:
        users = np.atleast_1d(np.asarray(users))
        if users.ndim != 1:
            raise ValueError(f"users: expected a 1-D array, got shape {users.shape}")
        if users.size == 0:
            return users.astype(np.int64)
        if users.dtype.kind not in "iu":
            raise ValueError(f"users: expected user indices, got dtype {users.dtype}")
        if users.min() < 0 or users.max() >= self.num_users:
            raise ValueError(
                f"users: indices must be in [0, {self.num_users}), got "
                f"[{users.min()}, {users.max()}]"
            )
        return users.astype(np.int64)

    # ---------------------------------------------------------------- model inputs
    def history(self, users: Any, *, split: str, max_len: int) -> np.ndarray:
        """The model input of each user: the most recent items before the target.

        Convention (SASRec): the sequence is right-aligned (left-padded), stores
        item index + 1 and uses 0 for padding, so ``out[:, -1]`` is the most recent
        item and ``out[b] - 1`` recovers item indices where ``out[b] > 0``. Only
        the last `max_len` items are kept.

        Args:
            users: [B] user indices.
            split: "val" or "train": the training prefix (the query of the
                validation item); "test": the prefix followed by the validation
                item when the user has one (the query of the test item).
            max_len: L, the number of columns.

        Returns:
            [B, L] int32 item index + 1, 0 = padding, latest item last.

        Raises:
            ValueError: unknown split, max_len < 1 or user indices out of range.

        >>> seq = Sequences(train_indptr=[0, 3], train_items=[4, 5, 6],
        ...                 val_items=[7], test_items=[8],
        ...                 user_ids=[0], item_ids=range(9))
        >>> seq.history([0], split="val", max_len=5).tolist()
        [[0, 0, 5, 6, 7]]
        >>> seq.history([0], split="test", max_len=2).tolist()
        [[7, 8]]
        """
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
        max_len = _check_max_len(max_len)
        users = self._check_users(users)
        starts = self.train_indptr[users]
        lengths = self.train_indptr[users + 1] - starts
        if split == "test":
            extra = self.val_items[users].astype(np.int64)
        else:
            extra = np.full(users.size, -1, np.int64)
        return _right_aligned(self.train_items, starts, lengths, extra, max_len)

    def training_windows(self, max_len: int) -> tuple[np.ndarray, np.ndarray]:
        """SASRec training pairs: each prefix shifted by one, last `max_len` steps.

        For every user whose training prefix ``s`` has at least 2 items (in user
        order; ``np.flatnonzero(self.lengths >= 2)`` are their indices), the input
        is ``s[:-1]`` and the target ``s[1:]``, both cut to their last `max_len`
        items and right-aligned like `history` (index + 1, 0 = padding), so
        ``targets[m, j]`` is the item that follows ``inputs[m, j]`` and is 0 exactly
        where the input is padding. Items older than the last window are not used
        (the SASRec convention); validation and test items never appear.

        Args:
            max_len: L, the number of columns.

        Returns:
            (inputs [M, L] int32, targets [M, L] int32), M = users with >= 2
            training items.

        >>> seq = Sequences(train_indptr=[0, 4, 5], train_items=[1, 2, 3, 4, 0],
        ...                 val_items=[0, 1], test_items=[1, 2],
        ...                 user_ids=[0, 1], item_ids=range(5))
        >>> inputs, targets = seq.training_windows(4)
        >>> inputs.tolist(), targets.tolist()
        ([[0, 2, 3, 4]], [[0, 3, 4, 5]])
        """
        max_len = _check_max_len(max_len)
        users = np.flatnonzero(self.lengths >= 2)
        starts = self.train_indptr[users]
        lengths = self.train_indptr[users + 1] - starts - 1
        none = np.full(users.size, -1, np.int64)
        inputs = _right_aligned(self.train_items, starts, lengths, none, max_len)
        targets = _right_aligned(self.train_items, starts + 1, lengths, none, max_len)
        return inputs, targets

    # ------------------------------------------------------------------- set view
    def to_interactions(self) -> Interactions:
        """The set view of the same split, for the set-based models.

        train[u] = the set of the user's prefix items, val[u] = {val item},
        test[u] = {test item}; same users, items, raw ids and order.

        Repeat consumption (only possible when built with ``dedup="none"``, or from
        files that contain repeats): the prefix keeps its items, and the three
        matrices are made disjoint the way the evaluator expects (a held-out item
        the query already holds would be masked and could never be hit). So the
        validation entry is dropped when the validation item is in the prefix,
        and the test entry when the test item is in the prefix or equals the
        validation item; such users have an empty held-out row and are left out
        of the averages. The counts are in ``info["num_val_repeats_dropped"]``
        and ``info["num_test_repeats_dropped"]``.

        Returns:
            `Interactions` with binary [U, I] train / val / test matrices.

        >>> seq = Sequences(train_indptr=[0, 3], train_items=[1, 2, 1],
        ...                 val_items=[2], test_items=[0],
        ...                 user_ids=[0], item_ids=range(3))
        >>> data = seq.to_interactions()
        >>> data.train.toarray().tolist(), data.num_interactions
        ([[0.0, 1.0, 1.0]], {'train': 2, 'val': 0, 'test': 1})
        """
        num_users, num_items = self.num_users, self.num_items
        user_of_row = np.repeat(np.arange(num_users, dtype=np.int64), self.lengths)
        train_pairs = user_of_row * num_items + self.train_items
        everyone = np.arange(num_users, dtype=np.int64)
        val = self.val_items.astype(np.int64)
        test = self.test_items.astype(np.int64)
        has_val, has_test = val >= 0, test >= 0
        val_seen = has_val & np.isin(everyone * num_items + val, train_pairs)
        test_seen = has_test & (
            np.isin(everyone * num_items + test, train_pairs)
            | (has_val & (test == val))
        )
        keep_val, keep_test = has_val & ~val_seen, has_test & ~test_seen
        user_index = np.concatenate(
            [user_of_row, everyone[keep_val], everyone[keep_test]]
        )
        item_index = np.concatenate(
            [self.train_items.astype(np.int64), val[keep_val], test[keep_test]]
        )
        split = np.concatenate(
            [
                np.zeros(user_of_row.size, np.int8),
                np.ones(int(keep_val.sum()), np.int8),
                np.full(int(keep_test.sum()), 2, np.int8),
            ]
        )
        info = {
            **self.info,
            "view": "set",
            "sequence_num_interactions": self.num_interactions,
            "num_val_repeats_dropped": int(val_seen.sum()),
            "num_test_repeats_dropped": int(test_seen.sum()),
        }
        return Interactions.from_split_index(
            user_index,
            item_index,
            split,
            user_ids=self.user_ids,
            item_ids=self.item_ids,
            name=self.name,
            info=info,
        )

    # ------------------------------------------------------------------ reshaping
    def truncate(self, max_len: int) -> Sequences:
        """Keeps the last `max_len` training items of every user.

        Validation and test items, users and the item space are unchanged.

        >>> seq = Sequences(train_indptr=[0, 3], train_items=[1, 2, 3],
        ...                 val_items=[0], test_items=[1],
        ...                 user_ids=[0], item_ids=range(4))
        >>> seq.truncate(2).train_items.tolist()
        [2, 3]
        """
        max_len = _check_max_len(max_len)
        lengths = np.minimum(self.lengths, max_len)
        rows = _ranges(self.train_indptr[1:] - lengths, lengths)
        return dataclasses.replace(
            self,
            train_indptr=np.concatenate([[0], np.cumsum(lengths)]),
            train_items=self.train_items[rows],
            info={**self.info, "truncated_to": max_len},
        )

    def subset(self, users: Any) -> Sequences:
        """A `Sequences` of the given users (in that order), same item space.

        Args:
            users: [B] distinct user indices.

        Returns:
            `Sequences` with B users.

        >>> seq = Sequences(train_indptr=[0, 1, 3], train_items=[0, 1, 2],
        ...                 val_items=[1, 0], test_items=[2, 1],
        ...                 user_ids=["a", "b"], item_ids=range(3))
        >>> part = seq.subset([1])
        >>> part.user_ids.tolist(), part.train_items.tolist(), part.num_items
        (['b'], [1, 2], 3)
        """
        users = self._check_users(users)
        if np.unique(users).size != users.size:
            raise ValueError("users: indices must be distinct")
        starts = self.train_indptr[users]
        lengths = self.train_indptr[users + 1] - starts
        return dataclasses.replace(
            self,
            train_indptr=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
            train_items=self.train_items[_ranges(starts, lengths)],
            val_items=self.val_items[users],
            test_items=self.test_items[users],
            user_ids=self.user_ids[users],
            info={**self.info, "subset_of_num_users": self.num_users},
            last_train_times=None
            if self.last_train_times is None
            else self.last_train_times[users],
        )

    # --------------------------------------------------------------- constructors
    @classmethod
    def from_raw(
        cls,
        raw: RawInteractions,
        *,
        min_length: int = 3,
        dedup: str = "first",
        name: str | None = None,
    ) -> Sequences:
        """Builds the leave-one-out sequences from a timestamped table.

        Steps: (1) duplicates of a (user, item) pair are removed according to
        `dedup` ("first" keeps the earliest occurrence, "last" the latest, "none"
        keeps every row: repeat consumption; `preprocess.deduplicate`); (2) users
        with fewer than `min_length` remaining rows are dropped (the count is
        logged and stored in `info`); (3) each user's rows are sorted by timestamp,
        **ties broken by file order** (a stable sort: of two rows with the same
        time, the one earlier in the file comes first); (4) the last row is the
        test item, the second-to-last the validation item, the rest the training
        prefix. Users and items are re-indexed over the kept rows in **ascending
        raw id** (as `Interactions` loaders do), so items seen only in dropped
        users' rows are not in the item space.

        Args:
            raw: [N] table with timestamps (any loader: MovieLens, Amazon CSV /
                JSON, RecBole ``.inter`` with a timestamp column, `load_csv`).
            min_length: users with fewer interactions (after dedup) are dropped;
                3 guarantees a non-empty prefix, a validation and a test item.
            dedup: "first", "last" or "none".
            name: dataset name (default: the base name of ``raw.source``).

        Returns:
            `Sequences`.

        Raises:
            ValueError: no timestamps (the message names ``raw.source``), a bad
                `dedup` or `min_length` < 1.

        >>> raw = RawInteractions(users=[1, 1, 1, 1], items=[7, 8, 9, 6],
        ...                       timestamps=[5, 2, 2, 9])
        >>> seq = Sequences.from_raw(raw)
        >>> seq.item_ids[seq.prefix(0)].tolist(), int(seq.item_ids[seq.val_items[0]])
        ([8, 9], 7)
        """
        if raw.timestamps is None:
            raise ValueError(
                f"{raw.source}: Sequences.from_raw needs timestamps to order each "
                "user's interactions, and this table has none (load a file with a "
                "timestamp column, or use load_recbole_sequences for pre-split "
                "sequence files)"
            )
        if isinstance(min_length, bool) or not isinstance(
            min_length, (int, np.integer)
        ):
            raise ValueError(f"min_length must be an integer >= 1, got {min_length!r}")
        if min_length < 1:
            raise ValueError(f"min_length must be an integer >= 1, got {min_length}")
        deduped = preprocess_lib.deduplicate(raw, keep=dedup)
        user_codes, user_uniques = factorize(deduped.users)
        counts = np.bincount(user_codes, minlength=user_uniques.size)
        kept = deduped.select(counts[user_codes] >= min_length)
        num_dropped_users = int(np.sum(counts < min_length))
        if num_dropped_users:
            logging.info(
                "%s: dropped %d of %d users with fewer than %d interactions",
                raw.source,
                num_dropped_users,
                user_uniques.size,
                min_length,
            )
        user_index, user_ids = factorize(kept.users)
        item_index, item_ids = factorize(kept.items)
        num_rows = len(kept)
        order = np.lexsort((np.arange(num_rows), kept.timestamps, user_index))
        users_sorted = user_index[order]
        items_sorted = item_index[order]
        counts = np.bincount(users_sorted, minlength=user_ids.size)
        ends = np.cumsum(counts)
        test = items_sorted[ends - 1] if num_rows else np.zeros(0, np.int64)
        val = np.where(
            counts >= 2, items_sorted[np.maximum(ends - 2, 0)] if num_rows else 0, -1
        )
        prefix_lengths = np.maximum(counts - 2, 0)
        rank = np.arange(num_rows) - (ends - counts)[users_sorted]
        train_items = items_sorted[rank < prefix_lengths[users_sorted]]
        times_sorted = np.asarray(kept.timestamps, np.float64)[order]
        last_prefix = ends - 3  # the prefix ends two rows before the user's last
        last_times = np.full(user_ids.size, np.nan)
        has_prefix = prefix_lengths > 0
        last_times[has_prefix] = times_sorted[last_prefix[has_prefix]]
        info = {
            "source": raw.source,
            "format": "sequences",
            "split": "temporal_loo",
            "ties": "file_order",
            "item_order": "ascending_raw_id",
            "dedup": dedup,
            "min_length": int(min_length),
            "num_raw_rows": len(raw),
            "num_duplicate_rows_dropped": len(raw) - len(deduped),
            "num_users_dropped": num_dropped_users,
            "num_rows_dropped": len(deduped) - num_rows,
        }
        return cls(
            train_indptr=np.concatenate([[0], np.cumsum(prefix_lengths)]),
            train_items=train_items,
            val_items=val,
            test_items=test,
            user_ids=user_ids,
            item_ids=item_ids,
            name=name or _default_name(raw.source),
            info=info,
            last_train_times=last_times,
        )


# --------------------------------------------------------------- RecBole sequences
@dataclasses.dataclass
class _SequenceFile:
    """One parsed ``user / item_id_list / item_id`` file.

    Attributes:
        text: the parsed body, for "<file>: line <n>: <field> ..." messages.
        users: [R] user tokens.
        offsets: [R+1] int64 history offsets into `history_tokens`.
        history_tokens: [H] item tokens of the histories, oldest first.
        targets: [R] item tokens.
        columns: header position of the user, history and item fields.
    """

    text: Any
    users: np.ndarray
    offsets: np.ndarray
    history_tokens: np.ndarray
    targets: np.ndarray
    columns: tuple[int, int, int]

    @property
    def source(self) -> str:
        return self.text.source

    def error(self, row: int, column: int, problem: str) -> ValueError:
        return self.text.error(row, self.columns[column], problem)


def _read_sequence_file(
    path: pathlib.Path, *, user_field: str, history_field: str, item_field: str
) -> _SequenceFile:
    data, source = loaders.read_bytes(path)
    fields, types, body = loaders._recbole_header(data, source)
    for option, wanted in (
        ("user_field", user_field),
        ("history_field", history_field),
        ("item_field", item_field),
    ):
        if wanted not in fields:
            raise ValueError(
                f"{source}: line 1: no field {wanted!r} in header {fields}; pass "
                f"{option}= (a sequential benchmark file has user_id:token, "
                "item_id_list:token_seq and item_id:token)"
            )
    history_type = types[fields.index(history_field)]
    if history_type != "token_seq":
        raise ValueError(
            f"{source}: line 1: field {history_field!r} has type {history_type}; the "
            "history of a sequential benchmark file is a token_seq"
        )
    if loaders._is_blank(body):
        raise ValueError(f"{source}: line 2: no data rows below the header")
    roles = {user_field: "str", history_field: "text", item_field: "str"}
    text = loaders._Delimited(
        body,
        source=source,
        sep="\t",
        first_line=2,
        fields=[loaders._Field(name, roles.get(name, "skip")) for name in fields],
        separator_advice=" RecBole atomic files are tab-separated.",
    )
    columns = tuple(fields.index(f) for f in (user_field, history_field, item_field))
    histories = pa.array(text.columns[columns[1]], type=pa.string())
    split = pc.utf8_split_whitespace(histories)
    tokens = split.flatten().to_numpy(zero_copy_only=False).astype(str)
    row_of_token = np.repeat(
        np.arange(len(histories)), np.diff(split.offsets.to_numpy())
    )
    nonempty = tokens != ""
    counts = np.bincount(row_of_token[nonempty], minlength=len(histories))
    return _SequenceFile(
        text=text,
        users=text.columns[columns[0]],
        offsets=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
        history_tokens=tokens[nonempty],
        targets=text.columns[columns[2]],
        columns=columns,
    )


def _read_index_map(path: pathlib.Path, *, what: str) -> np.ndarray:
    """[n] raw ids ordered by index, from a ``raw <tab> index`` file (0..n-1)."""
    data, source = loaders.read_bytes(path)
    text = loaders._Delimited(
        loaders._trim_text(data),
        source=source,
        sep="\t",
        fields=(
            loaders._Field(f"raw {what} id", "auto"),
            loaders._Field("index", "int"),
        ),
        separator_advice=" The map has one 'raw id <tab> index' per line.",
    )
    raw_ids, index = text.columns
    size = index.size
    text.require(
        1,
        (index >= 0) & (index < size),
        f"must be in 0..{size - 1} (the map has {size} lines)",
    )
    for column, values in ((1, index), (0, raw_ids)):
        _, first = np.unique(values, return_index=True)
        if first.size != size:
            repeated = np.ones(size, bool)
            repeated[first] = False
            row = int(np.flatnonzero(repeated)[0])
            earlier = int(np.flatnonzero(values == values[row])[0])
            raise text.error(
                row,
                column,
                f"{values[row].item()!r} repeats line {earlier + 1}; every {what} "
                "needs one line with its own index",
            )
    ordered = np.empty(size, raw_ids.dtype)
    ordered[index] = raw_ids
    return ordered


def _auto_ids(tokens: np.ndarray) -> np.ndarray:
    """int64 when every token is a decimal integer that fits, else the strings."""
    if tokens.size and all(_INT_TOKEN_RE.match(t) for t in np.unique(tokens).tolist()):
        try:
            return tokens.astype(np.int64)
        except OverflowError:
            pass
    return tokens


def _tokens_to_index(
    tokens: np.ndarray, *, id_map: np.ndarray, map_source: str, locate: Any
) -> np.ndarray:
    """[n] indices of `tokens` in an index map.

    The tokens are the map's indices (UniSRec); when they are not, but every one is
    a raw id of the map, the map translates them. `locate(position, problem)`
    returns the error for a bad token.
    """
    unique, inverse = np.unique(tokens, return_inverse=True)
    values = np.full(unique.size, -1, np.int64)
    for position, token in enumerate(unique.tolist()):
        if _INT_TOKEN_RE.match(token) and len(token) < 19:
            values[position] = int(token)
    valid = (values >= 0) & (values < id_map.size)
    if valid.all():
        return values[inverse]
    as_raw = _auto_ids(unique) if id_map.dtype.kind == "i" else unique
    if as_raw.dtype.kind == id_map.dtype.kind and np.all(np.isin(as_raw, id_map)):
        return _lookup(id_map, as_raw, field="map")[inverse]
    bad = int(np.flatnonzero(~valid[inverse])[0])
    raise locate(
        bad,
        f"{tokens[bad].item()!r} is neither an index 0..{id_map.size - 1} of "
        f"{map_source} nor one of its raw ids",
    )


def _find_file(prefix: pathlib.Path, suffix: str, *, required: bool):
    base = prefix.parent / f"{prefix.name}.{suffix}"
    for candidate in (base, base.with_name(base.name + ".gz")):
        if candidate.exists():
            return candidate
    if required:
        raise FileNotFoundError(f"no such file: {base} (or {base}.gz)")
    return None


def _resolve_prefix(path: pathlib.Path, train_suffix: str) -> pathlib.Path:
    if not path.is_dir():
        return path
    pattern = re.compile(rf"^(.+)\.{re.escape(train_suffix)}\.inter(\.gz)?$")
    names = sorted({m.group(1) for p in path.iterdir() if (m := pattern.match(p.name))})
    if not names:
        raise FileNotFoundError(
            f"{path}: no <name>.{train_suffix}.inter(.gz) file in this directory"
        )
    if len(names) > 1:
        raise ValueError(
            f"{path}: several datasets ({names}); pass the path prefix, e.g. "
            f"{path / names[0]}"
        )
    return path / names[0]


def _tail_text(items: Sequence[int], count: int = 5) -> str:
    items = list(items)
    shown = " ".join(str(i) for i in items[-count:])
    return ("... " if len(items) > count else "") + shown


def load_recbole_sequences(
    path: str | os.PathLike,
    *,
    name: str | None = None,
    suffixes: Sequence[str] = ("train", "valid", "test"),
    user_field: str = "user_id",
    history_field: str = "item_id_list",
    item_field: str = "item_id",
) -> Sequences:
    """Loads RecBole / UniSRec pre-split sequential files, keeping their split.

    Reads ``<prefix>.train.inter``, ``.valid.inter`` and ``.test.inter`` (each
    optionally ``.gz``; tab-separated with the header ``user_id:token
    item_id_list:token_seq item_id:token``). Train rows are growing prefixes of each
    user's training sequence (history -> next item); valid and test have one row per
    user whose history is the query and whose item is the target. Histories may be
    truncated to their last T items (UniSRec: 50), so per user:

      * the training prefix is rebuilt in full from the train rows: the shortest
        history plus the targets in order (rows whose history has the file's
        longest length T are chained by matching their history to the last T items
        built so far). It can therefore be longer than the valid history;
        ``history(..., max_len=T)`` reproduces the files' inputs;
      * the validation item is the valid target; its history must be the last
        ``min(len(prefix), T_valid)`` items of the prefix (T_valid = longest valid
        history), and is the prefix itself for a user without train rows;
      * the test item is the test target; its history must be the last items of
        prefix + validation item likewise.

    Raw ids: with ``<prefix>.item2index`` / ``<prefix>.user2index`` (``raw <tab>
    index``, optionally ``.gz``) the file tokens are those indices (UniSRec), the
    item and user spaces are the whole maps in index order, and `item_ids` /
    `user_ids` are the raw ids (ASINs, reviewer ids); tokens that are raw ids of the
    map are translated too. Without a map the tokens are the raw ids (int64 when
    all are integers), ordered ascending over the three files.

    Args:
        path: the path prefix (``.../Scientific/Scientific``) or the directory
            holding exactly one ``<name>.train.inter(.gz)``.
        name: dataset name (default: the prefix's base name).
        suffixes: names of the train, valid and test files.
        user_field: user column.
        history_field: ``token_seq`` history column.
        item_field: target item column.

    Returns:
        `Sequences` with the files' split.

    Raises:
        FileNotFoundError: a missing file.
        ValueError: malformed or inconsistent files; the message starts with
            ``<file>: line <n>:`` and names the field (a history that does not
            continue the user's sequence, a user twice in valid or test, a token
            outside the map).
    """
    if len(suffixes) != 3:
        raise ValueError(f"suffixes must name train, valid and test, got {suffixes}")
    prefix = _resolve_prefix(pathlib.Path(path), suffixes[0])
    paths = [_find_file(prefix, f"{s}.inter", required=True) for s in suffixes]
    maps: dict[str, tuple[np.ndarray | None, str]] = {}
    for what in ("user", "item"):
        map_path = _find_file(prefix, f"{what}2index", required=False)
        maps[what] = (
            (None, "")
            if map_path is None
            else (_read_index_map(map_path, what=what), str(map_path))
        )
    files = [
        _read_sequence_file(
            p, user_field=user_field, history_field=history_field, item_field=item_field
        )
        for p in paths
    ]
    users, user_ids = _index_users(files, maps["user"])
    histories, targets, item_ids = _index_items(files, maps["item"])
    sequences = _rebuild(files, users, histories, targets, user_ids.size)
    prefixes, val, test = sequences
    lengths = np.array([len(p) for p in prefixes], np.int64)
    train_items = (
        np.concatenate([np.asarray(p, np.int64) for p in prefixes])
        if prefixes
        else np.zeros(0, np.int64)
    )
    info = {
        "source": str(prefix),
        "format": "recbole_sequences",
        "split": "recbole_benchmark_files",
        "files": [f.source for f in files],
        "item_ids": "item2index" if maps["item"][0] is not None else "tokens",
        "user_ids": "user2index" if maps["user"][0] is not None else "tokens",
        "num_rows": {s: len(f.users) for s, f in zip(SPLITS, files, strict=True)},
        "history_truncation": {
            s: int(np.diff(f.offsets).max(initial=0))
            for s, f in zip(SPLITS, files, strict=True)
        },
        "num_users_without_rows": int(np.sum((lengths == 0) & (val < 0) & (test < 0))),
    }
    return Sequences(
        train_indptr=np.concatenate([[0], np.cumsum(lengths)]),
        train_items=train_items,
        val_items=val,
        test_items=test,
        user_ids=user_ids,
        item_ids=item_ids,
        name=name or prefix.name,
        info=info,
    )


def _index_users(
    files: list[_SequenceFile], user_map: tuple[np.ndarray | None, str]
) -> tuple[list[np.ndarray], np.ndarray]:
    """(per file [R] user indices, [U] raw user ids)."""
    id_map, map_source = user_map
    if id_map is not None:
        per_file = [
            _tokens_to_index(
                file.users,
                id_map=id_map,
                map_source=map_source,
                locate=lambda row, problem, file=file: file.error(row, 0, problem),
            )
            for file in files
        ]
        return per_file, id_map
    codes, user_ids = factorize(_auto_ids(np.concatenate([f.users for f in files])))
    bounds = np.cumsum([0] + [len(f.users) for f in files])
    return [codes[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)], user_ids


def _index_items(
    files: list[_SequenceFile], item_map: tuple[np.ndarray | None, str]
) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray]:
    id_map, map_source = item_map
    histories, targets = [], []
    if id_map is not None:
        for file in files:

            def at_token(position, problem, file=file):
                row = int(np.searchsorted(file.offsets, position, side="right") - 1)
                return file.error(row, 1, problem)

            history = _tokens_to_index(
                file.history_tokens,
                id_map=id_map,
                map_source=map_source,
                locate=at_token,
            )
            target = _tokens_to_index(
                file.targets,
                id_map=id_map,
                map_source=map_source,
                locate=lambda row, problem, file=file: file.error(row, 2, problem),
            )
            histories.append(history)
            targets.append(target)
        return histories, targets, id_map
    parts = [p for f in files for p in (f.history_tokens, f.targets)]
    codes, item_ids = factorize(_auto_ids(np.concatenate(parts)))
    bounds = np.cumsum([0] + [len(p) for p in parts])
    pieces = [codes[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    return pieces[0::2], pieces[1::2], item_ids


def _rebuild(
    files: list[_SequenceFile],
    users: list[np.ndarray],
    histories: list[np.ndarray],
    targets: list[np.ndarray],
    num_users: int,
) -> tuple[list[list[int]], np.ndarray, np.ndarray]:
    """Per-user (training prefix, validation item, test item), checked."""
    train = files[0]
    prefixes: list[list[int] | None] = [None] * num_users
    offsets = train.offsets.tolist()
    tokens = histories[0].tolist()
    train_targets = targets[0].tolist()
    window = int(np.diff(train.offsets).max(initial=0))
    order = np.argsort(users[0], kind="stable")
    bounds = np.searchsorted(users[0][order], np.arange(num_users + 1))
    for user in np.flatnonzero(np.diff(bounds)).tolist():
        rows = order[bounds[user] : bounds[user + 1]].tolist()
        rows_history = {r: tokens[offsets[r] : offsets[r + 1]] for r in rows}
        prefixes[user] = _chain_train_rows(
            train, rows, rows_history, train_targets, window
        )
    held_out = []
    for split_index in (1, 2):
        file = files[split_index]
        split_users = users[split_index]
        _check_one_row_per_user(file, split_users)
        item = np.full(num_users, -1, np.int64)
        item[split_users] = targets[split_index]
        held_out.append(item)
        offsets = file.offsets.tolist()
        tokens = histories[split_index].tolist()
        window = int(np.diff(file.offsets).max(initial=0))
        previous = held_out[0] if split_index == 2 else None
        for row, user in enumerate(split_users.tolist()):
            history = tokens[offsets[row] : offsets[row + 1]]
            if prefixes[user] is None:
                # No train row (nor valid row, at test): the query is the prefix.
                prefixes[user] = history
                continue
            context = prefixes[user]
            if previous is not None and previous[user] >= 0:
                context = context + [int(previous[user])]
            expected = min(len(context), window)
            if (
                len(history) != expected
                or history != context[len(context) - expected :]
            ):
                what = (
                    "training sequence rebuilt from " + files[0].source
                    if split_index == 1
                    else "training sequence plus the validation item"
                )
                raise file.error(
                    row,
                    1,
                    f"of user {file.users[row].item()!r} ({len(history)} items, "
                    f"[{_tail_text(history)}]) is not the last {expected} items of "
                    f"the {what} ({len(context)} items, [{_tail_text(context)}])",
                )
    for user in range(num_users):
        if prefixes[user] is None:
            prefixes[user] = []
    return prefixes, held_out[0], held_out[1]


def _check_one_row_per_user(file: _SequenceFile, users: np.ndarray) -> None:
    _, first = np.unique(users, return_index=True)
    if first.size != users.size:
        repeated = np.ones(users.size, bool)
        repeated[first] = False
        row = int(np.flatnonzero(repeated)[0])
        earlier = int(np.flatnonzero(users == users[row])[0])
        raise file.error(
            row,
            0,
            f"{file.users[row].item()!r} already has a row on line {earlier + 2}; "
            "valid and test files have one row per user",
        )


def _chain_train_rows(
    train: _SequenceFile,
    rows: list[int],
    history: dict[int, list[int]],
    targets: list[int],
    window: int,
) -> list[int]:
    """One user's training sequence from its prefix rows (file order `rows`).

    Rows shorter than the file's longest history `window` are placed by length;
    rows of length `window` (possibly truncated) by matching their history to the
    last `window` items built so far.
    """
    by_length = sorted(rows, key=lambda r: len(history[r]))
    shortest = len(history[by_length[0]])
    starts = [r for r in by_length if len(history[r]) == shortest]
    if len(starts) > 1 and shortest < window:
        first, second = sorted(starts)[:2]
        raise train.error(
            second,
            1,
            f"of user {train.users[second].item()!r} has {shortest} items, like line "
            f"{first + 2}; the train rows of a user are growing prefixes, one per "
            "length",
        )
    if len(starts) > 1:
        successors = {tuple(history[r][1:] + [targets[r]]) for r in starts}
        starts = [r for r in starts if tuple(history[r]) not in successors]
        if len(starts) != 1:
            row = min(rows)
            raise train.error(
                row,
                1,
                f"of user {train.users[row].item()!r}: cannot tell which of its "
                "truncated histories comes first (none or several start the chain)",
            )
    start = starts[0]
    sequence = history[start] + [targets[start]]
    full: dict[tuple[int, ...], list[int]] = {}
    for row in by_length:
        if row == start:
            continue
        if len(history[row]) < window:
            if history[row] != sequence:
                raise train.error(
                    row,
                    1,
                    f"of user {train.users[row].item()!r} ({len(history[row])} items, "
                    f"[{_tail_text(history[row])}]) does not continue the sequence "
                    f"rebuilt from its shorter rows ({len(sequence)} items, "
                    f"[{_tail_text(sequence)}])",
                )
            sequence.append(targets[row])
        else:
            full.setdefault(tuple(history[row]), []).append(row)
    remaining = sum(len(v) for v in full.values())
    for _ in range(remaining):
        key = tuple(sequence[-window:])
        candidates = full.get(key)
        if not candidates:
            row = min(r for group in full.values() for r in group)
            raise train.error(
                row,
                1,
                f"of user {train.users[row].item()!r} ({len(history[row])} items, "
                f"[{_tail_text(history[row])}]) does not continue the sequence "
                f"rebuilt so far ({len(sequence)} items, [{_tail_text(sequence)}])",
            )
        if len({targets[r] for r in candidates}) > 1:
            first, second = sorted(candidates)[:2]
            raise train.error(
                second,
                1,
                f"of user {train.users[second].item()!r} equals the history on line "
                f"{first + 2} with another target; the order of these rows is "
                "ambiguous",
            )
        sequence.append(targets[candidates.pop()])
        if not candidates:
            del full[key]
    return sequence
