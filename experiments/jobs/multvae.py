"""Mult-VAE job: train on the training rows, keep the epoch best on validation.

Stages: training with early stopping on validation `config.model.select_metric`
(one metrics.jsonl line per evaluation), then one test evaluation of the kept
parameters, its AUC against the shared `auc_negatives` stream.
"""

from __future__ import annotations

import time
from typing import Any

from experiments import settings as settings_lib
from experiments import streams as streams_lib
from experiments.jobs import krr
from infinite_ae.data import Interactions
from infinite_ae.trainers import multvae

STREAMS = streams_lib.StreamTable(numpy={})
"""The job's random streams: only the shared AUC negatives (keys come from seed)."""


def train(
    settings: settings_lib.Settings,
    rows: Any,
    data: Interactions,
    *,
    negatives=None,
    log_fn=None,
    progress: str | None = None,
):
    """Mult-VAE (`config.multvae`) trained on ``rows``, validated on ``data``."""
    cfg = settings.multvae
    return multvae.fit(
        cfg.model(),
        rows,
        data,
        max_epochs=cfg.max_epochs,
        patience=cfg.patience,
        eval_every=cfg.eval_every,
        seed=settings.seed,
        metric=settings.model.select_metric,
        ks=settings.eval.ks,
        negatives=negatives,
        log_fn=log_fn,
        progress=progress,
    )


def run(settings: settings_lib.Settings, data: Interactions, ctx) -> dict[str, Any]:
    """Trains Mult-VAE on the full training rows and tests the kept epoch."""
    streams = streams_lib.Streams(STREAMS, settings.seed)
    negatives = krr.auc_negatives(settings.eval, data, streams)
    t0 = time.perf_counter()
    result = train(
        settings,
        data.train,
        data,
        negatives=negatives,
        log_fn=ctx.writer.write_scalars,
        progress="multvae",
    )
    return {
        "test": result.test,
        "val": result.val,
        "best_epoch": result.best_epoch,
        "epochs": result.epochs,
        "timings": {
            "train_and_select": time.perf_counter() - t0,
            "epoch": result.epoch_seconds,
        },
    }
