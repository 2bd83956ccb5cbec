"""Item texts for text-based recommenders: readers and alignment to item indices.

Readers return {raw item id: text}:
  * `read_recbole_text`: RecBole / UniSRec ``<name>.text`` (``item_id:token`` tab
    ``text:token_seq``; Scientific: "title. categories. brand.");
  * `read_movielens_movies`: GroupLens ``movies.dat`` (ML-1M, ``::``, ISO-8859-1)
    or ML-100K ``u.item`` (``|``): "Title (Year). Genre, Genre.";
  * `read_amazon_meta`: Amazon 2018 ``meta_<Category>.json.gz`` (JSON lines): the
    title unless it is markup, then the categories below the top level and the
    brand, else the first description (truncated); the first line of a repeated
    ASIN wins (Magazine's 5-core reviews name 6 of their 157 items absent from its
    metadata: `item_texts(..., missing="empty")`).

`successor_texts(sequences)` generates texts for data without any (planted
sequences). `item_texts(item_ids, texts)` lists the texts in item-index order (the
order of `Sequences.item_ids` / `Interactions` raw ids) and refuses missing items
unless asked to fill them. Errors name the file and line (or the missing ids).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence

import numpy as np

from infinite_ae.data.loaders import read_bytes

PathLike = str | os.PathLike
MISSING = ("error", "empty")
_MARKUP = re.compile(r"^\s*<")
_SPACES = re.compile(r"\s+")
DESCRIPTION_CHARS = 300
"""Characters of a description kept when it stands in for a title."""


def _lines(path: PathLike, *, encoding: str = "utf-8", member=None):
    data, source = read_bytes(path, member=member)
    try:
        text = data.decode(encoding).lstrip("\ufeff")
    except UnicodeDecodeError as error:
        raise ValueError(f"{source}: not {encoding} text ({error})") from None
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise ValueError(f"{source}: the file is empty")
    return source, lines


def _clean(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


def _add(texts: dict, key, text: str, source: str, number: int) -> None:
    if key in texts:
        raise ValueError(f"{source}: line {number}: item {key!r} appears twice")
    texts[key] = text


def read_recbole_text(path: PathLike) -> dict[str, str]:
    """{item token: text} of a RecBole ``.text`` file (header line first)."""
    source, lines = _lines(path)
    header = lines[0].split("\t")
    if len(header) != 2 or not header[0].startswith("item_id"):
        raise ValueError(
            f"{source}: line 1: expected the header 'item_id:token<TAB>text:token_seq'"
            f", got {lines[0][:80]!r}"
        )
    texts: dict[str, str] = {}
    for number, line in enumerate(lines[1:], start=2):
        fields = line.split("\t")
        if len(fields) != 2 or not fields[0].strip():
            raise ValueError(
                f"{source}: line {number}: expected 'item<TAB>text', got {line[:80]!r}"
            )
        _add(texts, fields[0].strip(), _clean(fields[1]), source, number)
    return texts


def read_movielens_movies(path: PathLike) -> dict[int, str]:
    """{movie id: "Title (Year). Genre, Genre."} of ML-1M ``movies.dat`` (``::``,
    ISO-8859-1; plain, .gz or inside ml-1m.zip) or ML-100K ``u.item`` (``|``;
    the 19 genre flags name the genres)."""
    source, lines = _lines(path, encoding="iso-8859-1", member=("movies.dat", "u.item"))
    texts: dict[int, str] = {}
    for number, line in enumerate(lines, start=1):
        if "::" in line:
            fields = line.split("::")
            if len(fields) != 3:
                raise ValueError(
                    f"{source}: line {number}: expected 'id::title::genres', got "
                    f"{line[:80]!r}"
                )
            genres = [g for g in fields[2].split("|") if g]
        else:
            fields = line.split("|")
            if len(fields) != 5 + len(ML100K_GENRES):
                raise ValueError(
                    f"{source}: line {number}: expected 24 '|' fields (u.item), got "
                    f"{len(fields)}"
                )
            flags = fields[5:]
            genres = [g for g, f in zip(ML100K_GENRES, flags, strict=True) if f == "1"]
        if not fields[0].strip().isdigit():
            raise ValueError(
                f"{source}: line {number}: movie id {fields[0]!r} is not an integer"
            )
        text = _clean(fields[1]) + (". " + ", ".join(genres) if genres else "") + "."
        _add(texts, int(fields[0]), text, source, number)
    return texts


ML100K_GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
    "Romance", "Sci-Fi", "Thriller", "War", "Western",
)  # fmt: skip
"""The genre columns of ML-100K's ``u.item``, in order."""


