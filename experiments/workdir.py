"""Run directories: refuse another config's workdir, clear it, find where to resume.

A workdir holds one run: `config.json` (written first), `metrics.jsonl`,
`results.json` (carrying the config hash) and `checkpoints/`. `prepare_workdir`
refuses a workdir written by a different config unless asked to overwrite it, and
`find_resume_step` returns the newest checkpoint that can be read.
"""

from __future__ import annotations

import hashlib
import json
import pathlib
import shutil
from typing import Any

import ml_collections
from absl import logging

from infinite_ae import io


def config_hash(config: ml_collections.ConfigDict) -> str:
    """Short sha256 of the config's canonical JSON."""
    text = json.dumps(io.to_jsonable(config.to_dict()), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


_RUN_MARKERS = ("config.json", "results.json", "metrics.jsonl", "checkpoints")
"""Entries whose presence marks a directory as the workdir of a run."""


def _read_json(path: pathlib.Path, workdir: pathlib.Path) -> Any:
    """The JSON in `path`; an unreadable file is refused like a different run's."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(
            f"workdir {workdir} holds {path.name}, which cannot be read ({e}), so "
            "the run that wrote it is unknown. Pass --overwrite to replace that "
            "run, or pick a fresh --workdir."
        ) from e


def check_workdir(
    workdir: str | pathlib.Path, config: ml_collections.ConfigDict
) -> None:
    """Refuses a workdir that holds the artefacts of a different config.

    `config.json` must equal `config`, the `config_hash` in `results.json` must be
    the hash of `config`, and checkpoints need a `config.json` beside them that
    says which config wrote them. A workdir without those files passes.

    Args:
      workdir: the run's output directory.
      config: the config about to run there.

    Raises:
      ValueError: the workdir holds another config's `config.json` or
        `results.json`, one of them is unreadable, or it holds checkpoints but no
        `config.json`. The message names the workdir, the file and the differing
        config fields, and says to pass `--overwrite` or pick a fresh `--workdir`.
    """
    workdir = pathlib.Path(workdir)
    remedy = "Pass --overwrite to replace that run, or pick a fresh --workdir."
    config_path = workdir / "config.json"
    if config_path.exists():
        old = _read_json(config_path, workdir)
        new = io.to_jsonable(config.to_dict())
        if old != new:
            raise ValueError(
                f"workdir {workdir} holds the run of a different config: "
                f"{config_path} differs in {_describe_diff(old, new)}. {remedy}"
            )
    elif io.list_checkpoints(workdir / "checkpoints"):
        raise ValueError(
            f"workdir {workdir} holds checkpoints in {workdir / 'checkpoints'} but "
            "no config.json, so the config that wrote them is unknown. " + remedy
        )
    results_path = workdir / "results.json"
    if results_path.exists():
        results = _read_json(results_path, workdir)
        old_hash = results.get("config_hash") if isinstance(results, dict) else None
        new_hash = config_hash(config)
        if old_hash != new_hash:
            raise ValueError(
                f"workdir {workdir} holds the results of a different config: "
                f"{results_path} has config_hash {old_hash}, this config hashes to "
                f"{new_hash} (the differing fields are unknown: results.json "
                f"stores only the hash). {remedy}"
            )


def _describe_diff(old: Any, new: Any) -> str:
    """`field (old -> new), ...` for at most ten differing fields."""
    fields = sorted(_diff_keys(old, new))
    parts = []
    for field in fields[:10]:
        before, after = _lookup(old, field), _lookup(new, field)
        parts.append(f"{field or '<root>'} ({before!r} -> {after!r})")
    more = f" and {len(fields) - 10} more" if len(fields) > 10 else ""
    return "fields " + ", ".join(parts) + more


def _lookup(tree: Any, field: str) -> Any:
    """The value at dotted `field` of nested dicts; `<missing>` where absent."""
    for part in field.split(".") if field else []:
        if not isinstance(tree, dict) or part not in tree:
            return "<missing>"
        tree = tree[part]
    return tree


def clear_workdir(workdir: str | pathlib.Path) -> list[pathlib.Path]:
    """Removes the artefacts of a previous run from `workdir`, logging them.

    A directory that holds `config.json`, `results.json`, `metrics.jsonl` or
    `checkpoints/` is a run's workdir, and everything in it was written by that
    run: all of its entries are removed. Any other directory is left as it is, so
    pointing `--workdir` at an unrelated directory never deletes files.

    Args:
      workdir: the run's output directory.

    Returns:
      The removed entries, sorted.
    """
    workdir = pathlib.Path(workdir)
    if not workdir.is_dir():
        return []
    entries = sorted(workdir.iterdir())
    if not any((workdir / name).exists() for name in _RUN_MARKERS):
        if entries:
            logging.warning(
                "--overwrite: %s holds no run artefacts (%s); leaving its %d "
                "entries in place",
                workdir,
                ", ".join(_RUN_MARKERS),
                len(entries),
            )
        return []
    logging.warning(
        "--overwrite: removing the previous run in %s: %s",
        workdir,
        ", ".join(e.name + ("/" if e.is_dir() else "") for e in entries),
    )
    for entry in entries:
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    return entries


def prepare_workdir(
    workdir: str | pathlib.Path,
    config: ml_collections.ConfigDict,
    *,
    overwrite: bool = False,
) -> None:
    """Makes `workdir` ready for a run of `config` and writes its `config.json`.

    Args:
      workdir: the run's output directory; created if missing.
      config: the config about to run.
      overwrite: remove the artefacts of a previous run first (`clear_workdir`),
        whatever its config; the run then starts from scratch. Without it, a
        workdir of a different config is refused (`check_workdir`) and one of the
        same config is reused, so its checkpoints resume.

    Raises:
      ValueError: see `check_workdir` (only without `overwrite`).
    """
    workdir = pathlib.Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    if overwrite:
        clear_workdir(workdir)
    else:
        check_workdir(workdir, config)
    io.atomic_write_json(workdir / "config.json", config.to_dict())


def find_resume_step(checkpoint_dir: str | pathlib.Path) -> int | None:
    """The newest readable checkpointed step, or None for a fresh run.

    Unreadable newer checkpoints are logged and set aside
    (`io.latest_valid_checkpoint(..., set_aside_unreadable=True)`), so the job,
    which lists and prunes checkpoints itself, sees the same newest step.
    """
    return io.latest_valid_checkpoint(checkpoint_dir, set_aside_unreadable=True)


def _diff_keys(a: Any, b: Any, prefix: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        keys = set(a) | set(b)
        return [
            d for k in keys for d in _diff_keys(a.get(k), b.get(k), f"{prefix}{k}.")
        ]
    return [] if a == b else [prefix.rstrip(".")]
