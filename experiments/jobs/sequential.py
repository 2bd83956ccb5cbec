"""Sequential recommendation job: SASRec or GRU4Rec on leave-one-out sequences.

Stages:

1. `_model`: the backbone from `config.sequential`;
2. `train`: `trainers.fit_sequential` with early stopping on validation nDCG@10 (one
   metrics.jsonl line per evaluation; resumable from ``checkpoints/training``),
   then the test split;
3. `_floors`: popularity, the first-order Markov chain and, on the set view of the
   same split, EASE and ∞-AE (λ chosen on validation), all through the same
   evaluator with the same masking of history items.

Full ranking over all items; `config.sequential.mask_history` says whether the
user's history items are masked (results.json records it under `protocol`).
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import time
from typing import Any

import jax.numpy as jnp
import numpy as np
from absl import logging

from experiments import settings as settings_lib
from infinite_ae import evaluation, io, models, trainers
from infinite_ae.adapters import sequential as adapter_lib
from infinite_ae.models.markov import MarkovChain

REPORTED = ("ndcg", "recall", "mrr")
"""The metrics reported for sequential models (one held-out item: recall = hit)."""


def build_model(cfg: settings_lib.SequentialSettings, num_items: int):
    """The backbone of `config.sequential` (SASRec or GRU4Rec) over `num_items`."""
    if cfg.model == "sasrec":
        return trainers.SASRec(
            num_items=num_items,
            max_len=cfg.max_len,
            embedding_dim=cfg.embedding_dim,
            num_blocks=cfg.num_blocks,
            num_heads=cfg.num_heads,
            dropout_rate=cfg.dropout_rate,
            shared_embeddings=cfg.shared_embeddings,
        )
    return trainers.GRU4Rec(
        num_items=num_items,
        max_len=cfg.max_len,
        embedding_dim=cfg.embedding_dim,
        num_layers=cfg.num_blocks,
        dropout_rate=cfg.dropout_rate,
        shared_embeddings=cfg.shared_embeddings,
    )


def reported(metrics: dict[str, float], ks) -> dict[str, float]:
    return {f"{m}@{k}": float(metrics[f"{m}@{k}"]) for m in REPORTED for k in ks}


@dataclasses.dataclass(frozen=True)
class EpochCheckpoints:
    """`fit_sequential`'s checkpointer: snapshots under ``directory``.

    Each snapshot is ``meta_<epoch>.json`` (the loop's bookkeeping, written first)
    and ``step_<epoch>.npz`` (the state and the best parameters, `io`); the newest
    readable pair is restored and the two newest are kept.
    """

    directory: pathlib.Path

    def _meta(self, epoch: int) -> pathlib.Path:
        return self.directory / f"meta_{epoch:08d}.json"

    def save(self, epoch: int, arrays, meta: dict[str, Any]) -> None:
        io.atomic_write_json(self._meta(epoch), meta)
        io.save_checkpoint(self.directory, epoch, arrays, keep=2)
        kept = set(io.list_checkpoints(self.directory))
        for path in self.directory.glob("meta_*.json"):
            if int(path.stem.split("_")[1]) not in kept:
                path.unlink(missing_ok=True)

    def restore(self, target):
        epoch = io.latest_valid_checkpoint(self.directory)
        if epoch is None or not self._meta(epoch).exists():
            return None
        arrays = io.restore_checkpoint(self.directory, epoch, target)
        return epoch, arrays, json.loads(self._meta(epoch).read_text())


def train(
    cfg: settings_lib.SequentialSettings,
    sequences,
    *,
    seed: int,
    writer=None,
    train_sequences=None,
    tag: str | None = None,
    checkpoint_dir: pathlib.Path | None = None,
    model=None,
):
    """Fits the configured backbone (or ``model``, e.g. a `TextSASRec`, with the
    configured training); returns (model, `SequentialFitResult`).

    With ``checkpoint_dir`` the training is resumable (`EpochCheckpoints`).
    """
    model = build_model(cfg, sequences.num_items) if model is None else model

    def log_fn(epoch: int, record: dict[str, float]) -> None:
        if writer is not None:
            scalars = {k: v for k, v in record.items() if k != "epoch"}
            writer.write_scalars(
                epoch + 1, {"train/loss": scalars.pop("loss"), **scalars}
            )

    result = trainers.fit_sequential(
        model,
        sequences,
        loss=cfg.loss,
        num_negatives=cfg.num_negatives,
        gbce_t=cfg.gbce_t,
        learning_rate=cfg.learning_rate,
        batch_size=cfg.batch_size,
        min_batches_per_epoch=cfg.min_batches_per_epoch,
        max_epochs=cfg.max_epochs,
        patience=cfg.patience,
        eval_every=cfg.eval_every,
        seed=seed,
        mask_history=cfg.mask_history,
        ks=cfg.ks,
        log_fn=log_fn,
        progress=tag or cfg.model,
        train_sequences=train_sequences,
        checkpointer=None
        if checkpoint_dir is None
        else EpochCheckpoints(checkpoint_dir),
    )
    return model, result


def floors(
    settings: settings_lib.Settings, sequences, names=None
) -> dict[str, dict[str, float]]:
    """Test metrics of the quality floors on the same split and protocol."""
    cfg = settings.sequential
    interactions = sequences.to_interactions()
    # The protocol of `trainers.evaluate_sequential`: averages over evaluated users.
    common = dict(
        ks=cfg.ks,
        psp=False,
        mask="query" if cfg.mask_history else "none",
        average="evaluated",
    )
    results = {}
    for name in cfg.floors if names is None else names:
        if name == "markov":
            scorer = MarkovChain().fit(sequences).scorer(sequences, split="test")
        elif name == "popularity":
            scorer = models.Popularity().fit(interactions).score
        else:
            scorer = _closed_form(name, settings, interactions).score
        test = evaluation.evaluate(scorer, interactions, split="test", **common)
        results[name] = reported(test, cfg.ks)
    return results


def _closed_form(name: str, settings: settings_lib.Settings, interactions):
    """EASE or ∞-AE on the set view, λ chosen on validation `model.select_metric`."""
    model_settings = settings.model
    dtype = jnp.float64 if model_settings.dtype == "float64" else jnp.float32
    select = dict(metric=model_settings.select_metric, ks=settings.eval.ks)
    if name == "ease":
        model = models.EASE(dtype=dtype)
        return model.select_reg(
            interactions, grid=model_settings.ease_reg_grid, **select
        )
    model = models.InfiniteAE(
        model_settings.kernel.spec(),
        absolute_reg=model_settings.absolute_reg,
        dtype=dtype,
    )
    return model.select_reg(interactions, grid=model_settings.reg_grid, **select)


def run(settings: settings_lib.Settings, sequences, ctx) -> dict[str, Any]:
    """Trains and tests the sequential model and its floors; returns results."""
    cfg = settings.sequential
    timings = {}
    t0 = time.perf_counter()
    model, result = train(
        cfg,
        sequences,
        seed=settings.seed,
        writer=ctx.writer,
        checkpoint_dir=ctx.checkpoint_dir / "training",
    )
    timings["train"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    floor_results = floors(settings, sequences)
    timings["floors"] = time.perf_counter() - t0
    return {
        "test": reported(result.test, cfg.ks),
        "val": reported(result.val, cfg.ks),
        "best_epoch": result.best_epoch,
        "epochs": result.epochs,
        "floors": floor_results,
        "protocol": {
            "split": "leave-one-out by time",
            "ranking": "full, all items",
            "mask_history": cfg.mask_history,
            "average": "users with a held-out item",
        },
        "model": {"name": model.name, "loss": cfg.loss, "max_len": cfg.max_len},
        "throughput": {
            "epoch_seconds": result.epoch_seconds,
            "tokens_per_second": result.tokens_per_second,
            "tokens_per_epoch": result.tokens_per_epoch,
        },
        "timings": timings,
        "num_users_evaluated": int(np.asarray(result.test["num_users"])),
    }


def train_recorded(
    settings: settings_lib.Settings,
    sequences,
    train_sequences,
    workdir: pathlib.Path,
    name: str,
    model=None,
) -> dict[str, Any]:
    """`train` on ``train_sequences``, validated and tested on the real
    ``sequences``; the record is stored as ``trained/<name>.json`` (a rerun loads
    it) and the training resumes from ``checkpoints/trained/<name>``."""
    path = workdir / "trained" / f"{name}.json"
    if path.exists():
        logging.info("%s: loaded the finished result from %s", name, path)
        return json.loads(path.read_text())
    cfg = settings.sequential
    t0 = time.perf_counter()
    checkpoint_dir = workdir / "checkpoints" / "trained" / name
    _, result = train(
        cfg,
        sequences,
        seed=settings.seed,
        train_sequences=train_sequences,
        tag=name,
        checkpoint_dir=checkpoint_dir,
        model=model,
    )
    record = {
        "test": reported(result.test, cfg.ks),
        "val": reported(result.val, cfg.ks),
        "best_epoch": result.best_epoch,
        "epochs": result.epochs,
        "train_sequences": train_sequences.num_users,
        "train_tokens_per_epoch": result.tokens_per_epoch,
        "seconds": time.perf_counter() - t0,
    }
    io.atomic_write_json(path, record)
    io.remove_tree(checkpoint_dir)  # the finished result replaces the snapshots
    return record


def train_baselines(
    settings: settings_lib.Settings,
    sequences,
    budget: int,
    kinds,
    rng,
    workdir: pathlib.Path,
    model=None,
    embeddings=None,
) -> dict[str, dict[str, Any]]:
    """`train_recorded` on `budget` real users of each baseline kind
    (`adapters.sequential.baseline_users`, drawn with ``rng``; the coreset kinds
    select on ``embeddings`` [U, d]), stored as ``<kind>_<budget>``; a kind the
    data cannot give (most_recent without timestamps) is skipped with a warning."""
    out = {}
    for kind in kinds:
        try:
            users = adapter_lib.baseline_users(
                sequences, budget, kind=kind, rng=rng, embeddings=embeddings
            )
        except ValueError as error:
            logging.warning("baseline %s skipped: %s", kind, error)
            continue
        out[kind] = train_recorded(
            settings,
            sequences,
            sequences.subset(users),
            workdir,
            f"{kind}_{budget}",
            model,
        )
    return out
