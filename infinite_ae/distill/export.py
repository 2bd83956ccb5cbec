"""Discretising and exporting a distilled summary (NPZ, RecBole .inter, CSV).

The learned summary is continuous (one clipped Gumbel-softmax sample of the logits;
at τ = 10 every draw spreads its unit mass over many items and the cardinality term
cannot sparsify it, so the sample is dense: quirk 10 in docs/original_code.md). Other
libraries need discrete interactions, so three binarisations are offered:

* ``sample``: the learned distribution itself. γ categorical draws per synthetic user
  from softmax(logits) (the hard version of a Gumbel-softmax draw, independent of τ);
  the row is the union of the drawn items.
* ``topk``: per synthetic user, the k items with the largest continuous values.
* ``threshold``: entries of the continuous sample ≥ t.

Files keep raw item ids, so a distilled dataset loads back as an `Interactions`.
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Mapping
from typing import Any

import numpy as np
import scipy.sparse as sp

from infinite_ae import io
from infinite_ae.data.interactions import Interactions

BINARIZATIONS = ("sample", "topk", "threshold")


def synthetic_user_ids(num: int) -> np.ndarray:
    """Raw ids of synthetic users: ``synthetic_00000`` ...; [S] unicode."""
    width = max(5, len(str(max(num - 1, 0))))
    return np.array([f"synthetic_{u:0{width}d}" for u in range(num)])


def binarize(
    continuous: np.ndarray,
    logits: np.ndarray,
    *,
    mode: str,
    rng: np.random.Generator | None = None,
    num_samples: int = 200,
    k: int | None = None,
    threshold: float = 0.5,
) -> sp.csr_matrix:
    """A binary [S, I] matrix from a distilled summary (module docstring).

    Args:
      continuous: [S, I] continuous summary in [0, 1] (used by topk / threshold).
      logits: [S, I] learned logits (used by sample).
      mode: "sample" | "topk" | "threshold".
      rng: NumPy generator (mode "sample").
      num_samples: γ, categorical draws per user (mode "sample").
      k: items per user (mode "topk"); None means round(row sum of ``continuous``),
        at least 1.
      threshold: t (mode "threshold").

    Returns:
      [S, I] binary float32 CSR.

    Raises:
      ValueError: unknown mode or shapes that differ.

    >>> x = np.array([[0.9, 0.1, 0.6]])
    >>> binarize(x, x, mode="threshold", threshold=0.5).toarray().tolist()
    [[1.0, 0.0, 1.0]]
    >>> binarize(x, x, mode="topk", k=1).toarray().tolist()
    [[1.0, 0.0, 0.0]]
    """
    continuous = np.asarray(continuous, np.float32)
    logits = np.asarray(logits, np.float32)
    if continuous.shape != logits.shape or continuous.ndim != 2:
        raise ValueError(
            f"continuous {continuous.shape} and logits {logits.shape} must be "
            "equal [S, I]"
        )
    num_users, num_items = continuous.shape
    if mode == "threshold":
        return sp.csr_matrix((continuous >= threshold).astype(np.float32))
    if mode == "topk":
        if k is None:
            ks = np.clip(np.rint(continuous.sum(1)).astype(int), 1, num_items)
        else:
            ks = np.full(num_users, int(np.clip(k, 1, num_items)))
        order = np.argsort(-continuous, axis=1, kind="stable")
        keep = np.arange(num_items)[None, :] < ks[:, None]
        dense = np.zeros_like(continuous)
        np.put_along_axis(dense, order, keep.astype(np.float32), axis=1)
        return sp.csr_matrix(dense)
    if mode == "sample":
        if rng is None:
            raise ValueError("mode='sample' needs rng")
        z = logits.astype(np.float64)
        probs = np.exp(z - z.max(1, keepdims=True))
        cdf = np.cumsum(probs, axis=1)
        cdf /= cdf[:, -1:]
        draws = rng.random((num_users, num_samples))
        items = np.stack(
            [np.searchsorted(cdf[u], draws[u], side="right") for u in range(num_users)]
        )
        items = np.minimum(items, num_items - 1)
        rows = np.repeat(np.arange(num_users), num_samples)
        out = sp.csr_matrix(
            (np.ones(rows.size, np.float32), (rows, items.reshape(-1))),
            shape=(num_users, num_items),
        )
        out.sum_duplicates()
        out.data[:] = 1.0
        return out
    raise ValueError(f"mode must be one of {BINARIZATIONS}, got {mode!r}")


def to_interactions(
    matrix: Any,
    item_ids: np.ndarray,
    *,
    name: str = "distilled",
    binarize: bool = False,
) -> Interactions:
    """A distilled [S, I] matrix as an `Interactions` (train only; val/test empty).

    Continuous values are kept unless ``binarize`` (∞-AE trains on fractional rows).
    """
    return Interactions.from_matrices(
        matrix,
        user_ids=synthetic_user_ids(matrix.shape[0]),
        item_ids=item_ids,
        name=name,
        binarize=binarize,
    )


def save_npz(
    path: str | os.PathLike,
    *,
    continuous: np.ndarray,
    logits: np.ndarray,
    discrete: Mapping[str, sp.csr_matrix],
    item_ids: np.ndarray,
    config_hash: str = "",
    extra: Mapping[str, Any] | None = None,
) -> pathlib.Path:
    """Writes ``distilled.npz`` atomically.

    Keys: ``data`` (the continuous [S, I] summary, the original's key), ``logits``,
    ``item_ids`` (raw), ``user_ids`` (synthetic), ``config_hash``, and for every
    discrete export ``<mode>_indptr`` / ``<mode>_indices`` (binary CSR) plus
    ``discrete_modes``; ``extra`` entries are stored as given.
    """
    arrays: dict[str, Any] = {
        "data": np.asarray(continuous, np.float32),
        "logits": np.asarray(logits, np.float32),
        "item_ids": np.asarray(item_ids),
        "user_ids": synthetic_user_ids(np.shape(continuous)[0]),
        "config_hash": np.asarray(config_hash),
        "discrete_modes": np.asarray(list(discrete), dtype=str),
    }
    for mode, matrix in discrete.items():
        matrix = sp.csr_matrix(matrix)
        arrays[f"{mode}_indptr"] = matrix.indptr
        arrays[f"{mode}_indices"] = matrix.indices
    arrays.update(extra or {})
    path = pathlib.Path(path)
    io.atomic_save_npz(path, **arrays)
    return path


def load_npz(path: str | os.PathLike, *, variant: str = "continuous") -> Interactions:
    """Loads ``distilled.npz`` back as an `Interactions` with raw item ids.

    Args:
      path: file written by `save_npz`.
      variant: "continuous" or one of the stored discrete modes.
    """
    with np.load(path, allow_pickle=False) as f:
        item_ids = f["item_ids"]
        if variant == "continuous":
            matrix = sp.csr_matrix(f["data"])
        else:
            if variant not in list(f["discrete_modes"]):
                raise ValueError(
                    f"{path} has no {variant!r} export; stored: "
                    f"{['continuous', *f['discrete_modes']]}"
                )
            indices = f[f"{variant}_indices"]
            indptr = f[f"{variant}_indptr"]
            matrix = sp.csr_matrix(
                (np.ones(indices.size, np.float32), indices, indptr),
                shape=(indptr.size - 1, item_ids.size),
            )
    return to_interactions(matrix, item_ids, name=f"distilled_{variant}")


def _triples(matrix: sp.csr_matrix):
    coo = sp.coo_matrix(matrix)
    order = np.lexsort((coo.col, coo.row))
    return coo.row[order], coo.col[order], coo.data[order]


def _write_delimited(
    path: str | os.PathLike, matrix: Any, item_ids: np.ndarray, header: str, sep: str
) -> pathlib.Path:
    """One ``user sep item sep value`` line per nonzero, after `header`."""
    rows, cols, vals = _triples(sp.csr_matrix(matrix))
    users = synthetic_user_ids(matrix.shape[0])
    item_ids = np.asarray(item_ids)
    lines = [header]
    triples = zip(rows, cols, vals, strict=True)
    lines += [f"{users[r]}{sep}{item_ids[c]}{sep}{v:.6g}" for r, c, v in triples]
    return _write_text(path, "\n".join(lines) + "\n")


def write_recbole_inter(
    path: str | os.PathLike, matrix: Any, *, item_ids: np.ndarray
) -> pathlib.Path:
    """RecBole atomic file: ``user_id:token  item_id:token  rating:float`` (TSV).

    Users are the synthetic ids of `synthetic_user_ids`; items keep their raw ids;
    rating is the matrix value (1 for a discrete export).
    """
    header = "user_id:token\titem_id:token\trating:float"
    return _write_delimited(path, matrix, item_ids, header, "\t")


def write_csv(
    path: str | os.PathLike, matrix: Any, *, item_ids: np.ndarray
) -> pathlib.Path:
    """CSV with header ``user_id,item_id,weight`` (raw item ids, synthetic users)."""
    return _write_delimited(path, matrix, item_ids, "user_id,item_id,weight", ",")


def read_table(path: str | os.PathLike, *, item_ids: np.ndarray) -> Interactions:
    """Reads a file written by `write_recbole_inter` or `write_csv` back.

    Items are mapped through ``item_ids`` (the column order of the original data,
    compared as strings); users in order of first appearance.
    """
    text = pathlib.Path(path).read_text(encoding="utf-8").splitlines()
    sep = "\t" if "\t" in text[0] else ","
    records = [line.split(sep) for line in text[1:] if line]
    users = list(dict.fromkeys(r[0] for r in records))
    user_index = {u: n for n, u in enumerate(users)}
    item_index = {str(v): n for n, v in enumerate(np.asarray(item_ids))}
    rows = np.array([user_index[r[0]] for r in records])
    cols = np.array([item_index[r[1]] for r in records])
    vals = np.array([float(r[2]) for r in records], np.float32)
    matrix = sp.csr_matrix((vals, (rows, cols)), shape=(len(users), len(item_ids)))
    return Interactions.from_matrices(
        matrix,
        user_ids=np.array(users),
        item_ids=item_ids,
        name="distilled",
        binarize=False,
    )


def _write_text(path: str | os.PathLike, text: str) -> pathlib.Path:
    path = pathlib.Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path
