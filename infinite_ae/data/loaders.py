"""Loaders for the common recommender data formats.

Every text loader reads the whole file as bytes and parses it with vectorised NumPy
(no per-line Python loop on the happy path). When a file is malformed, a slower pass
finds the first bad line and raises a `ValueError` that names the file and the 1-based
line number. Missing files raise `FileNotFoundError` naming the path.

Formats:
  * GroupLens MovieLens: ML-1M ``ratings.dat`` (``::``, ISO-8859-1, plain / .gz / inside
    ``ml-1m.zip``) and ML-100K ``u.data`` (tab, plain / inside ``ml-100k.zip``).
  * The ∞-AE / Distill-CF preprocessed directory (``total_data.hdf5`` + ``index.npz``).
  * Amazon 2018 ratings-only CSV (item, user, rating, timestamp) and 5-core JSON lines.
  * RecBole atomic ``.inter`` files, including pre-split ``benchmark_filename`` sets.
  * Generic delimited text and pandas DataFrames (pandas is optional).
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import os
import pathlib
import re
import warnings
import zipfile
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from infinite_ae.data.interactions import Interactions, RawInteractions, factorize

PathLike = str | os.PathLike

# sha256 of the files shipped by noveens/infinite_ae_cf (identical in distill_cf).
INFINITE_AE_SHA256 = {
    ("ml-1m", "total_data.hdf5"): (
        "94aa04b955ff4d3a4bced04c245a1afdba56536b9ec3b7001cde3305134b34b3"
    ),
    ("ml-1m", "index.npz"): (
        "de473c335625a0bdb7d011e831426bd140dc205a078bb35cefc83e8ea29a5bd8"
    ),
    ("magazine", "total_data.hdf5"): (
        "c3f72d5667dd24a893d249f5e3e68b3e4a9c8bced5f29ab1a52e02c870d660e7"
    ),
    ("magazine", "index.npz"): (
        "4172fe7aaf280684963f2d39edd99ff85e48a44458f6478f1bd2a4addd5a4fc4"
    ),
}

# Normalised column names (lower case, no "_", no ":type") recognised automatically.
USER_COLUMNS = ("user", "userid", "uid", "reviewerid", "customerid", "visitorid")
ITEM_COLUMNS = (
    "item",
    "itemid",
    "iid",
    "movieid",
    "movie",
    "asin",
    "productid",
    "product",
    "trackid",
    "bookid",
    "isbn",
)
RATING_COLUMNS = ("rating", "ratings", "score", "overall", "stars", "rate")
TIME_COLUMNS = ("timestamp", "time", "ts", "unixreviewtime", "unixtime", "datetime")

_MOVIELENS_TAB_FILES = re.compile(r"^u(\d|a|b)?\.(data|base|test)$")


# ------------------------------------------------------------------------ file access
def _check_exists(path: pathlib.Path) -> None:
    if not path.exists():
        raise FileNotFoundError(f"no such file or directory: {path}")


def _gunzip(raw: bytes, source: str) -> bytes:
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as error:
        raise ValueError(
            f"{source}: corrupt or truncated gzip file ({error})"
        ) from None


def read_bytes(
    path: PathLike, *, member: str | Sequence[str] | None = None
) -> tuple[bytes, str]:
    """Reads a (possibly gzip- or zip-compressed) file into memory.

    Args:
        path: a plain file, a ``.gz`` file, or a ``.zip`` archive.
        member: for archives, the member to read, or several candidates tried in
            order; a bare file name matches a member in any sub-directory
            (``"ratings.dat"`` finds ``ml-1m/ratings.dat``). Ignored for plain files.

    Returns:
        (uncompressed bytes, source description used in messages).

    Raises:
        FileNotFoundError: if `path` (or the archive member) does not exist.
        ValueError: for a corrupt or truncated archive.
    """
    path = pathlib.Path(path)
    _check_exists(path)
    with open(path, "rb") as handle:
        raw = handle.read()
    source = str(path)
    if zipfile.is_zipfile(io.BytesIO(raw)) or path.suffix == ".zip":
        try:
            archive = zipfile.ZipFile(io.BytesIO(raw))
        except (zipfile.BadZipFile, OSError, EOFError) as error:
            raise ValueError(
                f"{source}: corrupt or truncated zip archive ({error})"
            ) from None
        with archive:
            names = [n for n in archive.namelist() if not n.endswith("/")]
            if member is None:
                if len(names) != 1:
                    raise ValueError(
                        f"{source}: archive has {len(names)} members; pass member= "
                        f"(one of {names[:10]})"
                    )
                chosen = names[0]
            else:
                candidates = [member] if isinstance(member, str) else list(member)
                matches = []
                for candidate in candidates:
                    matches = [
                        n
                        for n in names
                        if n == candidate or n.endswith("/" + candidate)
                    ]
                    if matches:
                        break
                if not matches:
                    raise FileNotFoundError(
                        f"{source}: archive has no member {member!r} "
                        f"(members: {names[:10]})"
                    )
                chosen = sorted(matches, key=len)[0]
            source = f"{source}:{chosen}"
            try:
                data = archive.read(chosen)
            except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as error:
                raise ValueError(
                    f"{source}: corrupt or truncated zip archive ({error})"
                ) from None
        if chosen.endswith(".gz"):
            data = _gunzip(data, source)
        return data, source
    if raw[:2] == b"\x1f\x8b" or path.suffix == ".gz":
        return _gunzip(raw, source), source
    return raw, source


# ------------------------------------------------------------------ table parsing
class _Table:
    """Columns of a delimited file, gathered lazily as byte-string arrays.

    Fields are located by offsets into one uint8 buffer, so only the columns a loader
    asks for are materialised, without creating a Python object per field.
    """

    def __init__(
        self,
        source: str,
        first_line: int,
        *,
        buffer: np.ndarray | None = None,
        starts: np.ndarray | None = None,
        ends: np.ndarray | None = None,
        columns: list[np.ndarray] | None = None,
    ):
        self.source = source
        self.first_line = first_line  # 1-based line number of data row 0
        self._buffer = buffer
        self._starts = starts  # [rows, columns] field start offsets
        self._ends = ends
        self._columns: dict[int, np.ndarray] = dict(enumerate(columns or []))

    def column(self, index: int) -> np.ndarray:
        """[rows] byte-string (``S``) array of column `index`."""
        if index not in self._columns:
            starts = self._starts[:, index]
            lengths = self._ends[:, index] - starts
            width = int(lengths.max()) if lengths.size else 0
            if width == 0:
                self._columns[index] = np.zeros(lengths.size, "S1")
            else:
                offsets = np.arange(width)
                gather = np.minimum(starts[:, None] + offsets, self._buffer.size - 1)
                matrix = np.where(
                    offsets < lengths[:, None], self._buffer[gather], np.uint8(0)
                ).astype(np.uint8)
                self._columns[index] = matrix.view(f"S{width}").reshape(-1)
        return self._columns[index]

    def digits(self, index: int) -> np.ndarray | None:
        """Column `index` as int64 if every field is 1-18 plain digits, else None."""
        if self._starts is None or index in self._columns:
            return None
        starts = self._starts[:, index]
        lengths = self._ends[:, index] - starts
        if lengths.size == 0 or lengths.min() < 1 or lengths.max() > 18:
            return None
        value = np.zeros(lengths.size, np.int64)
        last = self._buffer.size - 1
        for offset in range(int(lengths.max())):
            inside = offset < lengths
            byte = self._buffer[np.minimum(starts + offset, last)].astype(np.int64) - 48
            if np.any(inside & ((byte < 0) | (byte > 9))):
                return None
            value = np.where(inside, value * 10 + byte, value)
        return value

    def line(self, row: int) -> int:
        return self.first_line + int(row)


def _normalise_newlines(data: bytes) -> bytes:
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    return data


def _sep_repr(sep: bytes) -> str:
    return {b"\t": "tab", b",": "','", b"::": "'::'", b" ": "space"}.get(
        sep, repr(sep.decode("latin-1"))
    )


def _split_table(
    data: bytes,
    *,
    sep: bytes,
    num_columns: int,
    source: str,
    first_line: int = 1,
) -> _Table:
    """Splits `data` (no header) into `num_columns` byte-string columns."""
    data = _normalise_newlines(data).rstrip(b"\n")
    if not data.strip():
        raise ValueError(f"{source}: line {first_line}: empty file (no data rows)")
    if b"\x00" in data:
        line = first_line + data[: data.index(b"\x00")].count(b"\n")
        raise ValueError(f"{source}: line {line}: NUL byte; is this a binary file?")
    if sep != b"\x00":
        data = data.replace(sep, b"\x00")
    buffer = np.frombuffer(data, dtype=np.uint8)
    newlines = np.flatnonzero(buffer == 10)
    num_lines = newlines.size + 1
    separators = np.flatnonzero(buffer == 0)
    per_line = np.bincount(np.searchsorted(newlines, separators), minlength=num_lines)
    bad = np.flatnonzero(per_line != num_columns - 1)
    if bad.size:
        row = int(bad[0])
        start = 0 if row == 0 else int(newlines[row - 1]) + 1
        end = int(newlines[row]) if row < newlines.size else len(data)
        text = data[start:end]
        if not text.strip():
            raise ValueError(f"{source}: line {first_line + row}: empty line")
        found = int(per_line[row]) + 1
        shown = text.replace(b"\x00", sep)[:80].decode("latin-1")
        raise ValueError(
            f"{source}: line {first_line + row}: expected {num_columns} fields "
            f"separated by {_sep_repr(sep)}, found {found} ({shown!r}); "
            "wrong separator or format?"
        )
    delimiters = np.flatnonzero((buffer == 0) | (buffer == 10))
    starts = np.concatenate([[0], delimiters + 1]).reshape(num_lines, num_columns)
    ends = np.concatenate([delimiters, [buffer.size]]).reshape(num_lines, num_columns)
    return _Table(source, first_line, buffer=buffer, starts=starts, ends=ends)


def _split_quoted_csv(
    text: str, *, sep: str, num_columns: int, source: str, first_line: int
) -> _Table:
    """Slow path for CSV files with quoted fields (uses the csv module)."""
    rows: list[list[str]] = []
    reader = csv.reader(io.StringIO(text), delimiter=sep)
    for offset, row in enumerate(reader):
        if len(row) != num_columns:
            line = first_line + offset
            if not row:
                raise ValueError(f"{source}: line {line}: empty line")
            raise ValueError(
                f"{source}: line {line}: expected {num_columns} fields separated by "
                f"{sep!r}, found {len(row)}; wrong separator or format?"
            )
        rows.append(row)
    if not rows:
        raise ValueError(f"{source}: line {first_line}: empty file (no data rows)")
    columns = [
        np.array([row[c].encode("utf-8") for row in rows]) for c in range(num_columns)
    ]
    return _Table(source, first_line, columns=columns)


def _first_failure(column: np.ndarray, convert) -> int | None:
    for row, token in enumerate(column.tolist()):
        try:
            convert(token)
        except (ValueError, TypeError):
            return row
    return None


def _parse_int(table: _Table, index: int, *, name: str) -> np.ndarray:
    """Parses byte-string column `index` as int64 (vectorised for plain digits)."""
    value = table.digits(index)
    if value is not None:
        return value
    column = table.column(index)
    width = column.dtype.itemsize
    if column.size and 0 < width <= 18:
        digits = column.view(np.uint8).reshape(column.size, width)
        present = digits != 0
        is_digit = (digits >= 48) & (digits <= 57)
        if np.all(is_digit | ~present) and np.all(present[:, 0]):
            value = np.zeros(column.size, np.int64)
            for position in range(width):
                value = np.where(
                    present[:, position],
                    value * 10 + (digits[:, position].astype(np.int64) - 48),
                    value,
                )
            return value
    row = _first_failure(column, lambda token: int(token))
    if row is not None:
        token = column[row].decode("latin-1")
        raise ValueError(
            f"{table.source}: line {table.line(row)}: {name} must be an integer, "
            f"got {token!r}"
        )
    return np.array([int(token) for token in column.tolist()], dtype=np.int64)


def _parse_float(table: _Table, index: int, *, name: str) -> np.ndarray:
    value = table.digits(index)
    if value is not None:
        return value.astype(np.float64)
    column = table.column(index)
    try:
        value = column.astype(np.float64)
    except ValueError:
        row = _first_failure(column, lambda token: float(token))
        token = column[row].decode("latin-1") if row is not None else "?"
        raise ValueError(
            f"{table.source}: line {table.line(row or 0)}: {name} must be a number, "
            f"got {token!r}"
        ) from None
    finite = np.isfinite(value)
    if not np.all(finite):
        row = int(np.flatnonzero(~finite)[0])
        raise ValueError(
            f"{table.source}: line {table.line(row)}: {name} must be finite, "
            f"got {column[row].decode('latin-1')!r}"
        )
    return value


def _parse_timestamp(table: _Table, index: int, *, name: str) -> np.ndarray:
    column = table.column(index)
    try:
        return _parse_int(table, index, name=name)
    except ValueError:
        pass
    value = _parse_float(table, index, name=name)
    whole = value == np.floor(value)
    if not np.all(whole):
        row = int(np.flatnonzero(~whole)[0])
        raise ValueError(
            f"{table.source}: line {table.line(row)}: {name} must be an integer "
            f"number of seconds, got {column[row].decode('latin-1')!r}"
        )
    return value.astype(np.int64)


def _is_space(byte: np.ndarray) -> np.ndarray:
    return (byte == 32) | ((byte >= 9) & (byte <= 13))


def _parse_str(
    table: _Table, index: int, *, name: str, encoding: str = "utf-8"
) -> np.ndarray:
    column = table.column(index)
    matrix = column.view(np.uint8).reshape(column.size, column.dtype.itemsize)
    lengths = np.count_nonzero(matrix, axis=1)
    last = matrix[np.arange(column.size), np.maximum(lengths - 1, 0)]
    if np.any(_is_space(matrix[:, 0]) | _is_space(last)):
        column = np.char.strip(column)
        lengths = np.char.str_len(column)
    if np.any(lengths == 0):
        row = int(np.flatnonzero(lengths == 0)[0])
        raise ValueError(f"{table.source}: line {table.line(row)}: empty {name}")
    try:
        return column.astype(str)
    except UnicodeDecodeError:
        pass
    try:
        return np.char.decode(column, encoding)
    except UnicodeDecodeError:
        row = _first_failure(column, lambda token: token.decode(encoding))
        raise ValueError(
            f"{table.source}: line {table.line(row or 0)}: {name} is not valid "
            f"{encoding}"
        ) from None


def _parse_ids(
    table: _Table, index: int, *, name: str, id_type: str, encoding: str = "utf-8"
) -> np.ndarray:
    """Ids as int64 ("int"), unicode ("str") or int when every token is one ("auto")."""
    if id_type == "int":
        return _parse_int(table, index, name=name)
    if id_type == "auto":
        try:
            return _parse_int(table, index, name=name)
        except ValueError:
            pass
    elif id_type != "str":
        raise ValueError(f"id_type must be 'int', 'str' or 'auto', got {id_type!r}")
    return _parse_str(table, index, name=name, encoding=encoding)


# -------------------------------------------------------------------- MovieLens
def _movielens_separator(name: str) -> bytes:
    base = name.rsplit("/", 1)[-1]
    if base.endswith(".gz"):
        base = base[:-3]
    return b"\t" if _MOVIELENS_TAB_FILES.match(base) else b"::"


def load_movielens(
    path: PathLike, *, member: str | None = None, sep: str | None = None
) -> RawInteractions:
    """Loads GroupLens MovieLens ratings (ML-1M ``ratings.dat`` or ML-100K ``u.data``).

    Accepts ``ratings.dat`` (``::``-separated, ISO-8859-1), ``ratings.dat.gz``,
    ``ml-1m.zip``, ``u.data`` (tab-separated, also ``u1.base`` etc.), ``ml-100k.zip``,
    or a directory holding one of them.

    Args:
        path: file, archive or directory.
        member: archive member to read (default ``ratings.dat`` then ``u.data``).
        sep: field separator; default chosen from the file name (``u*.data|base|test``
            use tab, everything else ``::``).

    Returns:
        `RawInteractions` with int64 user and item ids, float32 ratings and int64
        timestamps, in file order.

    Raises:
        FileNotFoundError: missing file or archive member.
        ValueError: malformed content (message names file and line).
    """
    path = pathlib.Path(path)
    _check_exists(path)
    if path.is_dir():
        for candidate in ("ratings.dat", "ratings.dat.gz", "u.data"):
            if (path / candidate).exists():
                path = path / candidate
                break
        else:
            raise FileNotFoundError(
                f"{path}: no ratings.dat, ratings.dat.gz or u.data in this directory"
            )
    if member is None:
        member = ("ratings.dat", "u.data")
    data, source = read_bytes(path, member=member)
    separator = sep.encode() if sep is not None else _movielens_separator(source)
    table = _split_table(data, sep=separator, num_columns=4, source=source)
    return RawInteractions(
        users=_parse_int(table, 0, name="user id"),
        items=_parse_int(table, 1, name="item id"),
        ratings=_parse_float(table, 2, name="rating"),
        timestamps=_parse_timestamp(table, 3, name="timestamp"),
        source=source,
    )


# ------------------------------------------------------------------ ∞-AE hdf5 + npz
def _sha256_file(path: pathlib.Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _verify_known(directory: pathlib.Path, filename: str, verify: str) -> None:
    if verify == "off":
        return
    if verify not in ("warn", "error"):
        raise ValueError(f"verify must be 'off', 'warn' or 'error', got {verify!r}")
    expected = INFINITE_AE_SHA256.get((directory.name, filename))
    if expected is None:
        return
    path = directory / filename
    actual = _sha256_file(path)
    if actual != expected:
        message = (
            f"{path}: sha256 {actual} differs from the published {expected} for "
            f"∞-AE's {directory.name}/{filename}"
        )
        if verify == "error":
            raise ValueError(message)
        warnings.warn(message, stacklevel=3)


def load_infinite_ae_raw(
    directory: PathLike, *, verify: str = "warn"
) -> tuple[RawInteractions, np.ndarray]:
    """Reads the ∞-AE preprocessed rows and their split tags.

    Args:
        directory: holds ``total_data.hdf5`` (datasets user, item, rating, optional
            time) and ``index.npz`` (key ``data``).
        verify: "warn" / "error" when a known file's sha256 differs from the
            published one (ml-1m, magazine); "off" skips hashing.

    Returns:
        (`RawInteractions` in hdf5 row order, [N] int64 split tags: 0 train, 1 val,
        2 test, -1 dropped).
    """
    import h5py

    directory = pathlib.Path(directory)
    data_path = directory / "total_data.hdf5"
    index_path = directory / "index.npz"
    _check_exists(directory)
    _check_exists(data_path)
    _check_exists(index_path)
    _verify_known(directory, "total_data.hdf5", verify)
    _verify_known(directory, "index.npz", verify)
    try:
        with h5py.File(data_path, "r") as handle:
            missing = [key for key in ("user", "item") if key not in handle]
            if missing:
                raise ValueError(f"{data_path}: missing datasets {missing}")
            users = handle["user"][:]
            items = handle["item"][:]
            ratings = handle["rating"][:] if "rating" in handle else None
            times = handle["time"][:] if "time" in handle else None
    except OSError as error:
        raise ValueError(f"{data_path}: cannot read HDF5 file ({error})") from None
    try:
        with np.load(index_path, allow_pickle=False) as npz:
            split = np.asarray(npz["data"]).astype(np.int64)
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as error:
        raise ValueError(f"{index_path}: cannot read split index ({error})") from None
    if split.shape != users.shape:
        raise ValueError(
            f"{index_path}: {split.shape[0]} split tags for {users.shape[0]} rows in "
            f"{data_path}"
        )
    unknown = ~np.isin(split, (-1, 0, 1, 2))
    if np.any(unknown):
        row = int(np.flatnonzero(unknown)[0])
        raise ValueError(
            f"{index_path}: entry {row} has unknown split tag {split[row]}"
        )
    raw = RawInteractions(
        users=users.astype(np.int64),
        items=items.astype(np.int64),
        ratings=ratings,
        timestamps=None if times is None else times.astype(np.int64),
        source=str(data_path),
    )
    return raw, split


def load_infinite_ae(
    directory: PathLike,
    *,
    binarize: bool = True,
    verify: str = "warn",
    name: str | None = None,
) -> Interactions:
    """Loads an ∞-AE / Distill-CF preprocessed dataset with its shipped split.

    Reproduces the paper's data exactly: rows tagged -1 are dropped, users and items
    are remapped to contiguous indices in ascending raw-id order (ML-1M: 6,040 users,
    3,706 items, train / val / test 791,718 / 99,692 / 108,799).

    Args:
        directory: holds ``total_data.hdf5`` and ``index.npz``.
        binarize: True (default) collapses duplicate rows to 1; False keeps the
            original code's summed values (a pair in train twice becomes 2).
        verify: sha256 check of known files: "warn", "error" or "off".
        name: dataset name (default: the directory name).

    Returns:
        `Interactions`; raw user ids are the hdf5 ``user`` values, raw item ids the
        hdf5 ``item`` values (for ML-1M the original MovieIDs).
    """
    directory = pathlib.Path(directory)
    raw, split = load_infinite_ae_raw(directory, verify=verify)
    kept = split >= 0
    user_index, user_ids = factorize(raw.users[kept])
    item_index, item_ids = factorize(raw.items[kept])
    split_kept = split[kept]
    digest = hashlib.sha256(split.astype("<i1").tobytes()).hexdigest()
    info = {
        "source": str(directory),
        "format": "infinite_ae",
        "split": "infinite_ae_shipped",
        "seed": None,
        "split_hash": digest,
        "binarized": binarize,
        "num_raw_rows": len(raw),
        "num_dropped_rows": int(np.sum(~kept)),
        "split_rows": {
            name: int(np.sum(split == tag))
            for tag, name in enumerate(("train", "val", "test"))
        },
        "rating_threshold": None,
        "dedup": "none",
        "min_user_interactions": 3,
        "k_core": None,
    }
    return Interactions.from_split_index(
        user_index.reshape(-1),
        item_index.reshape(-1),
        split_kept,
        user_ids=user_ids,
        item_ids=item_ids,
        name=name or directory.name,
        info=info,
        binarize=binarize,
    )


# ------------------------------------------------------------------------ Amazon
def load_amazon_csv(path: PathLike) -> RawInteractions:
    """Loads an Amazon 2018 "ratings only" CSV: no header, ``item,user,rating,time``.

    Note the column order: the item (ASIN) comes first.

    Args:
        path: ``<Category>.csv`` or ``.csv.gz``.

    Returns:
        `RawInteractions` with unicode ids, float32 ratings, int64 timestamps.
    """
    data, source = read_bytes(path)
    if b'"' in data:
        table = _split_quoted_csv(
            data.decode("utf-8"), sep=",", num_columns=4, source=source, first_line=1
        )
    else:
        table = _split_table(data, sep=b",", num_columns=4, source=source)
    return RawInteractions(
        users=_parse_str(table, 1, name="user id"),
        items=_parse_str(table, 0, name="item id"),
        ratings=_parse_float(table, 2, name="rating"),
        timestamps=_parse_timestamp(table, 3, name="timestamp"),
        source=source,
    )


def load_amazon_json(
    path: PathLike,
    *,
    user_key: str = "reviewerID",
    item_key: str = "asin",
    rating_key: str | None = "overall",
    time_key: str | None = "unixReviewTime",
) -> RawInteractions:
    """Loads Amazon review JSON lines (e.g. the 2018 5-core ``<Category>_5.json.gz``).

    Args:
        path: ``.json`` or ``.json.gz``, one JSON object per line.
        user_key: key of the user id.
        item_key: key of the item id.
        rating_key: key of the rating, or None to skip ratings.
        time_key: key of the unix timestamp, or None to skip timestamps.

    Returns:
        `RawInteractions` with unicode ids.
    """
    data, source = read_bytes(path)
    lines = _normalise_newlines(data).rstrip(b"\n").split(b"\n")
    if not lines or not lines[0].strip():
        raise ValueError(f"{source}: line 1: empty file (no data rows)")
    users, items, ratings, times = [], [], [], []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            raise ValueError(f"{source}: line {number}: empty line")
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise ValueError(
                f"{source}: line {number}: invalid JSON ({error})"
            ) from None
        if not isinstance(record, dict):
            raise ValueError(f"{source}: line {number}: expected a JSON object")
        try:
            users.append(str(record[user_key]))
            items.append(str(record[item_key]))
            if rating_key is not None:
                ratings.append(float(record[rating_key]))
            if time_key is not None:
                times.append(int(record[time_key]))
        except KeyError as error:
            raise ValueError(f"{source}: line {number}: missing key {error}") from None
        except (TypeError, ValueError) as error:
            raise ValueError(f"{source}: line {number}: bad value ({error})") from None
    return RawInteractions(
        users=np.array(users, dtype=str),
        items=np.array(items, dtype=str),
        ratings=np.array(ratings, np.float32) if rating_key is not None else None,
        timestamps=np.array(times, np.int64) if time_key is not None else None,
        source=source,
    )


# ------------------------------------------------------------------------ RecBole
def _recbole_header(data: bytes, source: str) -> tuple[list[str], list[str], bytes]:
    data = _normalise_newlines(data)
    if not data.strip():
        raise ValueError(f"{source}: line 1: empty file (no header)")
    header, _, body = data.partition(b"\n")
    fields, types = [], []
    for token in header.decode("utf-8").split("\t"):
        name, colon, kind = token.strip().partition(":")
        if not colon or kind not in ("token", "token_seq", "float", "float_seq"):
            raise ValueError(
                f"{source}: line 1: header field {token!r} is not 'name:type' with "
                "type token, token_seq, float or float_seq (is this a tab-separated "
                "RecBole atomic file?)"
            )
        fields.append(name)
        types.append(kind)
    return fields, types, body


def load_recbole(
    path: PathLike,
    *,
    user_field: str = "user_id",
    item_field: str = "item_id",
    rating_field: str | None = "rating",
    time_field: str | None = "timestamp",
    history_field: str | None = None,
) -> RawInteractions:
    """Loads a RecBole atomic ``.inter`` file (tab-separated, ``name:type`` header).

    Args:
        path: ``.inter`` file (optionally gzip-compressed).
        user_field: header name of the user column.
        item_field: header name of the item column.
        rating_field: rating column; ignored when absent from the header.
        time_field: timestamp column; ignored when absent from the header.
        history_field: optional ``token_seq`` column (e.g. ``item_id_list`` in
            sequential benchmark files) whose items are emitted as extra rows for the
            same user, before the row's own item; each history item once per user
            and only if it is not already some row's own item (no ratings or
            timestamps then).

    Returns:
        `RawInteractions` with unicode ids (RecBole tokens are strings).
    """
    data, source = read_bytes(path)
    fields, types, body = _recbole_header(data, source)
    for required in (user_field, item_field):
        if required not in fields:
            raise ValueError(
                f"{source}: line 1: no field {required!r} in header {fields}"
            )
    if history_field is not None and history_field not in fields:
        raise ValueError(
            f"{source}: line 1: no field {history_field!r} in header {fields}"
        )
    table = _split_table(
        body, sep=b"\t", num_columns=len(fields), source=source, first_line=2
    )
    users = _parse_str(table, fields.index(user_field), name=user_field)
    items = _parse_str(table, fields.index(item_field), name=item_field)
    ratings = timestamps = None
    if rating_field in fields:
        ratings = _parse_float(table, fields.index(rating_field), name=rating_field)
    if time_field in fields:
        timestamps = _parse_timestamp(table, fields.index(time_field), name=time_field)
    if history_field is not None:
        users, items = _expand_histories(
            users, items, table.column(fields.index(history_field))
        )
        ratings = timestamps = None
    return RawInteractions(
        users=users, items=items, ratings=ratings, timestamps=timestamps, source=source
    )


def _expand_histories(
    users: np.ndarray, items: np.ndarray, histories: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Emits each row's history items, then its own item.

    Every row's own item is kept; a history item is kept once per user, and only when
    it is not also the own item of one of the user's rows.
    """
    vocabulary: dict[bytes, int] = {}
    own_codes = [
        vocabulary.setdefault(item.encode(), len(vocabulary)) for item in items
    ]
    emitted_rows: list[int] = []
    emitted_items: list[int] = []
    own_flags: list[bool] = []
    for row, history in enumerate(histories.tolist()):
        for token in history.split():
            emitted_rows.append(row)
            emitted_items.append(vocabulary.setdefault(token, len(vocabulary)))
            own_flags.append(False)
        emitted_rows.append(row)
        emitted_items.append(own_codes[row])
        own_flags.append(True)
    rows = np.asarray(emitted_rows, np.int64)
    item_codes = np.asarray(emitted_items, np.int64)
    is_own = np.asarray(own_flags, bool)
    user_codes, _ = factorize(users)
    pairs = user_codes[rows] * len(vocabulary) + item_codes
    history_positions = np.flatnonzero(~is_own)
    first_in_history = np.zeros(pairs.size, bool)
    first_in_history[
        history_positions[np.unique(pairs[history_positions], return_index=True)[1]]
    ] = True
    keep = is_own | (first_in_history & ~np.isin(pairs, pairs[is_own]))
    tokens = np.array([token.decode("utf-8") for token in vocabulary], dtype=str)
    return users[rows[keep]], tokens[item_codes[keep]]


