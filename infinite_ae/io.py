"""Run artefacts: JSONL metric logs, atomic JSON/NPZ writes and pytree checkpoints.

Every write goes to a temporary file in the destination directory followed by
`os.replace`, so a killed process never leaves a half-written artefact behind.
Files are created with the permissions of a plain `open()`: mode `0o666` less the
process umask.

A checkpoint is a `step_XXXXXXXX.npz` holding one array per pytree leaf, keyed by
the leaf's `jax.tree_util.keystr` path, so a restore matches leaves by name and a
renamed or added field is reported by path rather than silently misplaced.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import json
import math
import os
import pathlib
import re
import secrets
import shutil
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from io import BytesIO
from typing import Any

import jax
import numpy as np
from absl import logging

from infinite_ae.types import PyTree

_CHECKPOINT_RE = re.compile(r"^step_(\d{8})\.npz$")
_CHECKPOINT_FORMAT = 2
_UNREADABLE_SUFFIX = ".unreadable"
_MAX_LISTED = 10


def _create_temp_file(directory: pathlib.Path, prefix: str, suffix: str) -> str:
    """Creates an empty, uniquely named file in `directory` and returns its path.

    The file is opened with mode `0o666`, so the kernel applies the process umask
    (and any default ACL of the directory) exactly as for a plain `open()`. Reading
    the umask is never needed, which keeps this safe in threaded programs, where
    `os.umask` (set, then restore) would race.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        tmp = directory / f"{prefix}{secrets.token_hex(8)}{suffix}"
        try:
            fd = os.open(tmp, flags, 0o666)
        except FileExistsError:
            continue
        os.close(fd)
        return str(tmp)
    raise FileExistsError(
        f"no free temporary file name {prefix}*{suffix} in {directory}"
    )


@contextlib.contextmanager
def _atomic_path(path: str | os.PathLike[str], suffix: str = "") -> Iterator[str]:
    """Yields a temporary path beside `path`, moved onto it if the body succeeds.

    The temporary file already exists (empty) with the permissions a plain `open()`
    would give, `0o666 & ~umask`; writers that reopen it with mode `"w"`/`"wb"`
    keep those permissions, and `os.replace` carries them onto `path`.
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _create_temp_file(path.parent, prefix=f".{path.name}.", suffix=suffix)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise


def to_jsonable(value: Any) -> Any:
    """Converts NumPy/JAX scalars and arrays (recursively) into JSON-friendly values.

    Non-finite floats become `None` so the output stays strict JSON.

    >>> to_jsonable({"a": np.float32(0.5), "b": np.arange(2)})
    {'a': 0.5, 'b': [0, 1]}
    """
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, jax.Array | np.ndarray):
        value = np.asarray(value)
        return value.item() if value.ndim == 0 else to_jsonable(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, pathlib.Path):
        return str(value)
    return value


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> None:
    """Writes `obj` as indented JSON to `path` atomically."""
    with _atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        json.dump(to_jsonable(obj), f, indent=2, sort_keys=False)
        f.write("\n")


def atomic_save_npz(path: str | os.PathLike[str], **arrays: Any) -> None:
    """Saves arrays to a compressed `.npz` at `path` atomically."""
    with _atomic_path(path, suffix=".npz") as tmp:
        np.savez_compressed(tmp, **{k: np.asarray(v) for k, v in arrays.items()})


def atomic_save_figure(
    path: str | os.PathLike[str], figure: Any, **kwargs: Any
) -> None:
    """Saves a matplotlib figure to `path` (format from its suffix) atomically."""
    path = pathlib.Path(path)
    with _atomic_path(path, suffix=path.suffix) as tmp:
        figure.savefig(tmp, **kwargs)


class MetricWriter:
    """Appends one JSON object per step to a JSONL file (clu-style interface).

    Args:
      path: the `metrics.jsonl` file.
      resume_from_step: when resuming a run, lines logged after this step are
        dropped first, so the log of a resumed run equals an uninterrupted one.
        `None` keeps the file as it is; a fresh run should pass `-1` to truncate.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, resume_from_step: int | None = None
    ):
        self.path = pathlib.Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if resume_from_step is not None:
            kept = [
                r
                for r in read_jsonl(self.path)
                if r.get("step", -1) <= resume_from_step
            ]
            with _atomic_path(self.path) as tmp, open(tmp, "w", encoding="utf-8") as f:
                for record in kept:
                    f.write(json.dumps(record) + "\n")

    def write_scalars(self, step: int, scalars: Mapping[str, Any]) -> None:
        """Appends `{"step": step, **scalars}` and flushes it to disk."""
        record = {"step": int(step), **to_jsonable(dict(scalars))}
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
            f.flush()

    def close(self) -> None:
        """Present for clu compatibility; every write is already flushed."""


