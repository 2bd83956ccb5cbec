"""Closed-form recommenders: ∞-AE (kernel ridge regression), EASE and popularity.

Stages: the regulariser is chosen on validation (`config.model.select_metric`, HR@100
as the paper; a λ whose fit is not finite is logged and skipped), then the chosen
model is evaluated once on test, its AUC against the shared `auc_negatives` stream.
"""

from __future__ import annotations

import time
from typing import Any

import jax.numpy as jnp
import numpy as np
from absl import logging

from experiments import settings as settings_lib
from experiments import streams as streams_lib
from infinite_ae import evaluation, metrics, models
from infinite_ae.data import Interactions

STREAMS = streams_lib.StreamTable(numpy={})
"""The job's random streams: only the shared AUC negatives."""


def auc_negatives(
    eval_settings: settings_lib.EvalSettings,
    data: Interactions,
    streams: streams_lib.Streams,
) -> np.ndarray | None:
    """The pooled-AUC negatives of every job: drawn once per user from the shared
    `auc_negatives` stream (None when `config.eval.auc_negatives` is 0)."""
    if not eval_settings.auc_negatives:
        return None
    return metrics.sample_auc_negatives(
        data.train,
        data.test,
        num=eval_settings.auc_negatives,
        rng=streams.rng("auc_negatives"),
    )


def _fit_and_select(settings: settings_lib.Settings, data: Interactions):
    """The model with its λ chosen on validation (popularity has no λ)."""
    model_settings = settings.model
    dtype = jnp.float64 if model_settings.dtype == "float64" else jnp.float32
    common = dict(
        metric=model_settings.select_metric,
        batch_size=settings.eval.batch_size,
        ks=settings.eval.ks,
    )
    if settings.method == "infinite_ae":
        model = models.InfiniteAE(
            model_settings.kernel.spec(),
            absolute_reg=model_settings.absolute_reg,
            dtype=dtype,
        )
        return model.select_reg(data, grid=model_settings.reg_grid, **common)
    if settings.method == "ease":
        model = models.EASE(dtype=dtype)
        return model.select_reg(data, grid=model_settings.ease_reg_grid, **common)
    return models.Popularity().fit(data.train)


def _log_validation(model, writer) -> dict[str, Any]:
    """Writes one metrics.jsonl line per λ; returns the selection results."""
    val_by_reg = getattr(model, "val_metrics_", {}) or {}
    for step, (reg, val) in enumerate(val_by_reg.items()):
        writer.write_scalars(
            step, {"reg": reg, **{f"val/{k}": v for k, v in val.items()}}
        )
    chosen = getattr(model, "reg_", None)
    if chosen is None:
        return {}
    logging.info("chosen regulariser %g", chosen)
    return {
        "reg": chosen,
        "val": val_by_reg[chosen],
        "val_by_reg": {str(reg): val for reg, val in val_by_reg.items()},
        "selection": model.selection_,
    }


def run(settings: settings_lib.Settings, data: Interactions, ctx) -> dict[str, Any]:
    """Fits the configured closed-form model, selects λ on validation, tests once."""
    streams = streams_lib.Streams(STREAMS, settings.seed)
    timings = {}
    start = time.perf_counter()
    negatives = auc_negatives(settings.eval, data, streams)
    timings["auc_negatives"] = time.perf_counter() - start

    start = time.perf_counter()
    model = _fit_and_select(settings, data)
    timings["fit_and_select"] = time.perf_counter() - start
    selection = _log_validation(model, ctx.writer)

    start = time.perf_counter()
    test = evaluation.evaluate(
        model.score,
        data,
        split="test",
        ks=settings.eval.ks,
        negatives=negatives,
        progress="test",
        **settings.eval.batching(),
    )
    timings["test"] = time.perf_counter() - start
    return {"test": test, **selection, "timings": timings}