def load_recbole_benchmark(
    prefix: PathLike,
    *,
    suffixes: Sequence[str] = ("train", "valid", "test"),
    user_field: str = "user_id",
    item_field: str = "item_id",
    history_field: str | None = "auto",
    binarize: bool = True,
    name: str | None = None,
) -> Interactions:
    """Loads RecBole ``benchmark_filename`` pre-split files into `Interactions`.

    Reads ``{prefix}.{suffix}.inter`` (or ``.inter.gz``) for the three suffixes. For
    sequential benchmark files (UniSRec style: ``user_id``, ``item_id_list``,
    ``item_id``), the train file's histories are added to train so each user's full
    train sequence is recovered; valid/test keep only their target items.

    Args:
        prefix: path prefix, e.g. ``data/Scientific/Scientific``.
        suffixes: names of the train, validation and test files.
        user_field: user column.
        item_field: item column.
        history_field: ``token_seq`` history column for train; "auto" uses
            ``item_id_list`` when present, None ignores histories.
        binarize: collapse duplicate pairs to 1.
        name: dataset name (default: the prefix's base name).

    Returns:
        `Interactions` over the union of users and items of the three files.
    """
    prefix = pathlib.Path(prefix)
    if len(suffixes) != 3:
        raise ValueError(f"suffixes must name train, valid and test, got {suffixes}")
    parts = []
    for tag, suffix in enumerate(suffixes):
        base = prefix.parent / f"{prefix.name}.{suffix}.inter"
        path = base if base.exists() else base.with_name(base.name + ".gz")
        if not path.exists():
            raise FileNotFoundError(f"no such file: {base} (or {base}.gz)")
        history = None
        if tag == 0 and history_field is not None:
            if history_field == "auto":
                data, source = read_bytes(path)
                fields = _recbole_header(data, source)[0]
                history = "item_id_list" if "item_id_list" in fields else None
            else:
                history = history_field
        raw = load_recbole(
            path, user_field=user_field, item_field=item_field, history_field=history
        )
        parts.append((raw, tag))
    users = np.concatenate([raw.users for raw, _ in parts])
    items = np.concatenate([raw.items for raw, _ in parts])
    split = np.concatenate([np.full(len(raw), tag, np.int8) for raw, tag in parts])
    user_index, user_ids = factorize(users)
    item_index, item_ids = factorize(items)
    info = {
        "source": str(prefix),
        "format": "recbole_benchmark",
        "split": "recbole_benchmark_files",
        "seed": None,
        "split_hash": _rows_hash(users, items, split),
        "binarized": binarize,
        "num_raw_rows": int(split.size),
    }
    return Interactions.from_split_index(
        user_index.reshape(-1),
        item_index.reshape(-1),
        split,
        user_ids=user_ids,
        item_ids=item_ids,
        name=name or prefix.name,
        info=info,
        binarize=binarize,
    )