def read_jsonl(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Reads a JSONL file; a missing file reads as empty.

    Raises:
      ValueError: a line is not valid JSON (the message names file and line).
    """
    path = pathlib.Path(path)
    if not path.exists():
        return []
    records = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}:{number}: invalid JSON line ({e.msg})") from e
    return records


def checkpoint_path(checkpoint_dir: str | os.PathLike[str], step: int) -> pathlib.Path:
    """The file of the checkpoint of `step`: `<checkpoint_dir>/step_XXXXXXXX.npz`.

    >>> checkpoint_path("ckpt", 12).as_posix()
    'ckpt/step_00000012.npz'
    """
    return pathlib.Path(checkpoint_dir) / f"step_{int(step):08d}.npz"


def _is_key(leaf: Any) -> bool:
    return isinstance(leaf, jax.Array) and jax.dtypes.issubdtype(
        leaf.dtype, jax.dtypes.prng_key
    )


def _shown(leaf_path: str) -> str:
    return leaf_path or "<root>"


def _listed(leaf_paths: list[str]) -> str:
    """`a, b, c` for at most `_MAX_LISTED` paths, then how many more there are."""
    shown = ", ".join(_shown(p) for p in leaf_paths[:_MAX_LISTED])
    more = len(leaf_paths) - _MAX_LISTED
    return shown + (f" and {more} more" if more > 0 else "")


def _host_value(leaf: Any, leaf_path: str, path: pathlib.Path) -> np.ndarray:
    """The leaf as one NumPy array; sharded arrays are gathered, keys become data."""
    if _is_key(leaf):
        leaf = jax.random.key_data(leaf)
    if isinstance(leaf, jax.Array) and not (
        leaf.is_fully_addressable or leaf.is_fully_replicated
    ):
        raise ValueError(
            f"{path}: array {_shown(leaf_path)} is sharded over several processes "
            "and not replicated; only replicated or process-local arrays can be "
            "checkpointed"
        )
    return np.asarray(leaf)


def save_checkpoint(
    checkpoint_dir: str | os.PathLike[str], step: int, tree: PyTree, *, keep: int = 2
) -> pathlib.Path:
    """Saves a pytree of arrays as `step_XXXXXXXX.npz` atomically; keeps the newest.

    Each leaf is stored under its `jax.tree_util.keystr` path (for example
    `['state'].opt_state[0].mu['w']`), which `restore_checkpoint` matches against
    the target pytree. Sharded `jax.Array`s are gathered into one array. Typed PRNG
    keys are stored as their raw key data and rewrapped by `restore_checkpoint`
    with the key implementation of the target leaf.

    Args:
      checkpoint_dir: directory of the checkpoints.
      step: the step the state belongs to.
      tree: any pytree whose leaves are arrays or scalars.
      keep: how many of the newest checkpoints to keep (all of them if <= 0).

    Returns:
      The path of the written checkpoint.

    Raises:
      ValueError: two leaves have the same path, or a leaf is sharded over
        several processes without being replicated.
    """
    checkpoint_dir = pathlib.Path(checkpoint_dir)
    path = checkpoint_path(checkpoint_dir, step)
    flat, _ = jax.tree_util.tree_flatten_with_path(tree)
    leaf_paths = [jax.tree_util.keystr(key_path) for key_path, _ in flat]
    duplicates = sorted(p for p, n in collections.Counter(leaf_paths).items() if n > 1)
    if duplicates:
        raise ValueError(
            f"{path}: several leaves have the path {_listed(duplicates)}; "
            "checkpoints need a unique path per leaf"
        )
    arrays = {}
    is_key, dtypes = [], []
    for i, (leaf_path, (_, leaf)) in enumerate(zip(leaf_paths, flat, strict=True)):
        is_key.append(_is_key(leaf))
        value = _host_value(leaf, leaf_path, path)
        dtypes.append(str(value.dtype))
        arrays[f"leaf_{i:05d}"] = value
    atomic_save_npz(
        path,
        __format__=np.asarray(_CHECKPOINT_FORMAT),
        __paths__=np.asarray(leaf_paths, dtype=str),
        __is_key__=np.asarray(is_key, dtype=bool),
        __dtypes__=np.asarray(dtypes, dtype=str),
        **arrays,
    )
    for old in list_checkpoints(checkpoint_dir)[:-keep] if keep > 0 else []:
        checkpoint_path(checkpoint_dir, old).unlink(missing_ok=True)
    return path


def list_checkpoints(checkpoint_dir: str | os.PathLike[str]) -> list[int]:
    """Steps of the checkpoints in `checkpoint_dir`, ascending."""
    checkpoint_dir = pathlib.Path(checkpoint_dir)
    if not checkpoint_dir.is_dir():
        return []
    steps = []
    for name in os.listdir(checkpoint_dir):
        match = _CHECKPOINT_RE.match(name)
        if match:
            steps.append(int(match.group(1)))
    return sorted(steps)


def latest_checkpoint(checkpoint_dir: str | os.PathLike[str]) -> int | None:
    """The newest checkpointed step, or None when there is none.

    This only lists file names; `latest_valid_checkpoint` also reads them.
    """
    steps = list_checkpoints(checkpoint_dir)
    return steps[-1] if steps else None


@dataclasses.dataclass(frozen=True)
class _StoredCheckpoint:
    """The arrays of one checkpoint file, in the order they were saved.

    `leaf_paths` and `is_key` are None for a checkpoint that stores its arrays by
    position only (`__num_leaves__`, no `__paths__`).
    """

    arrays: list[np.ndarray]
    leaf_paths: list[str] | None
    is_key: list[bool] | None


# What reading a damaged `.npz` raises: a truncated zip or a failed CRC check
# (BadZipFile), a failed inflate (zlib.error), a missing member (KeyError), a
# short or bad array header or pickled data (EOFError, ValueError), an unknown
# dtype name (TypeError).
_READ_ERRORS = (
    OSError,
    EOFError,
    KeyError,
    TypeError,
    ValueError,
    zipfile.BadZipFile,
    zlib.error,
)


def _read_npz_member(archive: zipfile.ZipFile, name: str) -> np.ndarray:
    """One array of an `.npz`, read whole so that its CRC-32 is checked.

    `np.load` stops reading a member after the array's bytes and so never reaches
    the CRC check at its end; reading the member whole makes `zipfile` check it.
    """
    data = archive.read(f"{name}.npy")
    return np.lib.format.read_array(BytesIO(data), allow_pickle=False)


def _read_checkpoint(path: pathlib.Path) -> _StoredCheckpoint:
    """Reads, decompresses and checksums every array of the checkpoint at `path`.

    Raises:
      FileNotFoundError: there is no file at `path`.
      ValueError: the file is empty, truncated or corrupt, or lacks arrays that
        its index lists; the message names `path`.
    """
    try:
        if path.stat().st_size == 0:
            raise ValueError("the file is empty (0 bytes)")
        with zipfile.ZipFile(path) as archive:
            names = {n.removesuffix(".npy") for n in archive.namelist()}
            if "__paths__" in names:
                leaf_paths = [str(p) for p in _read_npz_member(archive, "__paths__")]
                is_key = [bool(k) for k in _read_npz_member(archive, "__is_key__")]
                dtypes = [str(d) for d in _read_npz_member(archive, "__dtypes__")]
                if not len(leaf_paths) == len(is_key) == len(dtypes):
                    raise ValueError("its index arrays differ in length")
                count = len(leaf_paths)
            elif "__num_leaves__" in names:
                leaf_paths = is_key = dtypes = None
                count = int(_read_npz_member(archive, "__num_leaves__"))
            else:
                raise ValueError("it has no index of its arrays (__paths__)")
            keys = [f"leaf_{i:05d}" for i in range(count)]
            missing = [k for k in keys if k not in names]
            if missing:
                raise ValueError(
                    f"arrays {', '.join(missing[:_MAX_LISTED])} are missing"
                )
            arrays = [_read_npz_member(archive, k) for k in keys]
        if dtypes is not None:
            # Dtypes NumPy cannot name (bfloat16, float8) load as raw bytes ("V2").
            arrays = [
                a.view(jax.numpy.dtype(d)) if a.dtype.kind == "V" else a
                for a, d in zip(arrays, dtypes, strict=True)
            ]
    except FileNotFoundError:
        raise
    except _READ_ERRORS as e:
        if type(e) is ValueError:
            reason = str(e)
        else:
            name = "zlib.error" if isinstance(e, zlib.error) else type(e).__name__
            reason = f"{name}: {e}"
        raise ValueError(f"{path}: unreadable checkpoint ({reason})") from e
    return _StoredCheckpoint(arrays, leaf_paths, is_key)


def latest_valid_checkpoint(
    checkpoint_dir: str | os.PathLike[str], *, set_aside_unreadable: bool = False
) -> int | None:
    """The newest step whose checkpoint reads back completely, or None.

    Checkpoints are read newest first. Each unreadable one (empty, truncated,
    corrupt, or lacking arrays that its index lists) is logged as a warning that
    names its path, and the next older one is tried. Only readability is checked;
    whether a checkpoint fits a given state is checked by `restore_checkpoint`.

    Args:
      checkpoint_dir: directory of the checkpoints.
      set_aside_unreadable: rename each unreadable checkpoint newer than the
        returned step to `step_XXXXXXXX.npz.unreadable`, so that
        `latest_checkpoint` and the pruning in `save_checkpoint` no longer see it
        while the file stays available for inspection.

    Returns:
      The newest readable step, or None when no checkpoint is readable.
    """
    for step in reversed(list_checkpoints(checkpoint_dir)):
        path = checkpoint_path(checkpoint_dir, step)
        try:
            _read_checkpoint(path)
        except FileNotFoundError:
            continue
        except ValueError as e:
            logging.warning("%s; trying an older checkpoint", e)
            if set_aside_unreadable:
                aside = path.with_name(path.name + _UNREADABLE_SUFFIX)
                os.replace(path, aside)
                logging.warning("moved unreadable checkpoint %s to %s", path, aside)
            continue
        return step
    return None


def _restore_leaf(
    path: pathlib.Path,
    leaf_path: str,
    value: np.ndarray,
    stored_is_key: bool | None,
    leaf: Any,
) -> Any:
    """`value` checked against and converted like the target `leaf`."""
    is_key = _is_key(leaf)
    if stored_is_key is not None and stored_is_key != is_key:
        kinds = ("a plain array", "a PRNG key")
        raise ValueError(
            f"{path}: array {_shown(leaf_path)} is stored as {kinds[stored_is_key]} "
            f"but the state expects {kinds[is_key]}"
        )
    if is_key:
        expected = jax.eval_shape(jax.random.key_data, leaf)
    elif isinstance(leaf, jax.Array):
        expected = leaf
    else:
        expected = np.asarray(leaf)
    if value.shape != expected.shape or value.dtype != expected.dtype:
        raise ValueError(
            f"{path}: array {_shown(leaf_path)} has shape {value.shape} "
            f"{value.dtype}, the state expects shape {expected.shape} "
            f"{expected.dtype}"
        )
    if is_key:
        value = jax.random.wrap_key_data(value, impl=jax.random.key_impl(leaf))
    if isinstance(leaf, jax.Array):
        value = jax.device_put(value, leaf.sharding)
    return value


def restore_checkpoint(
    checkpoint_dir: str | os.PathLike[str], step: int, target: PyTree
) -> PyTree:
    """Restores the checkpoint of `step` into the structure of `target`.

    Leaves are matched by their `jax.tree_util.keystr` path. A leaf that is a
    `jax.Array` in `target` comes back as a `jax.Array` with the sharding of that
    leaf (`jax.device_put(value, leaf.sharding)`), typed PRNG keys with its key
    implementation; other leaves come back as NumPy arrays. Checkpoints that
    store their arrays by position only are restored in the order of `target`'s
    leaves.

    Args:
      checkpoint_dir: directory of the checkpoints.
      step: the step to restore.
      target: a pytree with the structure, shapes, dtypes and shardings of the
        state; only its metadata is read.

    Returns:
      A pytree with the structure of `target` holding the checkpointed values.

    Raises:
      FileNotFoundError: there is no checkpoint of `step`.
      ValueError: the checkpoint file is unreadable, or does not match the paths,
        shapes or dtypes of `target` (for example after a config or code
        change); the message names the checkpoint file and the paths concerned.
    """
    path = checkpoint_path(checkpoint_dir, step)
    stored = _read_checkpoint(path)
    flat, treedef = jax.tree_util.tree_flatten_with_path(target)
    target_paths = [jax.tree_util.keystr(key_path) for key_path, _ in flat]
    if stored.leaf_paths is None:
        if len(stored.arrays) != len(flat):
            raise ValueError(
                f"{path}: checkpoint has {len(stored.arrays)} arrays (stored by "
                f"position) but the state has {len(flat)}; was the config or the "
                "code changed since it was written?"
            )
        by_path = {
            p: (a, None) for p, a in zip(target_paths, stored.arrays, strict=True)
        }
    else:
        by_path = {
            p: (a, k)
            for p, a, k in zip(
                stored.leaf_paths, stored.arrays, stored.is_key, strict=True
            )
        }
        missing = [p for p in target_paths if p not in by_path]
        wanted = set(target_paths)
        extra = [p for p in stored.leaf_paths if p not in wanted]
        if missing or extra:
            problems = []
            if missing:
                problems.append(
                    f"state arrays not in the checkpoint: {_listed(missing)}"
                )
            if extra:
                problems.append(f"checkpoint arrays not in the state: {_listed(extra)}")
            raise ValueError(
                f"{path} does not match the state ({'; '.join(problems)}); was the "
                "config or the code changed since it was written?"
            )
    restored = [
        _restore_leaf(path, p, *by_path[p], leaf)
        for p, (_, leaf) in zip(target_paths, flat, strict=True)
    ]
    return jax.tree_util.tree_unflatten(treedef, restored)


def remove_tree(path: str | os.PathLike[str]) -> None:
    """Removes a directory tree if it exists."""
    shutil.rmtree(path, ignore_errors=True)
