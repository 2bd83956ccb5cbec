"""Interaction tables: the raw UIR[T] table and the split CSR dataset.

`RawInteractions` is what a loader returns: one row per rating event, raw user and item
ids as they appear in the file. `Interactions` is what models consume: three binary
[U, I] CSR matrices (train / val / test) over contiguous indices, plus the raw-id maps
needed to export results (e.g. a distilled matrix) back to the original ids.

Raw ids are kept as either an int64 array or a NumPy unicode (``<U``) array; object
arrays of strings are converted to unicode at construction.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import pathlib
import tempfile
from collections.abc import Mapping
from typing import Any

import numpy as np
import scipy.sparse as sp

SPLITS = ("train", "val", "test")
_NPZ_FORMAT_VERSION = 1


def normalize_ids(ids: Any, *, field: str) -> np.ndarray:
    """Returns raw ids as a 1-D int64 or unicode array.

    Args:
        ids: [N] raw ids: integers, strings or bytes (array-like).
        field: name used in error messages.

    Returns:
        [N] int64 array for integer ids, else a ``<U`` unicode array.

    Raises:
        ValueError: if `ids` is not 1-D or holds floats with a fractional part.

    >>> normalize_ids(["a", "b"], field="users").dtype.kind
    'U'
    """
    array = np.asarray(ids)
    if array.ndim != 1:
        raise ValueError(f"{field}: expected a 1-D array, got shape {array.shape}")
    kind = array.dtype.kind
    if kind in "iub":
        return array.astype(np.int64, copy=False)
    if kind == "U":
        return array
    if kind == "S":
        return np.char.decode(array, "utf-8")
    if kind == "f":
        if array.size and not np.all(np.isfinite(array) & (array == np.round(array))):
            raise ValueError(f"{field}: float ids must be whole numbers")
        return array.astype(np.int64)
    if kind == "O":
        if array.size == 0:
            return np.zeros(0, np.int64)
        if all(isinstance(x, (int, np.integer)) for x in array):
            return array.astype(np.int64)
        return np.array(
            [x.decode("utf-8") if isinstance(x, bytes) else str(x) for x in array],
            dtype=str,
        )
    raise ValueError(f"{field}: unsupported id dtype {array.dtype}")


@dataclasses.dataclass(frozen=True, eq=False)
class RawInteractions:
    """A UIR[T] table: one row per interaction event, raw ids as in the source file.

    Attributes:
        users: [N] raw user ids (int64 or unicode).
        items: [N] raw item ids (int64 or unicode).
        ratings: [N] float32 explicit ratings, or None for implicit data.
        timestamps: [N] int64 unix seconds, or None.
        source: the file (or object) the rows came from, for messages and `info`.
    """

    users: np.ndarray
    items: np.ndarray
    ratings: np.ndarray | None = None
    timestamps: np.ndarray | None = None
    source: str = "<memory>"

    def __post_init__(self):
        users = normalize_ids(self.users, field="users")
        items = normalize_ids(self.items, field="items")
        if users.shape != items.shape:
            raise ValueError(
                f"users and items must have the same length, got {users.shape} and "
                f"{items.shape} ({self.source})"
            )
        object.__setattr__(self, "users", users)
        object.__setattr__(self, "items", items)
        if self.ratings is not None:
            ratings = np.asarray(self.ratings)
            if ratings.shape != users.shape:
                raise ValueError(
                    f"ratings: expected shape {users.shape}, got {ratings.shape} "
                    f"({self.source})"
                )
            if ratings.dtype.kind not in "iufb":
                raise ValueError(
                    f"ratings: expected numbers, got dtype {ratings.dtype}"
                )
            object.__setattr__(self, "ratings", ratings.astype(np.float32, copy=False))
        if self.timestamps is not None:
            timestamps = np.asarray(self.timestamps)
            if timestamps.shape != users.shape:
                raise ValueError(
                    f"timestamps: expected shape {users.shape}, got {timestamps.shape} "
                    f"({self.source})"
                )
            if timestamps.dtype.kind not in "iu":
                if timestamps.dtype.kind == "f" and np.all(
                    timestamps == np.round(timestamps)
                ):
                    timestamps = timestamps.astype(np.int64)
                else:
                    raise ValueError(
                        f"timestamps: expected integers, got dtype {timestamps.dtype}"
                    )
            object.__setattr__(
                self, "timestamps", timestamps.astype(np.int64, copy=False)
            )

    def __len__(self) -> int:
        return int(self.users.shape[0])

    @property
    def num_rows(self) -> int:
        """Number of rows N."""
        return len(self)

    def select(self, rows: np.ndarray) -> RawInteractions:
        """Returns the table restricted to `rows` (a boolean mask [N] or indices)."""
        return RawInteractions(
            users=self.users[rows],
            items=self.items[rows],
            ratings=None if self.ratings is None else self.ratings[rows],
            timestamps=None if self.timestamps is None else self.timestamps[rows],
            source=self.source,
        )

    def summary(self) -> dict[str, Any]:
        """Counts of rows, distinct users, items and duplicate (user, item) pairs."""
        user_codes, _ = _codes(self.users)
        item_codes, num_items = _codes(self.items)
        pairs = user_codes.astype(np.int64) * max(num_items, 1) + item_codes
        return {
            "source": self.source,
            "num_rows": len(self),
            "num_users": int(user_codes.max() + 1) if len(self) else 0,
            "num_items": num_items,
            "num_duplicate_pairs": len(self) - int(np.unique(pairs).size),
        }


def factorize(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Maps ids to contiguous codes in ascending id order.

    Integer ids with a compact range use an O(N) lookup table instead of a sort.

    Args:
        ids: [N] int or string ids.

    Returns:
        (codes [N] int64 with ``uniques[codes] == ids``, uniques [K] sorted).

    >>> codes, uniques = factorize(np.array([30, 10, 30]))
    >>> codes.tolist(), uniques.tolist()
    ([1, 0, 1], [10, 30])
    """
    ids = np.asarray(ids).reshape(-1)
    if ids.dtype.kind in "iu" and ids.size:
        low, high = int(ids.min()), int(ids.max())
        span = high - low + 1
        if span <= max(4 * ids.size, 1 << 16):
            shifted = (ids - low).astype(np.int64)
            present = np.zeros(span, bool)
            present[shifted] = True
            lookup = np.cumsum(present, dtype=np.int64) - 1
            uniques = (np.flatnonzero(present) + low).astype(ids.dtype)
            return lookup[shifted], uniques
    uniques, codes = np.unique(ids, return_inverse=True)
    return codes.reshape(-1).astype(np.int64), uniques