def _rows_hash(users: np.ndarray, items: np.ndarray, split: np.ndarray) -> str:
    digest = hashlib.sha256()
    digest.update("\x00".join(users.tolist()).encode("utf-8"))
    digest.update(b"\x01")
    digest.update("\x00".join(items.tolist()).encode("utf-8"))
    digest.update(split.astype("<i1").tobytes())
    return digest.hexdigest()


# ----------------------------------------------------------------- CSV / DataFrame
def _normalise_column(name: str) -> str:
    return str(name).split(":")[0].strip().lower().replace("_", "").replace(" ", "")


def _detect_column(
    names: Sequence[str], candidates: Sequence[str], *, role: str, required: bool
) -> int | None:
    normalised = [_normalise_column(n) for n in names]
    for candidate in candidates:
        if candidate in normalised:
            return normalised.index(candidate)
    if required:
        raise ValueError(
            f"cannot find the {role} column among {list(names)}; pass {role}_col= "
            f"(recognised names: {', '.join(candidates)})"
        )
    return None


def _resolve_column(
    names: Sequence[str], given: str | int | None, candidates, *, role, required
) -> int | None:
    if given is None:
        return _detect_column(names, candidates, role=role, required=required)
    if isinstance(given, int):
        if not 0 <= given < len(names):
            raise ValueError(
                f"{role}_col={given} out of range for {len(names)} columns"
            )
        return given
    if given in names:
        return list(names).index(given)
    normalised = [_normalise_column(n) for n in names]
    if _normalise_column(given) in normalised:
        return normalised.index(_normalise_column(given))
    raise ValueError(f"{role}_col={given!r} is not one of the columns {list(names)}")