def _meta_text(record: dict) -> str:
    title = _clean(str(record.get("title") or ""))
    if _MARKUP.match(title):
        title = ""
    parts = [title] if title else []
    categories = [
        _clean(str(c)) for c in (record.get("category") or [])[1:] if str(c).strip()
    ]
    if categories:
        parts.append(", ".join(categories))
    brand = _clean(str(record.get("brand") or ""))
    if brand:
        parts.append(brand)
    if not title:
        description = " ".join(str(d) for d in (record.get("description") or []))
        description = _clean(description)[:DESCRIPTION_CHARS]
        if description:
            parts.append(description)
    parts = [p.rstrip(". ") for p in parts]
    return ". ".join(p for p in parts if p) + ("." if any(parts) else "")


def read_amazon_meta(path: PathLike) -> dict[str, str]:
    """{ASIN: text} of an Amazon 2018 metadata file (JSON lines, .gz or plain)."""
    source, lines = _lines(path)
    texts: dict[str, str] = {}
    for number, line in enumerate(lines, start=1):
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise ValueError(f"{source}: line {number}: not JSON ({error})") from None
        asin = record.get("asin") if isinstance(record, dict) else None
        if not isinstance(asin, str) or not asin:
            raise ValueError(f"{source}: line {number}: no 'asin' string")
        texts.setdefault(asin, _meta_text(record))
    return texts


def item_texts(
    item_ids: Sequence | np.ndarray,
    texts: Mapping,
    *,
    missing: str = "error",
    source: str = "item texts",
) -> list[str]:
    """The text of every item, in item-index order.

    Args:
      item_ids: [I] raw item ids (e.g. `Sequences.item_ids`).
      texts: {raw id: text} from a reader (keys of the ids' type).
      missing: "error" (refuse items without text) or "empty" (give them "").
      source: named in the error (e.g. the file).

    Raises:
      ValueError: items without text under missing="error" (counts and examples).
    """
    if missing not in MISSING:
        raise ValueError(f"missing must be one of {MISSING}, got {missing!r}")
    ids = np.asarray(item_ids).tolist()
    absent = [i for i in ids if i not in texts]
    if absent and missing == "error":
        raise ValueError(
            f"{source}: no text for {len(absent)} of {len(ids)} items (e.g. "
            f"{absent[:5]}); pass missing='empty' to give them empty texts"
        )
    return [texts.get(i, "") for i in ids]


def successor_texts(sequences, top: int = 3) -> list[str]:
    """Generated item texts for data without any (planted sequences, tests): item
    j's text names j and its `top` most frequent next items in the training
    prefixes ("item 4 then 7 12 9"), so text similarity reflects shared
    transitions."""
    counts = np.zeros((sequences.num_items, sequences.num_items), np.int64)
    for user in range(sequences.num_users):
        items = sequences.train_items[
            sequences.train_indptr[user] : sequences.train_indptr[user + 1]
        ]
        np.add.at(counts, (items[:-1], items[1:]), 1)
    texts = []
    for item, row in enumerate(counts):
        following = [int(j) for j in np.argsort(-row, kind="stable")[:top] if row[j]]
        words = " ".join(str(j) for j in following)
        texts.append(f"item {item}" + (f" then {words}" if words else ""))
    return texts