def _codes(ids: np.ndarray) -> tuple[np.ndarray, int]:
    codes, uniques = factorize(ids)
    return codes, int(uniques.size)


def _as_csr(matrix: Any, *, field: str, shape: tuple[int, int] | None) -> sp.csr_matrix:
    if matrix is None:
        if shape is None:
            raise ValueError(f"{field}: cannot be None without a shape")
        return sp.csr_matrix(shape, dtype=np.float32)
    if isinstance(matrix, sp.csr_matrix) and matrix.dtype == np.float32:
        csr = matrix
    elif sp.issparse(matrix):
        csr = sp.csr_matrix(matrix, dtype=np.float32)
    else:
        dense = np.asarray(matrix)
        if dense.ndim != 2:
            raise ValueError(f"{field}: expected a 2-D matrix, got shape {dense.shape}")
        csr = sp.csr_matrix(dense.astype(np.float32))
    if shape is not None and csr.shape != shape:
        raise ValueError(f"{field}: expected shape {shape}, got {csr.shape}")
    return csr


def _canonical(csr: sp.csr_matrix) -> sp.csr_matrix:
    csr = csr.copy()
    csr.sum_duplicates()
    csr.eliminate_zeros()
    csr.sort_indices()
    csr.indptr = csr.indptr.astype(np.int64)
    csr.indices = csr.indices.astype(np.int64)
    return csr