def load_csv(
    path: PathLike,
    *,
    sep: str = ",",
    header: bool | None = None,
    user_col: str | int | None = None,
    item_col: str | int | None = None,
    rating_col: str | int | None = None,
    time_col: str | int | None = None,
    id_type: str = "auto",
    encoding: str = "utf-8",
) -> RawInteractions:
    """Loads a generic delimited file of interactions.

    Columns are found by name in the header (``user``/``user_id``/``userId``/...,
    ``item``/``item_id``/``itemId``/``movieId``/``asin``/..., ``rating``, ``timestamp``)
    or given explicitly by name or position. Without a header the default order is
    user, item[, rating[, timestamp]].

    Args:
        path: the file (plain, ``.gz`` or a one-member ``.zip``).
        sep: field separator (one or more characters).
        header: True / False; None detects a header when the first line contains a
            recognised user column name.
        user_col: user column name or position.
        item_col: item column name or position.
        rating_col: rating column; None auto-detects (absent -> no ratings).
        time_col: timestamp column; None auto-detects (absent -> no timestamps).
        id_type: "auto" (int64 when every id is an integer), "int" or "str".
        encoding: text encoding of string ids.

    Returns:
        `RawInteractions` in file order.
    """
    data, source = read_bytes(path)
    data = _normalise_newlines(data)
    if not data.strip():
        raise ValueError(f"{source}: line 1: empty file (no data rows)")
    first, _, rest = data.partition(b"\n")
    first_fields = [f.strip().strip('"') for f in first.decode(encoding).split(sep)]
    if header is None:
        normalised = {_normalise_column(f) for f in first_fields}
        header = bool(normalised & set(USER_COLUMNS + ITEM_COLUMNS))
    if header:
        names = first_fields
        body, first_line = rest, 2
    else:
        names = [str(i) for i in range(len(first_fields))]
        body, first_line = data, 1
    num_columns = len(names)
    if header:
        user_index = _resolve_column(
            names, user_col, USER_COLUMNS, role="user", required=True
        )
        item_index = _resolve_column(
            names, item_col, ITEM_COLUMNS, role="item", required=True
        )
        rating_index = _resolve_column(
            names, rating_col, RATING_COLUMNS, role="rating", required=False
        )
        time_index = _resolve_column(
            names, time_col, TIME_COLUMNS, role="time", required=False
        )
    else:
        defaults = [
            0,
            1,
            2 if num_columns > 2 else None,
            3 if num_columns > 3 else None,
        ]
        given = [user_col, item_col, rating_col, time_col]
        user_index, item_index, rating_index, time_index = [
            g if g is not None else d for g, d in zip(given, defaults, strict=True)
        ]
        for role, index in zip(("user", "item", "rating", "time"), given, strict=True):
            if index is not None and not isinstance(index, int):
                raise ValueError(f"{role}_col must be a position when header=False")
    if not body.strip():
        raise ValueError(f"{source}: line {first_line}: no data rows")
    if b'"' in body and len(sep) == 1:
        table = _split_quoted_csv(
            body.decode(encoding),
            sep=sep,
            num_columns=num_columns,
            source=source,
            first_line=first_line,
        )
    else:
        table = _split_table(
            body,
            sep=sep.encode(encoding),
            num_columns=num_columns,
            source=source,
            first_line=first_line,
        )
    return RawInteractions(
        users=_parse_ids(
            table, user_index, name="user id", id_type=id_type, encoding=encoding
        ),
        items=_parse_ids(
            table, item_index, name="item id", id_type=id_type, encoding=encoding
        ),
        ratings=(
            None
            if rating_index is None
            else _parse_float(table, rating_index, name="rating")
        ),
        timestamps=(
            None
            if time_index is None
            else _parse_timestamp(table, time_index, name="timestamp")
        ),
        source=source,
    )


