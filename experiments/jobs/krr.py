"""Closed-form recommenders: ∞-AE (kernel ridge regression), EASE and popularity.

The regulariser is chosen on validation (`config.model.select_metric`, HR@100 as
the paper), then the chosen model is evaluated once on test.
"""

from __future__ import annotations

import time
from typing import Any

import jax
import ml_collections
import numpy as np
from absl import logging

from infinite_ae import evaluation, kernels, metrics, models
from infinite_ae.data import Interactions


def kernel_spec(kernel_config: ml_collections.ConfigDict) -> kernels.KernelSpec:
    """`config.model.kernel` -> `KernelSpec`."""
    return kernels.KernelSpec(
        kind=kernel_config.kind,
        depth=int(kernel_config.depth),
        w_std=float(kernel_config.w_std),
        b_std=float(kernel_config.b_std),
    )


def model_dtype(config: ml_collections.ConfigDict) -> Any:
    """The solve dtype; float64 switches JAX to 64-bit mode first."""
    if config.model.dtype == "float64":
        jax.config.update("jax_enable_x64", True)
        return jax.numpy.float64
    if config.model.dtype != "float32":
        raise ValueError(
            f"config.model.dtype={config.model.dtype!r}; valid: float32, float64"
        )
    return jax.numpy.float32


def auc_negatives(config: ml_collections.ConfigDict, data: Interactions, seed: int):
    """The pooled-AUC negatives, drawn once per user with an explicit generator."""
    if not config.eval.auc_negatives:
        return None
    return metrics.sample_auc_negatives(
        data.train,
        data.test,
        num=int(config.eval.auc_negatives),
        rng=np.random.default_rng([seed, 1]),
    )


def run(config: ml_collections.ConfigDict, data: Interactions, ctx) -> dict[str, Any]:
    """Fits the configured closed-form model, selects λ on validation, tests once."""
    timings = {}
    start = time.perf_counter()
    negatives = auc_negatives(config, data, ctx.seed)
    timings["auc_negatives"] = time.perf_counter() - start
    eval_kwargs = {"ks": tuple(config.eval.ks)}
    batch_size = int(config.eval.batch_size)
    dtype = model_dtype(config)

    start = time.perf_counter()
    if config.method == "infinite_ae":
        model = models.InfiniteAE(
            kernel_spec(config.model.kernel),
            absolute_reg=config.model.absolute_reg,
            dtype=dtype,
        )
        model.select_reg(
            data,
            grid=tuple(config.model.reg_grid),
            metric=config.model.select_metric,
            batch_size=batch_size,
            **eval_kwargs,
        )
    elif config.method == "ease":
        model = models.EASE(dtype=dtype)
        model.select_reg(
            data,
            grid=tuple(config.model.ease_reg_grid),
            metric=config.model.select_metric,
            batch_size=batch_size,
            **eval_kwargs,
        )
    elif config.method == "popularity":
        model = models.Popularity().fit(data.train)
    else:
        raise ValueError(f"experiments.jobs.krr cannot run method {config.method!r}")
    timings["fit_and_select"] = time.perf_counter() - start

    val_by_reg = getattr(model, "val_metrics_", {}) or {}
    for step, (reg, val) in enumerate(val_by_reg.items()):
        ctx.writer.write_scalars(
            step, {"reg": reg, **{f"val/{k}": v for k, v in val.items()}}
        )
    chosen = getattr(model, "reg_", None)
    if chosen is not None:
        logging.info("chosen regulariser %g", chosen)

    start = time.perf_counter()
    test = evaluation.evaluate(
        model.score,
        data,
        split="test",
        batch_size=batch_size,
        negatives=negatives,
        **eval_kwargs,
    )
    timings["test"] = time.perf_counter() - start
    results: dict[str, Any] = {"test": test}
    if chosen is not None:
        results["reg"] = chosen
        results["val"] = val_by_reg[chosen]
        results["val_by_reg"] = {str(reg): val for reg, val in val_by_reg.items()}
        results["selection"] = model.selection_
    results["timings"] = timings
    return results