def rows_to_dense(csr: sp.csr_matrix, rows: Any, dtype: Any = np.float32) -> np.ndarray:
    """Densifies selected rows of a CSR matrix, never the whole matrix.

    Args:
        csr: [U, I] sparse matrix.
        rows: [B] integer row indices (any order, repeats allowed).
        dtype: dtype of the output.

    Returns:
        [B, I] dense array of `dtype`.

    >>> m = sp.csr_matrix(np.array([[0, 1], [1, 0]], np.float32))
    >>> rows_to_dense(m, [1, 1]).tolist()
    [[1.0, 0.0], [1.0, 0.0]]
    """
    rows = np.asarray(rows, dtype=np.int64).reshape(-1)
    num_items = csr.shape[1]
    out = np.zeros((rows.size, num_items), dtype=dtype)
    if rows.size == 0:
        return out
    if rows.min() < -csr.shape[0] or rows.max() >= csr.shape[0]:
        raise IndexError(f"rows out of range for a matrix with {csr.shape[0]} rows")
    rows = np.where(rows < 0, rows + csr.shape[0], rows)
    starts = csr.indptr[rows]
    lengths = csr.indptr[rows + 1] - starts
    total = int(lengths.sum())
    if total == 0:
        return out
    out_rows = np.repeat(np.arange(rows.size), lengths)
    offsets = np.arange(total) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    positions = np.repeat(starts, lengths) + offsets
    # np.add.at sums duplicate entries of a non-canonical matrix, like .toarray().
    np.add.at(out, (out_rows, csr.indices[positions]), csr.data[positions])
    return out


def _ids_digest(ids: np.ndarray) -> bytes:
    if ids.dtype.kind == "U":
        payload = "\x00".join(ids.tolist()).encode("utf-8")
        return b"str:" + hashlib.sha256(payload).digest()
    return b"int:" + hashlib.sha256(ids.astype("<i8").tobytes()).digest()


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, pathlib.PurePath):
        return str(value)
    return value


