"""Loaders for the common recommender data formats.

Formats:
  * GroupLens MovieLens: ML-1M ``ratings.dat`` (``::``, ISO-8859-1, plain / .gz / inside
    ``ml-1m.zip``) and ML-100K ``u.data`` (tab, plain / inside ``ml-100k.zip``).
  * The ∞-AE / Distill-CF preprocessed directory (``total_data.hdf5`` + ``index.npz``).
  * Amazon 2018 ratings-only CSV (item, user, rating, timestamp) and 5-core JSON lines.
  * RecBole atomic ``.inter`` files, including pre-split ``benchmark_filename`` sets.
  * Generic delimited text and pandas DataFrames (pandas is optional).

Parsing. Delimited text (MovieLens, Amazon CSV, RecBole, `load_csv`) is parsed by
``pyarrow.csv`` with an explicit type per column (int64, float64 or string), no
type guessing and no null markers. pyarrow takes a one-character ASCII delimiter: a
separator that repeats one character (ML-1M's ``::``) is split on that character with
the empty fields in between checked, which is exact for numeric columns; any other
multi-character separator is first replaced by a control byte absent from the file.
Quoted fields (``"a,b"``, doubled quotes) are read in the Amazon CSV and in `load_csv`
with a one-character separator; a quoted field may not span lines. JSON lines are read
with the standard `json` module, one line at a time.

Text. A UTF-8 byte-order mark at the start of a file is dropped, and LF, CRLF and CR
line endings are all accepted; blank lines at the very end are ignored, a blank line
anywhere else is an error. String ids in delimited files are UTF-8 (`load_csv` takes
``encoding=``) with surrounding ASCII whitespace removed; numbers may have surrounding
spaces or tabs. JSON ids are kept as written.

Validation. Every problem raises `ValueError` whose message starts with
``<file>: line <n>:`` (the 1-based line number in the file, header included), or
``<file>:`` where no line applies, then names the field and says what to fix. Nothing
is skipped or repaired silently. Where several lines are bad, the first line the
parser rejects is reported (value checks such as rating ranges run after parsing).
Checks:
  * the file is not empty and has data rows;
  * no binary data: no control byte other than tab (no NUL in numeric-only files,
    where other control bytes fail as numbers), valid UTF-8 in string fields, only
    ASCII in numeric-only formats (MovieLens);
  * every line has the format's number of fields (wrong separator, missing column,
    truncated last line); no field that is read may be empty;
  * integers are plain decimal (no ``0x``, ``+`` or fraction); MovieLens user and item
    ids and ∞-AE ids must be >= 0;
  * ratings are finite numbers, and within ``rating_range`` where the format defines
    one: MovieLens and Amazon (CSV and JSON) 1-5 by default; RecBole and `load_csv`
    take any finite rating unless given a range; ``rating_range=None`` turns the range
    check off;
  * timestamps are whole numbers of seconds (``100`` or ``100.0``);
  * headers: the headerless formats (MovieLens, Amazon CSV) refuse a header line with
    a hint; RecBole requires its ``name:type`` header; `load_csv` takes a header when
    its first line names a known user or item column, or when columns are selected by
    name, and refuses a first line that looks like an unknown header (text above
    numbers) instead of reading it as an interaction;
  * Amazon JSON lines: each line one JSON object; ids non-empty strings (integers
    are turned into strings), ratings finite numbers, timestamps whole numbers;
    null, NaN and booleans are refused.
A last line without a line break is read (hand-made files often lack one), and a
warning naming the file and line is logged, since a file cut short in the middle of
its last number cannot be told from a complete one. Missing files raise
`FileNotFoundError` naming the path.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import gzip
import hashlib
import io
import json
import math
import os
import pathlib
import re
import warnings
import zipfile
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
from absl import logging

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

# Valid ratings of the formats that define them (inclusive).
MOVIELENS_RATING_RANGE = (1.0, 5.0)
AMAZON_RATING_RANGE = (1.0, 5.0)

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


# ------------------------------------------------------------------- text input
_BOM = codecs.BOM_UTF8
# Whitespace removed around string ids (what `bytes.strip` removes).
_WHITESPACE = " \t\n\r\x0b\x0c"
# What pyarrow's int64 / float64 conversion accepts, minus its hexadecimal integers.
_INT_PATTERN = r"^[ \t]*-?[0-9]+[ \t]*$"
_FLOAT_PATTERN = (
    r"(?i)^[ \t]*[+-]?([0-9]+\.?[0-9]*(e[+-]?[0-9]+)?|\.[0-9]+(e[+-]?[0-9]+)?"
    r"|inf|infinity|nan)[ \t]*$"
)
_INT_RE = re.compile(_INT_PATTERN)
_FLOAT_RE = re.compile(_FLOAT_PATTERN)
# A number as a person writes one (no nan / inf), to tell data from a header line.
_NUMBER_RE = re.compile(r"[+-]?([0-9]+\.?[0-9]*(e[+-]?[0-9]+)?|\.[0-9]+)", re.I)
# Control bytes: binary data in a text file (tab, LF and CR are text).
_CONTROL_BYTES = bytes([*range(0, 9), 11, 12, *range(14, 32), 127])
_CONTROL_RE = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_HIGH_BYTE_RE = re.compile(rb"[\x80-\xff]")
_LINE_BREAK_RE = re.compile(rb"\r\n|\r|\n")
# Characters that can occur inside a number pyarrow parses: a separator made of one
# of them repeated cannot be split on that single character.
_NUMBER_CHARACTERS = frozenset("0123456789+-.eEiInNfFaAtTyYxX \t")
_NUMERIC_KINDS = ("int", "float", "timestamp")
# Separators suggested when a line does not split into the expected fields.
_COMMON_SEPARATORS = (",", "\t", ";", "|", "::", " ")


def _trim_text(data: bytes) -> bytes:
    """Drops a leading UTF-8 byte-order mark and blank lines at the end."""
    if data.startswith(_BOM):
        data = data[len(_BOM) :]
    end = len(data)
    while end and data[end - 1] in b"\r\n":
        end -= 1
    if data[end:] not in (b"", b"\n", b"\r\n", b"\r"):
        data = data[:end]
    return data


def _is_blank(data: bytes) -> bool:
    return not data or data.isspace()


def _normalise_newlines(data: bytes) -> bytes:
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    return data


def _count_lines(data: bytes) -> int:
    """Number of lines; LF, CRLF and CR each end one, a final break ends the last."""
    breaks = data.count(b"\n")
    if b"\r" in data:
        breaks += data.count(b"\r") - data.count(b"\r\n")
    return breaks + (0 if data.endswith((b"\n", b"\r")) else 1)


def _split_first_line(data: bytes) -> tuple[bytes, bytes]:
    """(first line without its line break, the rest of `data`)."""
    match = _LINE_BREAK_RE.search(data)
    if match is None:
        return data, b""
    return data[: match.start()], data[match.end() :]


def _sep_repr(sep: str) -> str:
    return {"\t": "tab", " ": "space"}.get(sep, repr(sep))


def _split_fields(text: str, sep: str, *, quoted: bool) -> list[str]:
    """Splits one line the way the parser does (csv quoting only when `quoted`)."""
    if quoted:
        return next(csv.reader([text], delimiter=sep), [""])
    return text.split(sep)


def _transcode(data: bytes, encoding: str, source: str) -> bytes:
    """Re-encodes `data` from `encoding` to UTF-8 (a no-op for UTF-8)."""
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        raise ValueError(f"unknown encoding {encoding!r}") from None
    if name == "utf-8":
        return data
    try:
        return data.decode(encoding).encode("utf-8")
    except UnicodeDecodeError as error:
        line = _count_lines(data[: error.start] + b"x")
        raise ValueError(
            f"{source}: line {line}: byte 0x{data[error.start]:02x} is not valid "
            f"{encoding}; pass the file's encoding="
        ) from None


@dataclasses.dataclass(frozen=True)
class _Field:
    """One column of a delimited file.

    Attributes:
        name: how messages name the field ("user id", "rating (column 'score')").
        kind: "int" (int64), "float" (float64), "timestamp" (int64; whole floats
            accepted), "str" (unicode, surrounding whitespace removed), "auto" (int64
            when every value is an integer, else as "str"), "text" (unicode as is) or
            "skip" (not converted).
    """

    name: str
    kind: str


class _Delimited:
    """The body of a delimited text file, parsed by pyarrow.csv into NumPy columns.

    Row r of the body is line ``first_line + r`` of the file: pyarrow keeps empty
    lines as rows and the row count is checked against the line count, so every error
    points at a real line. When pyarrow rejects the body, a bisection over line ranges
    finds the first line it rejects, and that line is explained field by field.
    """

    def __init__(
        self,
        data: bytes,
        *,
        source: str,
        sep: str,
        fields: Sequence[_Field],
        first_line: int = 1,
        quoted: bool = False,
        encoding: str = "utf-8",
        separator_advice: str = "",
        header_advice: str = "",
    ):
        """Parses `data`.

        Args:
            data: the body (no header), BOM and trailing blank lines removed.
            source: the file, for messages.
            sep: field separator (one or more characters).
            fields: one `_Field` per column, in file order.
            first_line: line number of the body's first line in the file.
            quoted: honour csv quoting (only with a one-character separator).
            encoding: encoding used to show a line in messages (numbers only).
            separator_advice: appended when a line splits into one field; "{sep}"
                stands for the separator found in the line.
            header_advice: appended when line 1 fails on a word (a header?).
        """
        if not sep or "\n" in sep or "\r" in sep or '"' in sep:
            raise ValueError(
                f"sep must be a non-empty string without line breaks or quotes, "
                f"got {sep!r}"
            )
        self.source = source
        self.sep = sep
        self.fields = list(fields)
        self.first_line = first_line
        self.quoted = quoted and len(sep) == 1 and sep.isascii()
        self._encoding = encoding
        self._separator_advice = separator_advice
        self._header_advice = header_advice
        self._data = data
        self._lines: list[bytes] | None = None
        self._arrow_error = ""
        if _is_blank(data):
            raise ValueError(f"{source}: line {first_line}: empty file (no data rows)")
        self._num_lines = _count_lines(data)
        # pyarrow's int64 conversion also reads hexadecimal ("0x1f"); where an x can
        # occur, integers are read as strings and checked before conversion.
        self._strict_ints = b"x" in data or b"X" in data
        self._arrow_data, self._delimiter, self._kinds, positions = self._layout()
        self._names = [f"f{position}" for position in range(len(self._kinds))]
        # pyarrow would keep control bytes inside string fields; in numbers it
        # rejects them, so there only NUL (which it may read as a space) is sought.
        if any(kind in ("str", "auto", "text") for kind in self._kinds):
            binary = len(data.translate(None, _CONTROL_BYTES)) != len(data)
        else:
            binary = b"\x00" in data
        if binary:
            offset = _CONTROL_RE.search(data).start()
            binary_line = _count_lines(data[:offset] + b"x") - 1
            raise self._explain(self._first_rejected_line(limit=binary_line))
        table = self._read(self._arrow_data, lenient=False)
        if table is None and "timestamp" in self._kinds:
            table = self._read(self._arrow_data, lenient=True)
        if table is None or table.num_rows != self._num_lines:
            raise self._explain(self._first_rejected_line())
        self.columns: list[np.ndarray | None] = [
            None
            if self.fields[index].kind == "skip"
            else self._convert(table.column(self._names[position]), index)
            for index, position in enumerate(positions)
        ]
        if not data.endswith((b"\n", b"\r")):
            logging.warning(
                "%s: line %d: no line break at the end of the file; if the file was "
                "cut short, this last row may be incomplete",
                source,
                first_line + self._num_lines - 1,
            )

    # ----------------------------------------------------------------- parsing
    def _layout(self) -> tuple[bytes, str, list[str], list[int]]:
        """(bytes for pyarrow, its one-character delimiter, column kinds, positions).

        A separator of one repeated character is split on that character, with
        "sep" columns (which must stay empty) between the real ones; this is exact
        when every column is numeric, since no number contains the character. Any
        other multi-character separator is replaced by a control byte the data lacks.
        """
        kinds = [field.kind for field in self.fields]
        if len(self.sep) == 1 and self.sep.isascii():
            return self._data, self.sep, kinds, list(range(len(kinds)))
        character = self.sep[0]
        if (
            self.sep == character * len(self.sep)
            and character.isascii()
            and character not in _NUMBER_CHARACTERS
            and all(kind in _NUMERIC_KINDS for kind in kinds)
        ):
            expanded: list[str] = []
            positions = []
            for index, kind in enumerate(kinds):
                if index:
                    expanded += ["sep"] * (len(self.sep) - 1)
                positions.append(len(expanded))
                expanded.append(kind)
            return self._data, character, expanded, positions
        for byte in (b"\x1f", b"\x1e", b"\x1d", b"\x1c"):
            if byte not in self._data:
                data = self._data.replace(self.sep.encode("utf-8"), byte)
                return data, byte.decode(), kinds, list(range(len(kinds)))
        raise ValueError(
            f"{self.source}: the file holds every control byte 0x1c-0x1f; is it a "
            "binary file?"
        )

    def _arrow_type(self, kind: str, *, lenient: bool) -> pa.DataType:
        if kind == "sep":
            return pa.null()
        if kind == "float":
            return pa.float64()
        if kind in ("int", "timestamp") and self._strict_ints:
            return pa.string()
        if kind == "int":
            return pa.int64()
        if kind == "timestamp":
            return pa.float64() if lenient else pa.int64()
        return pa.string()

    def _read(self, data: bytes, *, lenient: bool) -> pa.Table | None:
        """Parses `data` with pyarrow; None (and the reason kept) if it refuses."""
        types = {
            name: self._arrow_type(kind, lenient=lenient)
            for name, kind in zip(self._names, self._kinds, strict=True)
            if kind != "skip"
        }
        try:
            return pa_csv.read_csv(
                pa.py_buffer(data),
                read_options=pa_csv.ReadOptions(column_names=self._names),
                parse_options=pa_csv.ParseOptions(
                    delimiter=self._delimiter,
                    quote_char='"' if self.quoted else False,
                    ignore_empty_lines=False,
                    newlines_in_values=False,
                ),
                convert_options=pa_csv.ConvertOptions(
                    column_types=types,
                    include_columns=list(types),
                    null_values=[""],
                    strings_can_be_null=False,
                    quoted_strings_can_be_null=False,
                ),
            )
        except pa.ArrowException as error:
            self._arrow_error = str(error)
            return None

    def _rejects(self, data: bytes, num_lines: int) -> bool:
        table = self._read(data, lenient=True)
        if table is None or table.num_rows != num_lines:
            return True
        return any(
            table.column(name).null_count
            for name, kind in zip(self._names, self._kinds, strict=True)
            if kind in _NUMERIC_KINDS
        )

    def _first_rejected_line(self, limit: int | None = None) -> int:
        """Bisects line ranges for the first line pyarrow rejects (error path only).

        With `limit`, returns the first rejected line before line `limit`, or
        `limit` itself when pyarrow accepts all lines before it.
        """
        data = _normalise_newlines(self._arrow_data)
        breaks = np.flatnonzero(np.frombuffer(data, np.uint8) == 10) + 1
        starts = np.concatenate([[0], breaks])
        if starts[-1] != len(data):
            starts = np.append(starts, len(data))
        low, high = 0, self._num_lines
        if limit is not None:
            if limit == 0 or not self._rejects(data[: starts[limit]], limit):
                return limit
            high = limit
        while high - low > 1:
            middle = (low + high) // 2
            if self._rejects(data[starts[low] : starts[middle]], middle - low):
                high = middle
            else:
                low = middle
        return low

    def _convert(self, column: pa.ChunkedArray, index: int) -> np.ndarray:
        kind = self.fields[index].kind
        if column.null_count:  # an empty numeric field, or an empty line
            raise self._explain(_first(column.is_null()))
        if kind == "text":
            return column.to_numpy()
        if kind == "float":
            values = column.to_numpy()
            self.require(
                index, np.isfinite(values), "must be finite", "fix or delete the row"
            )
            return values
        if kind in ("str", "auto"):
            column = pc.utf8_trim(column, _WHITESPACE)
            empty = pc.equal(pc.binary_length(column), 0)
            if pc.any(empty).as_py():  # an empty id, or an empty line
                raise self._explain(_first(empty))
            if (
                kind == "auto"
                and pc.all(pc.match_substring_regex(column, _INT_PATTERN)).as_py()
            ):
                try:
                    return pc.cast(pc.utf8_trim(column, " \t"), pa.int64()).to_numpy()
                except pa.ArrowInvalid:  # beyond int64: keep the ids as strings
                    pass
            return column.to_numpy().astype(str)
        # "int" or "timestamp"
        if pa.types.is_string(column.type):
            return self._strings_to_int(column, index)
        values = column.to_numpy()
        if kind == "timestamp" and values.dtype.kind == "f":
            self._require_whole(index, values)
            values = values.astype(np.int64)
        return values

    def _strings_to_int(self, column: pa.ChunkedArray, index: int) -> np.ndarray:
        """Integers (or whole-number timestamps) from a column read as strings."""
        timestamp = self.fields[index].kind == "timestamp"
        problem = (
            "must be an integer number of seconds"
            if timestamp
            else "must be an integer"
        )
        is_int = pc.match_substring_regex(column, _INT_PATTERN)
        if pc.all(is_int).as_py():
            try:
                return pc.cast(pc.utf8_trim(column, " \t"), pa.int64()).to_numpy()
            except pa.ArrowInvalid:
                values = [int(token) for token in column.to_pylist()]
                self.require(index, np.abs(values) < 2**63, problem)
        if not timestamp:
            self.require(index, _to_bool(is_int), problem)
        is_number = pc.match_substring_regex(column, _FLOAT_PATTERN)
        self.require(index, _to_bool(is_number), problem)
        values = pc.cast(pc.utf8_trim(column, " \t"), pa.float64()).to_numpy()
        self._require_whole(index, values)
        return values.astype(np.int64)

    def _require_whole(self, index: int, values: np.ndarray) -> None:
        ok = (
            np.isfinite(values)
            & (values == np.floor(values))
            & (np.abs(values) < 2**63)
        )
        self.require(index, ok, "must be an integer number of seconds")

    # ------------------------------------------------------------------ errors
    def require(
        self, index: int, ok: np.ndarray, problem: str, advice: str = ""
    ) -> None:
        """Raises at the first row where `ok` ([rows] bool) is False.

        The message is "<file>: line <n>: <field> <problem>, got <token>", then
        "; <advice>" (what to do) when given.
        """
        if not np.all(ok):
            row = int(np.flatnonzero(~np.asarray(ok, bool))[0])
            message = f"{problem}, got {self.token(row, index)!r}"
            raise self.error(row, index, message + (f"; {advice}" if advice else ""))

    def error(self, row: int, index: int, problem: str) -> ValueError:
        """A `ValueError` "<file>: line <n>: <field name> <problem>"."""
        return ValueError(
            f"{self.source}: line {self.first_line + row}: "
            f"{self.fields[index].name} {problem}"
        )

    def _line(self, row: int) -> bytes:
        if self._lines is None:
            self._lines = _normalise_newlines(self._data).split(b"\n")
        return self._lines[row] if row < len(self._lines) else b""

    def token(self, row: int, index: int) -> str:
        """The text of field `index` on data row `row`, as written in the file."""
        text = self._line(row).decode(self._encoding, errors="backslashreplace")
        parts = _split_fields(text, self.sep, quoted=self.quoted)
        return parts[index].strip() if index < len(parts) else ""

    def _field_at(self, line: bytes, offset: int) -> str:
        index = line[:offset].count(self.sep.encode("utf-8"))
        if index < len(self.fields):
            return self.fields[index].name
        return f"field {index + 1}"

    def _explain(self, row: int) -> ValueError:
        """The error for data row `row`, found by checking its fields in Python."""
        line = self._line(row)
        prefix = f"{self.source}: line {self.first_line + row}: "
        truncated = row == self._num_lines - 1 and not self._data.endswith(
            (b"\n", b"\r")
        )
        cut_short = (
            "; the file ends inside this line: is it truncated?" if truncated else ""
        )
        if not line.strip():
            return ValueError(
                prefix + "empty line; delete it (only the end of a file may be blank)"
            )
        control = _CONTROL_RE.search(line)
        if control is not None:
            return ValueError(
                prefix + f"{self._field_at(line, control.start())} holds binary data "
                f"(byte 0x{line[control.start()]:02x}), not text; is this a binary "
                "file or the wrong path?"
            )
        high = _HIGH_BYTE_RE.search(line)
        if high is not None and all(f.kind in _NUMERIC_KINDS for f in self.fields):
            return ValueError(
                prefix + f"{self._field_at(line, high.start())} holds the non-ASCII "
                f"byte 0x{line[high.start()]:02x} where a number belongs; is this a "
                "binary file or the wrong path?"
            )
        try:
            text = line.decode(self._encoding)
        except UnicodeDecodeError as error:
            return ValueError(
                prefix + f"{self._field_at(line, error.start)} is not valid UTF-8 "
                f"text (byte 0x{line[error.start]:02x}); is this a binary file, or "
                "in another encoding?"
            )
        parts = _split_fields(text, self.sep, quoted=self.quoted)
        if self.quoted and text.count('"') % 2:
            return ValueError(
                prefix + f"unbalanced quote in {text[:80]!r}; a quoted field must "
                'close on the same line (write a quote inside one as "")'
            )
        if len(parts) != len(self.fields):
            return ValueError(prefix + self._count_problem(text, parts) + cut_short)
        for field, token in zip(self.fields, parts, strict=True):
            problem = _token_problem(field.kind, token)
            if problem is None:
                continue
            advice = cut_short
            if row == 0 and self._header_advice and re.search("[A-Za-z]", token):
                advice = f"; line 1 looks like a header: {self._header_advice}"
            return ValueError(prefix + f"{field.name} {problem}" + advice)
        return ValueError(
            prefix + f"cannot parse {text[:80]!r} ({self._arrow_error}); check the "
            "separator and the quoting"
        )

    def _count_problem(self, text: str, parts: list[str]) -> str:
        names = [field.name for field in self.fields]
        message = (
            f"expected {len(names)} fields separated by {_sep_repr(self.sep)} "
            f"({', '.join(names)}), found {len(parts)} ({text[:80]!r})"
        )
        others = [
            sep
            for sep in _COMMON_SEPARATORS
            if sep not in self.sep and self.sep not in sep and sep in text
        ]
        if len(parts) == 1 and others:
            advice = self._separator_advice.format(sep=repr(others[0]))
            return (
                message + f"; the line contains {_sep_repr(others[0])}: wrong "
                f"separator?{advice}"
            )
        if len(parts) < len(names):
            return message + f"; missing: {', '.join(names[len(parts) :])}"
        return message + "; wrong separator, or an unquoted separator inside a field?"


def _first(mask: pa.ChunkedArray | pa.Array) -> int:
    return int(np.flatnonzero(_to_bool(mask))[0])


def _to_bool(mask: pa.ChunkedArray | pa.Array) -> np.ndarray:
    return np.asarray(mask.to_numpy(zero_copy_only=False), bool)


def _token_problem(kind: str, token: str) -> str | None:
    """What is wrong with one field's text, or None (mirrors the pyarrow types)."""
    stripped = token.strip(" \t")
    if kind in ("str", "auto") and not token.strip(_WHITESPACE):
        return "is empty; every row needs one"
    if kind not in _NUMERIC_KINDS:
        return None
    if not stripped:
        return "is empty; every row needs one"
    if kind == "int":
        if _INT_RE.match(stripped) and abs(int(stripped)) < 2**63:
            return None
        return f"must be an integer, got {token!r}"
    if kind == "float":
        return None if _FLOAT_RE.match(stripped) else f"must be a number, got {token!r}"
    if _INT_RE.match(stripped) or _FLOAT_RE.match(stripped):
        return None
    return f"must be an integer number of seconds, got {token!r}"