def load_dataframe(
    frame: Any,
    *,
    user_col: str | None = None,
    item_col: str | None = None,
    rating_col: str | None = None,
    time_col: str | None = None,
    source: str = "<DataFrame>",
) -> RawInteractions:
    """Builds `RawInteractions` from a pandas DataFrame (or any mapping of columns).

    Column names are auto-detected as in `load_csv` unless given. pandas is not
    imported here; datetime columns are converted to unix seconds.

    Args:
        frame: DataFrame-like with ``columns`` and ``frame[name]``.
        user_col: user column name.
        item_col: item column name.
        rating_col: rating column name (None: auto-detect, absent -> no ratings).
        time_col: timestamp column name (None: auto-detect, absent -> none).
        source: description stored in the result.

    Returns:
        `RawInteractions` in row order.

    >>> raw = load_dataframe({"userId": [1, 2], "movieId": [10, 20]})
    >>> raw.items.tolist(), raw.ratings
    ([10, 20], None)
    """
    names = [str(c) for c in (frame.columns if hasattr(frame, "columns") else frame)]
    keys = list(frame.columns if hasattr(frame, "columns") else frame)

    def column(index: int | None) -> np.ndarray | None:
        if index is None:
            return None
        values = frame[keys[index]]
        return np.asarray(values.to_numpy() if hasattr(values, "to_numpy") else values)

    user_index = _resolve_column(
        names, user_col, USER_COLUMNS, role="user", required=True
    )
    item_index = _resolve_column(
        names, item_col, ITEM_COLUMNS, role="item", required=True
    )
    rating_index = _resolve_column(
        names, rating_col, RATING_COLUMNS, role="rating", required=False
    )
    time_index = _resolve_column(
        names, time_col, TIME_COLUMNS, role="time", required=False
    )
    timestamps = column(time_index)
    if timestamps is not None and timestamps.dtype.kind == "M":
        timestamps = timestamps.astype("datetime64[s]").astype(np.int64)
    ratings = column(rating_index)
    if ratings is not None and ratings.dtype.kind not in "iufb":
        raise ValueError(
            f"{source}: rating column {names[rating_index]!r} is not numeric "
            f"(dtype {ratings.dtype})"
        )
    if ratings is not None and not np.all(np.isfinite(ratings)):
        row = int(np.flatnonzero(~np.isfinite(ratings))[0])
        raise ValueError(f"{source}: row {row}: rating must be finite")
    return RawInteractions(
        users=column(user_index),
        items=column(item_index),
        ratings=ratings,
        timestamps=timestamps,
        source=source,
    )