@dataclasses.dataclass(frozen=True, eq=False)
class Interactions:
    """A split implicit-feedback dataset: three [U, I] CSR matrices plus id maps.

    Attributes:
        train: [U, I] float32 CSR, binary (1 = interaction) unless built with
            ``binarize=False`` (then duplicate counts, recorded in `info`).
        val: [U, I] float32 CSR, validation interactions.
        test: [U, I] float32 CSR, test interactions.
        user_ids: [U] raw user ids (int64 or unicode), row u <-> user_ids[u].
        item_ids: [I] raw item ids (int64 or unicode), column i <-> item_ids[i].
        name: dataset name.
        info: every preprocessing knob, the split protocol, seed and split hash.
    """

    train: sp.csr_matrix
    val: sp.csr_matrix
    test: sp.csr_matrix
    user_ids: np.ndarray
    item_ids: np.ndarray
    name: str = "dataset"
    info: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        train = _as_csr(self.train, field="train", shape=None)
        shape = train.shape
        object.__setattr__(self, "train", train)
        for field in ("val", "test"):
            object.__setattr__(
                self, field, _as_csr(getattr(self, field), field=field, shape=shape)
            )
        for field in SPLITS:
            matrix = getattr(self, field)
            if matrix.nnz and not (
                np.all(np.isfinite(matrix.data)) and matrix.data.min() >= 0
            ):
                raise ValueError(f"{field}: values must be finite and non-negative")
        user_ids = normalize_ids(self.user_ids, field="user_ids")
        item_ids = normalize_ids(self.item_ids, field="item_ids")
        if user_ids.shape != (shape[0],):
            raise ValueError(
                f"user_ids: expected shape ({shape[0]},) to match the {shape} "
                f"matrices, got {user_ids.shape}"
            )
        if item_ids.shape != (shape[1],):
            raise ValueError(
                f"item_ids: expected shape ({shape[1]},) to match the {shape} "
                f"matrices, got {item_ids.shape}"
            )
        if np.unique(user_ids).size != user_ids.size:
            raise ValueError("user_ids: raw ids must be unique")
        if np.unique(item_ids).size != item_ids.size:
            raise ValueError("item_ids: raw ids must be unique")
        object.__setattr__(self, "user_ids", user_ids)
        object.__setattr__(self, "item_ids", item_ids)
        if not isinstance(self.info, dict):
            raise ValueError(f"info: expected a dict, got {type(self.info).__name__}")
        object.__setattr__(self, "info", dict(self.info))

    # ----------------------------------------------------------------- constructors
    @classmethod
    def from_matrices(
        cls,
        train: Any,
        val: Any = None,
        test: Any = None,
        *,
        user_ids: Any = None,
        item_ids: Any = None,
        name: str = "matrices",
        info: dict | None = None,
        binarize: bool = True,
    ) -> Interactions:
        """Builds a dataset from [U, I] matrices (sparse or dense).

        Args:
            train: [U, I] matrix; non-zeros are interactions.
            val: [U, I] matrix or None (empty).
            test: [U, I] matrix or None (empty).
            user_ids: [U] raw user ids; default ``arange(U)``.
            item_ids: [I] raw item ids; default ``arange(I)``.
            name: dataset name.
            info: extra metadata.
            binarize: set every stored non-zero to 1.

        Returns:
            The `Interactions`.

        >>> d = Interactions.from_matrices(np.eye(3))
        >>> d.num_users, d.num_items, d.num_interactions["train"]
        (3, 3, 3)
        """
        train_csr = _canonical(_as_csr(train, field="train", shape=None))
        shape = train_csr.shape
        matrices = [train_csr]
        for field, matrix in (("val", val), ("test", test)):
            matrices.append(_canonical(_as_csr(matrix, field=field, shape=shape)))
        if binarize:
            for matrix in matrices:
                matrix.data[:] = 1.0
        info = dict(info or {})
        info.setdefault("binarized", binarize)
        return cls(
            *[_compact(m) for m in matrices],
            user_ids=np.arange(shape[0]) if user_ids is None else user_ids,
            item_ids=np.arange(shape[1]) if item_ids is None else item_ids,
            name=name,
            info=info,
        )

    @classmethod
    def from_split_index(
        cls,
        user_index: np.ndarray,
        item_index: np.ndarray,
        split: np.ndarray,
        *,
        user_ids: np.ndarray,
        item_ids: np.ndarray,
        name: str,
        info: dict | None = None,
        binarize: bool = True,
    ) -> Interactions:
        """Builds the matrices from rows tagged 0 train / 1 val / 2 test / -1 dropped.

        Args:
            user_index: [N] contiguous user indices in [0, U).
            item_index: [N] contiguous item indices in [0, I).
            split: [N] split tag per row (the `index.npz` convention).
            user_ids: [U] raw user ids.
            item_ids: [I] raw item ids.
            name: dataset name.
            info: metadata to store.
            binarize: duplicates collapse to 1; else values count duplicate rows.

        Returns:
            The `Interactions`.
        """
        user_index = np.asarray(user_index)
        item_index = np.asarray(item_index)
        split = np.asarray(split)
        if not (user_index.shape == item_index.shape == split.shape):
            raise ValueError(
                "user_index, item_index and split must have equal shapes, got "
                f"{user_index.shape}, {item_index.shape}, {split.shape}"
            )
        shape = (len(user_ids), len(item_ids))
        matrices = []
        for tag in range(3):
            rows = split == tag
            matrix = sp.csr_matrix(
                (
                    np.ones(int(rows.sum()), np.float32),
                    (user_index[rows], item_index[rows]),
                ),
                shape=shape,
                dtype=np.float32,
            )
            matrix.sum_duplicates()
            matrix.sort_indices()
            if binarize:
                matrix.data[:] = 1.0
            matrices.append(matrix)
        info = dict(info or {})
        info.setdefault("binarized", binarize)
        return cls(
            *matrices,
            user_ids=user_ids,
            item_ids=item_ids,
            name=name,
            info=info,
        )

    # ------------------------------------------------------------------- properties
    @property
    def shape(self) -> tuple[int, int]:
        """(U, I)."""
        return self.train.shape

    @property
    def num_users(self) -> int:
        """U, the number of rows."""
        return int(self.train.shape[0])

    @property
    def num_items(self) -> int:
        """I, the number of columns."""
        return int(self.train.shape[1])

    @property
    def num_interactions(self) -> dict[str, int]:
        """Stored (user, item) pairs per split: {"train": n, "val": n, "test": n}."""
        return {split: int(getattr(self, split).nnz) for split in SPLITS}

    @functools.cached_property
    def item_counts(self) -> np.ndarray:
        """[I] float64 sum of train values per item (the popularity counts)."""
        return np.bincount(
            self.train.indices, weights=self.train.data, minlength=self.num_items
        ).astype(np.float64)

    @functools.cached_property
    def user_index(self) -> dict:
        """Raw user id -> row index."""
        return {raw: index for index, raw in enumerate(self.user_ids.tolist())}

    @functools.cached_property
    def item_index(self) -> dict:
        """Raw item id -> column index."""
        return {raw: index for index, raw in enumerate(self.item_ids.tolist())}

    def users_to_index(self, raw_ids: Any) -> np.ndarray:
        """Vectorised raw user id -> row index; raises KeyError for unknown ids."""
        return _lookup(self.user_ids, raw_ids, field="user")

    def items_to_index(self, raw_ids: Any) -> np.ndarray:
        """Vectorised raw item id -> column index; raises KeyError for unknown ids."""
        return _lookup(self.item_ids, raw_ids, field="item")

    def split(self, name: str) -> sp.csr_matrix:
        """Returns the matrix of split `name` ("train", "val" or "test")."""
        if name not in SPLITS:
            raise ValueError(f"unknown split {name!r}; expected one of {SPLITS}")
        return getattr(self, name)

    # -------------------------------------------------------------------- summaries
    def checksum(self) -> str:
        """sha256 hex digest of the three matrices and both id maps (run-stable)."""
        digest = hashlib.sha256()
        digest.update(b"infinite_ae.Interactions.v1")
        digest.update(np.asarray(self.shape, "<i8").tobytes())
        for split in SPLITS:
            matrix = _canonical(getattr(self, split))
            digest.update(split.encode())
            digest.update(matrix.indptr.astype("<i8").tobytes())
            digest.update(matrix.indices.astype("<i8").tobytes())
            digest.update(matrix.data.astype("<f4").tobytes())
        digest.update(_ids_digest(self.user_ids))
        digest.update(_ids_digest(self.item_ids))
        return digest.hexdigest()

    def summary(self) -> dict[str, Any]:
        """Counts and densities per split (densities are fractions of U * I)."""
        cells = max(self.num_users * self.num_items, 1)
        counts = self.num_interactions
        total = sum(counts.values())
        test_users = int(np.count_nonzero(np.diff(self.test.indptr)))
        return {
            "name": self.name,
            "num_users": self.num_users,
            "num_items": self.num_items,
            **{f"num_{split}": counts[split] for split in SPLITS},
            "num_interactions": total,
            "density": total / cells,
            **{f"density_{split}": counts[split] / cells for split in SPLITS},
            "num_users_with_test": test_users,
            "num_empty_train_users": int(np.sum(np.diff(self.train.indptr) == 0)),
            "num_cold_items": int(np.sum(self.item_counts == 0)),
        }

    def with_train(
        self, train: Any, *, name: str | None = None, info: dict | None = None
    ) -> Interactions:
        """Returns a dataset whose train matrix is replaced (e.g. by a distilled one).

        Args:
            train: [U, I] matrix (sparse or dense) with the same shape.
            name: new name (default: unchanged).
            info: entries merged into a copy of `info`.

        Returns:
            A new `Interactions` sharing val, test and the id maps.
        """
        new_train = _canonical(_as_csr(train, field="train", shape=self.shape))
        merged = {**self.info, "train_replaced": True, **(info or {})}
        return Interactions(
            _compact(new_train),
            self.val,
            self.test,
            user_ids=self.user_ids,
            item_ids=self.item_ids,
            name=self.name if name is None else name,
            info=merged,
        )

    # -------------------------------------------------------------------- save/load
    def save_npz(self, path: str | os.PathLike) -> pathlib.Path:
        """Writes everything (matrices, raw ids, name, info) atomically to `path`.

        The file is written to a temporary file in the same directory and moved into
        place with `os.replace`, so a crash never leaves a half-written file.
        """
        path = pathlib.Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, np.ndarray] = {
            "format_version": np.asarray(_NPZ_FORMAT_VERSION),
            "name": np.asarray(self.name),
            "info_json": np.asarray(json.dumps(_jsonable(self.info), sort_keys=True)),
            "user_ids": self.user_ids,
            "item_ids": self.item_ids,
            "shape": np.asarray(self.shape, np.int64),
        }
        for split in SPLITS:
            matrix = getattr(self, split)
            arrays[f"{split}_indptr"] = matrix.indptr
            arrays[f"{split}_indices"] = matrix.indices
            arrays[f"{split}_data"] = matrix.data
        handle = tempfile.NamedTemporaryFile(
            dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False
        )
        try:
            with handle:
                np.savez_compressed(handle, **arrays)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(handle.name, path)
        except BaseException:
            if os.path.exists(handle.name):
                os.unlink(handle.name)
            raise
        return path

    @classmethod
    def load_npz(cls, path: str | os.PathLike) -> Interactions:
        """Reads a file written by `save_npz`."""
        path = pathlib.Path(path)
        if not path.exists():
            raise FileNotFoundError(f"no such dataset file: {path}")
        try:
            with np.load(path, allow_pickle=False) as npz:
                shape = tuple(int(x) for x in npz["shape"])
                matrices = []
                for split in SPLITS:
                    matrices.append(
                        sp.csr_matrix(
                            (
                                npz[f"{split}_data"],
                                npz[f"{split}_indices"],
                                npz[f"{split}_indptr"],
                            ),
                            shape=shape,
                        )
                    )
                return cls(
                    *matrices,
                    user_ids=npz["user_ids"],
                    item_ids=npz["item_ids"],
                    name=str(npz["name"]),
                    info=json.loads(str(npz["info_json"])),
                )
        except KeyError as error:
            raise ValueError(f"{path}: not an Interactions file ({error})") from None


def _compact(csr: sp.csr_matrix) -> sp.csr_matrix:
    """int32 index arrays when they fit (what scipy would choose itself)."""
    if csr.nnz < np.iinfo(np.int32).max and max(csr.shape) < np.iinfo(np.int32).max:
        csr.indptr = csr.indptr.astype(np.int32)
        csr.indices = csr.indices.astype(np.int32)
    return csr


def _lookup(known: np.ndarray, raw_ids: Any, *, field: str) -> np.ndarray:
    query = normalize_ids(np.atleast_1d(np.asarray(raw_ids)), field=field)
    order = np.argsort(known, kind="stable")
    sorted_known = known[order]
    if query.dtype.kind != sorted_known.dtype.kind:
        raise KeyError(
            f"{field} ids have dtype {query.dtype}, dataset has {known.dtype}"
        )
    position = np.searchsorted(sorted_known, query)
    position = np.minimum(position, max(known.size - 1, 0))
    found = known.size > 0 and sorted_known[position] == query
    if not np.all(found):
        missing = query[~np.asarray(found, bool)][:5].tolist()
        raise KeyError(f"unknown raw {field} ids: {missing}")
    return order[position]
