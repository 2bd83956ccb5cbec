"""Run artefacts: JSONL metric logs, atomic JSON/NPZ writes and pytree checkpoints.

Every write goes to a temporary file in the destination directory followed by
`os.replace`, so a killed process never leaves a half-written artefact behind.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import pathlib
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from typing import Any

import jax
import numpy as np

from infinite_ae.types import PyTree

_CHECKPOINT_RE = re.compile(r"^step_(\d{8})\.npz$")


@contextlib.contextmanager
def _atomic_path(path: str | os.PathLike[str], suffix: str = "") -> Iterator[str]:
    """Yields a temporary path beside `path`, moved onto it if the body succeeds."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(fd)
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


def save_checkpoint(
    checkpoint_dir: str | os.PathLike[str], step: int, tree: PyTree, *, keep: int = 2
) -> pathlib.Path:
    """Saves a pytree of arrays as `step_XXXXXXXX.npz` atomically; keeps the newest.

    Typed PRNG keys are stored as their raw key data and restored by
    `restore_checkpoint` from the structure of the target pytree.

    Args:
      checkpoint_dir: directory of the checkpoints.
      step: the step the state belongs to.
      tree: any pytree whose leaves are arrays or scalars.
      keep: how many of the newest checkpoints to keep.

    Returns:
      The path of the written checkpoint.
    """
    checkpoint_dir = pathlib.Path(checkpoint_dir)
    leaves = jax.tree_util.tree_leaves(tree)
    arrays = {}
    for i, leaf in enumerate(leaves):
        if isinstance(leaf, jax.Array) and jax.dtypes.issubdtype(
            leaf.dtype, jax.dtypes.prng_key
        ):
            leaf = jax.random.key_data(leaf)
        arrays[f"leaf_{i:05d}"] = np.asarray(leaf)
    path = checkpoint_dir / f"step_{step:08d}.npz"
    atomic_save_npz(path, __num_leaves__=np.asarray(len(leaves)), **arrays)
    for old in list_checkpoints(checkpoint_dir)[:-keep] if keep > 0 else []:
        (checkpoint_dir / f"step_{old:08d}.npz").unlink(missing_ok=True)
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
    """The newest checkpointed step, or None when there is none."""
    steps = list_checkpoints(checkpoint_dir)
    return steps[-1] if steps else None


def restore_checkpoint(
    checkpoint_dir: str | os.PathLike[str], step: int, target: PyTree
) -> PyTree:
    """Restores the checkpoint of `step` into the structure of `target`.

    Raises:
      ValueError: the checkpoint does not match the structure, shapes or dtypes
        of `target` (for example after a config change).
    """
    path = pathlib.Path(checkpoint_dir) / f"step_{step:08d}.npz"
    leaves, treedef = jax.tree_util.tree_flatten(target)
    with np.load(path) as f:
        stored = int(f["__num_leaves__"])
        if stored != len(leaves):
            raise ValueError(
                f"{path}: checkpoint has {stored} arrays but the state has "
                f"{len(leaves)}; was the config changed since it was written?"
            )
        restored = []
        for i, leaf in enumerate(leaves):
            value = f[f"leaf_{i:05d}"]
            is_key = isinstance(leaf, jax.Array) and jax.dtypes.issubdtype(
                leaf.dtype, jax.dtypes.prng_key
            )
            expected = jax.random.key_data(leaf) if is_key else np.asarray(leaf)
            if value.shape != expected.shape or value.dtype != expected.dtype:
                raise ValueError(
                    f"{path}: array {i} has shape {value.shape} {value.dtype}, the "
                    f"state expects {expected.shape} {expected.dtype}"
                )
            if is_key:
                value = jax.random.wrap_key_data(value, impl=jax.random.key_impl(leaf))
            elif isinstance(leaf, jax.Array):
                value = jax.numpy.asarray(value)
            restored.append(value)
    return jax.tree_util.tree_unflatten(treedef, restored)


def remove_tree(path: str | os.PathLike[str]) -> None:
    """Removes a directory tree if it exists."""
    shutil.rmtree(path, ignore_errors=True)
