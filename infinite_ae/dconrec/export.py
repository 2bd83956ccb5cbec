"""Export and load condensed interactions with provenance.

Formats, like the Distill-CF outputs: NPZ (raw ids, indices, provenance, s), RecBole
atomic `.inter` (tab-separated, `user_id:token item_id:token provenance:token`) and CSV
(`user_id,item_id,provenance`).
"""

from __future__ import annotations

import pathlib
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp

from infinite_ae.dconrec.pool import PROVENANCE_NAMES


class Condensed(NamedTuple):
    """A condensed training set (a multiset of interactions).

    Attributes:
      users: [M] int32 user indices.
      items: [M] int32 item indices.
      provenance: [M] int8, 0 original, 1 pseudo, 2 tail.
    """

    users: np.ndarray
    items: np.ndarray
    provenance: np.ndarray

    def counts(self) -> dict[str, int]:
        """Interactions per provenance label."""
        return {
            name: int(np.sum(self.provenance == code))
            for code, name in enumerate(PROVENANCE_NAMES)
        }

    def to_csr(self, num_users: int, num_items: int) -> sp.csr_matrix:
        """[U, I] binary CSR (duplicates collapse)."""
        mat = sp.csr_matrix(
            (np.ones(len(self.users), np.float32), (self.users, self.items)),
            shape=(num_users, num_items),
        )
        mat.data[:] = 1.0
        return mat


def save(
    path_prefix,
    condensed: Condensed,
    user_ids: np.ndarray,
    item_ids: np.ndarray,
    *,
    probs: np.ndarray | None = None,
    metadata: dict | None = None,
    atomic_save_npz=None,
) -> dict[str, str]:
    """Writes `<prefix>.npz`, `<prefix>.inter` and `<prefix>.csv`.

    Args:
      path_prefix: output path without suffix.
      condensed: `Condensed`.
      user_ids: [U] raw user ids.
      item_ids: [I] raw item ids.
      probs: optional [N] final probabilities s, stored in the NPZ.
      metadata: optional str -> scalar/str entries stored in the NPZ as `meta_<k>`.
      atomic_save_npz: optional writer `(path, **arrays)` (e.g. infinite_ae.io's).

    Returns:
      {"npz": ..., "inter": ..., "csv": ...} paths.
    """
    prefix = pathlib.Path(path_prefix)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    raw_u = np.asarray(user_ids)[condensed.users]
    raw_i = np.asarray(item_ids)[condensed.items]
    arrays = {
        "user_ids": raw_u,
        "item_ids": raw_i,
        "users": condensed.users.astype(np.int32),
        "items": condensed.items.astype(np.int32),
        "provenance": condensed.provenance.astype(np.int8),
        "provenance_names": np.array(PROVENANCE_NAMES),
        "all_user_ids": np.asarray(user_ids),
        "all_item_ids": np.asarray(item_ids),
    }
    if probs is not None:
        arrays["probs"] = np.asarray(probs, np.float32)
    for key, value in (metadata or {}).items():
        arrays[f"meta_{key}"] = np.asarray(value)
    npz_path = prefix.with_suffix(".npz")
    if atomic_save_npz is not None:
        atomic_save_npz(npz_path, **arrays)
    else:
        np.savez_compressed(npz_path, **arrays)
    names = np.array(PROVENANCE_NAMES)[condensed.provenance]
    inter_path = prefix.with_suffix(".inter")
    with open(inter_path, "w") as f:
        f.write("user_id:token\titem_id:token\tprovenance:token\n")
        for u, i, p in zip(raw_u, raw_i, names, strict=True):
            f.write(f"{u}\t{i}\t{p}\n")
    csv_path = prefix.with_suffix(".csv")
    with open(csv_path, "w") as f:
        f.write("user_id,item_id,provenance\n")
        for u, i, p in zip(raw_u, raw_i, names, strict=True):
            f.write(f"{u},{i},{p}\n")
    return {"npz": str(npz_path), "inter": str(inter_path), "csv": str(csv_path)}


def load(path, user_ids: np.ndarray, item_ids: np.ndarray) -> Condensed:
    """Loads a condensed NPZ and maps its RAW ids onto the given id maps.

    Args:
      path: `.npz` written by `save`.
      user_ids: [U] raw user ids of the target dataset.
      item_ids: [I] raw item ids of the target dataset.

    Raises:
      KeyError: if a raw id is not in the id maps.
    """
    with np.load(path, allow_pickle=False) as z:
        raw_u, raw_i, prov = z["user_ids"], z["item_ids"], z["provenance"]
    u_index = {v: k for k, v in enumerate(np.asarray(user_ids).tolist())}
    i_index = {v: k for k, v in enumerate(np.asarray(item_ids).tolist())}
    users = np.array([u_index[v] for v in raw_u.tolist()], np.int32)
    items = np.array([i_index[v] for v in raw_i.tolist()], np.int32)
    return Condensed(users, items, prov.astype(np.int8))


def as_interactions(data, condensed: Condensed):
    """The dataset with its train split replaced by the condensed interactions.

    Uses `data.with_train(csr)` (the Interactions contract). Note: evaluators that
    mask `train` then mask the condensed items (pseudo-positives included); the
    DConRec protocol masks the ORIGINAL training items, which `trainers.fit` does
    when given the original `data` and the condensed rows.
    """
    csr = condensed.to_csr(data.train.shape[0], data.train.shape[1])
    return data.with_train(csr)