def _check_rating_range(
    text: _Delimited,
    index: int,
    rating_range: tuple[float, float] | None,
    *,
    reason: str,
) -> np.ndarray:
    ratings = text.columns[index]
    if rating_range is not None:
        low, high = rating_range
        text.require(
            index,
            (ratings >= low) & (ratings <= high),
            f"must be between {low:g} and {high:g} ({reason})",
            "fix the row, or pass rating_range=(low, high) or None",
        )
    return ratings


# -------------------------------------------------------------------- MovieLens
_RATING_FIELDS = (
    _Field("user id", "int"),
    _Field("item id", "int"),
    _Field("rating", "float"),
    _Field("timestamp", "timestamp"),
)


def _movielens_separator(name: str) -> str:
    base = name.rsplit("/", 1)[-1]
    if base.endswith(".gz"):
        base = base[:-3]
    return "\t" if _MOVIELENS_TAB_FILES.match(base) else "::"


def load_movielens(
    path: PathLike,
    *,
    member: str | None = None,
    sep: str | None = None,
    rating_range: tuple[float, float] | None = MOVIELENS_RATING_RANGE,
) -> RawInteractions:
    """Loads GroupLens MovieLens ratings (ML-1M ``ratings.dat`` or ML-100K ``u.data``).

    Accepts ``ratings.dat`` (``::``-separated, ISO-8859-1), ``ratings.dat.gz``,
    ``ml-1m.zip``, ``u.data`` (tab-separated, also ``u1.base`` etc.), ``ml-100k.zip``,
    or a directory holding one of them. The files have no header line; user and item
    ids must be integers >= 0.

    Args:
        path: file, archive or directory.
        member: archive member to read (default ``ratings.dat`` then ``u.data``).
        sep: field separator; default chosen from the file name (``u*.data|base|test``
            use tab, everything else ``::``).
        rating_range: inclusive bounds every rating must lie in (ML-100K / ML-1M
            use whole stars 1-5); (0.5, 5) for the half-star ML-10M / ML-20M files;
            None accepts any finite rating.

    Returns:
        `RawInteractions` with [N] int64 user and item ids, [N] float32 ratings and
        [N] int64 timestamps, in file order.

    Raises:
        FileNotFoundError: missing file or archive member.
        ValueError: malformed content; the message starts with ``<file>: line <n>:``
            and names the field.
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
    text = _Delimited(
        _trim_text(data),
        source=source,
        sep=sep if sep is not None else _movielens_separator(source),
        fields=_RATING_FIELDS,
        encoding="latin-1",
        separator_advice=" Pass sep={sep} if so.",
        header_advice=(
            "MovieLens ratings files have none; delete it, or read the file with "
            "load_csv(..., header=True)"
        ),
    )
    for index in (0, 1):
        text.require(
            index,
            text.columns[index] >= 0,
            "must be an integer >= 0",
            "fix or delete the row",
        )
    return RawInteractions(
        users=text.columns[0],
        items=text.columns[1],
        ratings=_check_rating_range(
            text,
            2,
            rating_range,
            reason=(
                "MovieLens stars"
                if rating_range == MOVIELENS_RATING_RANGE
                else "rating_range"
            ),
        ),
        timestamps=text.columns[3],
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


def _infinite_ae_ids(values: np.ndarray, name: str, path: pathlib.Path) -> np.ndarray:
    """[N] int64 ids of hdf5 dataset `name`; they must be integers >= 0."""
    values = np.asarray(values).reshape(-1)
    if values.dtype.kind == "f" and np.all(np.isfinite(values)):
        whole = values == np.floor(values)
        if not np.all(whole):
            row = int(np.flatnonzero(~whole)[0])
            raise ValueError(
                f"{path}: dataset {name!r} row {row}: ids must be integers >= 0, got "
                f"{values[row]}; is this an ∞-AE total_data.hdf5?"
            )
    elif values.dtype.kind not in "iu":
        raise ValueError(
            f"{path}: dataset {name!r} holds {values.dtype} values; ids must be "
            "integers >= 0 (is this an ∞-AE total_data.hdf5?)"
        )
    values = values.astype(np.int64)
    negative = values < 0
    if np.any(negative):
        row = int(np.flatnonzero(negative)[0])
        raise ValueError(
            f"{path}: dataset {name!r} row {row}: ids must be integers >= 0, got "
            f"{values[row]}; the file is damaged or not an ∞-AE total_data.hdf5"
        )
    return values


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

    Raises:
        ValueError: unreadable files, ids that are not integers >= 0, or split tags
            other than -1, 0, 1, 2; the message names the file.
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
    users = _infinite_ae_ids(users, "user", data_path)
    items = _infinite_ae_ids(items, "item", data_path)
    raw = RawInteractions(
        users=users,
        items=items,
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
def load_amazon_csv(
    path: PathLike,
    *,
    rating_range: tuple[float, float] | None = AMAZON_RATING_RANGE,
) -> RawInteractions:
    """Loads an Amazon 2018 "ratings only" CSV: no header, ``item,user,rating,time``.

    Note the column order: the item (ASIN) comes first.

    Args:
        path: ``<Category>.csv`` or ``.csv.gz``.
        rating_range: inclusive bounds every rating must lie in (Amazon's 1-5
            stars); None accepts any finite rating.

    Returns:
        `RawInteractions` with [N] unicode ids, [N] float32 ratings and [N] int64
        timestamps, in file order.

    Raises:
        FileNotFoundError: missing file.
        ValueError: malformed content; the message starts with ``<file>: line <n>:``
            and names the field.
    """
    data, source = read_bytes(path)
    text = _Delimited(
        _trim_text(data),
        source=source,
        sep=",",
        quoted=True,
        fields=(
            _Field("item id", "str"),
            _Field("user id", "str"),
            _Field("rating", "float"),
            _Field("timestamp", "timestamp"),
        ),
        separator_advice=" Amazon ratings CSV files are comma-separated.",
        header_advice=(
            "Amazon ratings CSV files have none; delete it, or read the file with "
            "load_csv(..., header=True)"
        ),
    )
    return RawInteractions(
        users=text.columns[1],
        items=text.columns[0],
        ratings=_check_rating_range(
            text,
            2,
            rating_range,
            reason=(
                "Amazon stars"
                if rating_range == AMAZON_RATING_RANGE
                else "rating_range"
            ),
        ),
        timestamps=text.columns[3],
        source=source,
    )


def _json_repr(value: Any) -> str:
    return json.dumps(value)[:60]


def _json_id(record: dict, key: str, option: str) -> str:
    value = record[key]
    if isinstance(value, str):
        if value.strip():
            return value
        raise ValueError(f"{key} is empty; every record needs one")
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise ValueError(
        f"{key} must be a string id, got {_json_repr(value)}; fix the record, or "
        f"pass {option}= to read another key"
    )


def _json_rating(
    record: dict, key: str, rating_range: tuple[float, float] | None
) -> float:
    value = record[key]
    number = math.nan
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str) and _FLOAT_RE.match(value):
        number = float(value)
    if not math.isfinite(number):
        raise ValueError(
            f"{key} must be a finite number, got {_json_repr(value)}; fix the "
            "record, or pass rating_key=None to skip ratings"
        )
    if rating_range is not None and not rating_range[0] <= number <= rating_range[1]:
        low, high = rating_range
        reason = (
            "Amazon stars" if rating_range == AMAZON_RATING_RANGE else "rating_range"
        )
        raise ValueError(
            f"{key} must be between {low:g} and {high:g} ({reason}), got "
            f"{_json_repr(value)}; fix the record, or pass rating_range=(low, high) "
            "or None"
        )
    return number


def _json_timestamp(record: dict, key: str) -> int:
    value = record[key]
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _INT_RE.match(value):
        return int(value)
    raise ValueError(
        f"{key} must be an integer number of seconds, got {_json_repr(value)}; fix "
        "the record, or pass time_key=None"
    )


def _json_line_problem(line: bytes, error: ValueError, truncated: bool) -> str:
    """Why `line` is not a JSON object (`error` is what `json.loads` raised)."""
    if not line.strip():
        return "empty line; delete it (only the end of a file may be blank)"
    control = _CONTROL_RE.search(line)
    if control is not None:
        return (
            f"binary data (byte 0x{line[control.start()]:02x}), not text; is this a "
            "binary file or the wrong path?"
        )
    if isinstance(error, UnicodeDecodeError):
        return (
            f"not valid UTF-8 text (byte 0x{line[error.start]:02x}); is this a binary "
            "file?"
        )
    cut = "; the file ends inside this line: is it truncated?" if truncated else ""
    return f"invalid JSON ({error}){cut}"


def load_amazon_json(
    path: PathLike,
    *,
    user_key: str = "reviewerID",
    item_key: str = "asin",
    rating_key: str | None = "overall",
    time_key: str | None = "unixReviewTime",
    rating_range: tuple[float, float] | None = AMAZON_RATING_RANGE,
) -> RawInteractions:
    """Loads Amazon review JSON lines (e.g. the 2018 5-core ``<Category>_5.json.gz``).

    Each line is parsed with `json.loads`. Ids must be non-empty strings (integers
    are turned into strings), ratings finite numbers (or numeric strings) within
    `rating_range`, timestamps whole numbers.

    Args:
        path: ``.json`` or ``.json.gz``, one JSON object per line.
        user_key: key of the user id.
        item_key: key of the item id.
        rating_key: key of the rating, or None to skip ratings.
        time_key: key of the unix timestamp, or None to skip timestamps.
        rating_range: inclusive bounds every rating must lie in (Amazon's 1-5
            stars); None accepts any finite rating.

    Returns:
        `RawInteractions` with [N] unicode ids, [N] float32 ratings (or None) and
        [N] int64 timestamps (or None).

    Raises:
        FileNotFoundError: missing file.
        ValueError: malformed content; the message starts with ``<file>: line <n>:``
            and names the key.
    """
    data, source = read_bytes(path)
    data = _trim_text(data)
    if _is_blank(data):
        raise ValueError(f"{source}: line 1: empty file (no data rows)")
    lines = data.splitlines()
    unterminated = not data.endswith((b"\n", b"\r"))
    users, items, ratings, times = [], [], [], []
    for number, line in enumerate(lines, start=1):
        try:
            record = json.loads(line.decode("utf-8"))
            if not isinstance(record, dict):
                raise ValueError("expected a JSON object, one per line")
            users.append(_json_id(record, user_key, "user_key"))
            items.append(_json_id(record, item_key, "item_key"))
            if rating_key is not None:
                ratings.append(_json_rating(record, rating_key, rating_range))
            if time_key is not None:
                times.append(_json_timestamp(record, time_key))
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            truncated = number == len(lines) and unterminated
            problem = _json_line_problem(line, error, truncated)
            raise ValueError(f"{source}: line {number}: {problem}") from None
        except KeyError as error:
            raise ValueError(
                f"{source}: line {number}: missing key {error}; every record needs "
                "it (pass another key name, or None for the rating and time keys)"
            ) from None
        except ValueError as error:
            raise ValueError(f"{source}: line {number}: {error}") from None
    return RawInteractions(
        users=np.array(users, dtype=str),
        items=np.array(items, dtype=str),
        ratings=np.array(ratings, np.float32) if rating_key is not None else None,
        timestamps=np.array(times, np.int64) if time_key is not None else None,
        source=source,
    )


# ------------------------------------------------------------------------ RecBole
_RECBOLE_TYPES = ("token", "token_seq", "float", "float_seq")


def _recbole_header(data: bytes, source: str) -> tuple[list[str], list[str], bytes]:
    """(field names, field types, body) of an atomic file's bytes."""
    data = _trim_text(data)
    if _is_blank(data):
        raise ValueError(f"{source}: line 1: empty file (no header)")
    header, body = _split_first_line(data)
    try:
        text = header.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(
            f"{source}: line 1: the header is not valid UTF-8 text (byte "
            f"0x{header[error.start]:02x}); is this a binary file?"
        ) from None
    fields, types = [], []
    for token in text.split("\t"):
        name, colon, kind = token.strip().partition(":")
        if not colon or kind not in _RECBOLE_TYPES:
            raise ValueError(
                f"{source}: line 1: header field {token[:40]!r} is not 'name:type' "
                "with type token, token_seq, float or float_seq (is this a "
                "tab-separated RecBole atomic file?)"
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
    rating_range: tuple[float, float] | None = None,
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
        rating_range: inclusive bounds every rating must lie in; None (default)
            accepts any finite rating.

    Returns:
        `RawInteractions` with [N] unicode ids (RecBole tokens are strings).

    Raises:
        FileNotFoundError: missing file.
        ValueError: malformed content; the message starts with ``<file>: line <n>:``
            and names the field.
    """
    data, source = read_bytes(path)
    fields, _, body = _recbole_header(data, source)
    for option, required in (("user_field", user_field), ("item_field", item_field)):
        if required not in fields:
            raise ValueError(
                f"{source}: line 1: no field {required!r} in header {fields}; pass "
                f"{option}="
            )
    if history_field is not None and history_field not in fields:
        raise ValueError(
            f"{source}: line 1: no field {history_field!r} in header {fields}; pass "
            "history_field="
        )
    if _is_blank(body):
        raise ValueError(f"{source}: line 2: no data rows below the header")
    roles = {user_field: "str", item_field: "str"}
    if history_field is not None:
        roles.setdefault(history_field, "text")
    if rating_field is not None:
        roles.setdefault(rating_field, "float")
    if time_field is not None:
        roles.setdefault(time_field, "timestamp")
    text = _Delimited(
        body,
        source=source,
        sep="\t",
        first_line=2,
        fields=[_Field(name, roles.get(name, "skip")) for name in fields],
        separator_advice=" RecBole atomic files are tab-separated.",
    )
    users = text.columns[fields.index(user_field)]
    items = text.columns[fields.index(item_field)]
    ratings = timestamps = None
    if rating_field in fields:
        ratings = _check_rating_range(
            text, fields.index(rating_field), rating_range, reason="rating_range"
        )
    if time_field in fields:
        timestamps = text.columns[fields.index(time_field)]
    if history_field is not None:
        users, items = _expand_histories(
            users, items, text.columns[fields.index(history_field)]
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
    vocabulary: dict[str, int] = {}
    own_codes = [
        vocabulary.setdefault(item, len(vocabulary)) for item in items.tolist()
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
    tokens = np.array(list(vocabulary), dtype=str)
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
    names: Sequence[str],
    candidates: Sequence[str],
    *,
    role: str,
    required: bool,
    where: str = "",
) -> int | None:
    normalised = [_normalise_column(n) for n in names]
    for candidate in candidates:
        if candidate in normalised:
            return normalised.index(candidate)
    if required:
        raise ValueError(
            f"{where}cannot find the {role} column among {list(names)}; pass "
            f"{role}_col= (recognised names: {', '.join(candidates)})"
        )
    return None


def _resolve_column(
    names: Sequence[str],
    given: str | int | None,
    candidates,
    *,
    role,
    required,
    where: str = "",
) -> int | None:
    if given is None:
        return _detect_column(
            names, candidates, role=role, required=required, where=where
        )
    if isinstance(given, int):
        if not 0 <= given < len(names):
            raise ValueError(
                f"{where}{role}_col={given} out of range for {len(names)} columns "
                f"{list(names)}"
            )
        return given
    if given in names:
        return list(names).index(given)
    normalised = [_normalise_column(n) for n in names]
    if _normalise_column(given) in normalised:
        return normalised.index(_normalise_column(given))
    raise ValueError(
        f"{where}{role}_col={given!r} is not one of the columns {list(names)}"
    )


def _header_like_column(first: Sequence[str], second: Sequence[str]) -> int | None:
    """A column holding a word on line 1 and a number on line 2, if any."""
    for index, (top, below) in enumerate(zip(first, second, strict=False)):
        if not _NUMBER_RE.fullmatch(top.strip()) and _NUMBER_RE.fullmatch(
            below.strip()
        ):
            return index
    return None


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
    rating_range: tuple[float, float] | None = None,
) -> RawInteractions:
    """Loads a generic delimited file of interactions.

    Columns are found by name in the header (``user``/``user_id``/``userId``/...,
    ``item``/``item_id``/``itemId``/``movieId``/``asin``/..., ``rating``, ``timestamp``)
    or given explicitly by name or position. Without a header the default order is
    user, item[, rating[, timestamp]]. With a one-character separator, fields may be
    quoted (``"a,b"``).

    Args:
        path: the file (plain, ``.gz`` or a one-member ``.zip``).
        sep: field separator (one or more characters).
        header: True / False; None takes line 1 as a header when it names a
            recognised user or item column, or when a column is selected by name,
            and refuses a line 1 that looks like another header (a word above a
            number) rather than reading it as an interaction.
        user_col: user column name or position.
        item_col: item column name or position.
        rating_col: rating column; None auto-detects (absent -> no ratings).
        time_col: timestamp column; None auto-detects (absent -> no timestamps).
        id_type: "auto" (int64 when every id is an integer), "int" or "str".
        encoding: text encoding of the file.
        rating_range: inclusive bounds every rating must lie in; None (default)
            accepts any finite rating.

    Returns:
        `RawInteractions` with [N] ids (int64 or unicode), [N] float32 ratings and
        [N] int64 timestamps when those columns exist, in file order.

    Raises:
        FileNotFoundError: missing file.
        ValueError: malformed content; the message starts with ``<file>: line <n>:``
            and names the field.
    """
    if id_type not in ("auto", "int", "str"):
        raise ValueError(f"id_type must be 'int', 'str' or 'auto', got {id_type!r}")
    data, source = read_bytes(path)
    data = _transcode(_trim_text(data), encoding, source)
    if _is_blank(data):
        raise ValueError(f"{source}: line 1: empty file (no data rows)")
    quoted = len(sep) == 1 and sep.isascii()
    first, rest = _split_first_line(data)
    first_text = _first_line_text(first, source)
    first_fields = [
        f.strip().strip('"') for f in _split_fields(first_text, sep, quoted=quoted)
    ]
    given = (user_col, item_col, rating_col, time_col)
    if header is None:
        header = _detect_header(first_fields, rest, given, sep, quoted, source)
    where = f"{source}: line 1: "
    if header:
        names = first_fields
        body, first_line = rest, 2
        indices = _columns_by_name(names, given, where)
    else:
        names = [str(i) for i in range(len(first_fields))]
        body, first_line = data, 1
        indices = _columns_by_position(given, len(names), first_text, sep, where)
    if _is_blank(body):
        raise ValueError(f"{source}: line {first_line}: no data rows")
    user_index, item_index, rating_index, time_index = indices
    text = _Delimited(
        body,
        source=source,
        sep=sep,
        first_line=first_line,
        quoted=quoted,
        fields=_column_fields(names, indices, id_type, header=header, where=where),
        separator_advice=" Pass sep={sep} if so.",
        header_advice="" if header else "pass header=True",
    )
    return RawInteractions(
        users=text.columns[user_index],
        items=text.columns[item_index],
        ratings=(
            None
            if rating_index is None
            else _check_rating_range(
                text, rating_index, rating_range, reason="rating_range"
            )
        ),
        timestamps=None if time_index is None else text.columns[time_index],
        source=source,
    )


_Columns = tuple[int, int, int | None, int | None]  # user, item, rating, time


def _first_line_text(first: bytes, source: str) -> str:
    try:
        return first.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(
            f"{source}: line 1: not valid UTF-8 text (byte "
            f"0x{first[error.start]:02x}); is this a binary file, or in another "
            "encoding (pass encoding=)?"
        ) from None


def _detect_header(
    first_fields: list[str],
    rest: bytes,
    given: tuple,
    sep: str,
    quoted: bool,
    source: str,
) -> bool:
    """Whether line 1 is a header: it names a known user or item column, or a
    column is selected by name. Refuses a line 1 that looks like another header
    (a word above a number) rather than reading it as an interaction."""
    normalised = {_normalise_column(f) for f in first_fields}
    header = bool(normalised & set(USER_COLUMNS + ITEM_COLUMNS)) or any(
        isinstance(g, str) for g in given
    )
    second = _split_first_line(rest)[0].decode("utf-8", errors="replace")
    second_fields = _split_fields(second, sep, quoted=quoted)
    column = _header_like_column(first_fields, second_fields)
    if not header and column is not None:
        raise ValueError(
            f"{source}: line 1: column {column + 1} holds "
            f"{first_fields[column]!r} above the number "
            f"{second_fields[column].strip()!r}: "
            f"line 1 looks like a header, but names no known user or item "
            f"column ({first_fields}); pass header=True with user_col= and "
            "item_col=, or header=False to read line 1 as data"
        )
    return header


def _columns_by_name(names: list[str], given: tuple, where: str) -> _Columns:
    """The (user, item, rating, time) positions in a header line."""
    return tuple(
        _resolve_column(names, g, candidates, role=role, required=required, where=where)
        for g, candidates, role, required in zip(
            given,
            (USER_COLUMNS, ITEM_COLUMNS, RATING_COLUMNS, TIME_COLUMNS),
            ("user", "item", "rating", "time"),
            (True, True, False, False),
            strict=True,
        )
    )


def _columns_by_position(
    given: tuple, num_columns: int, first_text: str, sep: str, where: str
) -> _Columns:
    """The (user, item, rating, time) positions without a header: the given ones,
    else user, item[, rating[, timestamp]] in that order."""
    for role, index in zip(("user", "item", "rating", "time"), given, strict=True):
        if index is not None and not isinstance(index, int):
            raise ValueError(f"{role}_col must be a position when header=False")
    defaults = (
        0,
        1,
        2 if num_columns > 2 else None,
        3 if num_columns > 3 else None,
    )
    chosen = tuple(
        g if g is not None else d for g, d in zip(given, defaults, strict=True)
    )
    role_names = ("user id", "item id", "rating", "timestamp")
    for role, index in zip(role_names, chosen, strict=True):
        if index is not None and not 0 <= index < num_columns:
            others = [s for s in _COMMON_SEPARATORS if s not in sep and s in first_text]
            hint = (
                f"; the line contains {_sep_repr(others[0])}: wrong separator? "
                f"pass sep={others[0]!r}"
                if others
                else "; wrong separator, or pass *_col= positions that exist"
            )
            raise ValueError(
                f"{where}{role}: no column {index + 1}, the line splits into "
                f"{num_columns} field(s) on {_sep_repr(sep)} "
                f"({first_text[:80]!r}){hint}"
            )
    return chosen


def _column_fields(
    names: list[str], indices: _Columns, id_type: str, *, header: bool, where: str
) -> list[_Field]:
    """How `_Delimited` parses each column (unselected ones are skipped)."""
    roles: dict[int, _Field] = {}
    kinds = (id_type, id_type, "float", "timestamp")
    role_names = ("user id", "item id", "rating", "timestamp")
    for role, index, kind in zip(role_names, indices, kinds, strict=True):
        if index is None:
            continue
        if index in roles:
            raise ValueError(
                f"{where}the {role} and the {roles[index].name} are both column "
                f"{index + 1}; pass distinct *_col="
            )
        name = f"{role} (column {names[index]!r})" if header else role
        roles[index] = _Field(name, kind)
    return [
        roles.get(index, _Field(names[index], "skip")) for index in range(len(names))
    ]


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

    where = f"{source}: "
    user_index = _resolve_column(
        names, user_col, USER_COLUMNS, role="user", required=True, where=where
    )
    item_index = _resolve_column(
        names, item_col, ITEM_COLUMNS, role="item", required=True, where=where
    )
    rating_index = _resolve_column(
        names, rating_col, RATING_COLUMNS, role="rating", required=False, where=where
    )
    time_index = _resolve_column(
        names, time_col, TIME_COLUMNS, role="time", required=False, where=where
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
