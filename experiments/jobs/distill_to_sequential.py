"""Distill-CF -> sequential adapter -> SASRec/GRU4Rec, against equal-budget baselines.

For each budget (a fraction of the real users, `config.adapter.budgets`):

1. `_distill`: Distill-CF (`config.distill`, S = budget · U synthetic users) on the
   set view of the training prefixes, checkpointed under
   ``checkpoints/budget_<S>`` so a killed run resumes;
2. `_adapt`: the kept summary becomes training sequences
   (`adapters.sequential.to_sequences`: discretised rows or sampled item sets,
   ordered by `config.adapter.ordering`);
3. `_train_on`: the sequential model (`config.sequential`) trained on those
   sequences, validated and tested on the REAL validation and test next items;
4. the same model trained on S real users' sequences for each baseline
   (random users, the longest, the most recent).

With `config.adapter.full_data` the model is also trained on every real sequence:
the reference of ``retention`` (distilled / full data). Each trained result is
stored under the workdir (``trained/<name>.json``) as it finishes, so a resumed run
skips it; a training in progress resumes from its epoch snapshots
(``checkpoints/trained/<name>``).
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np

from experiments import settings as settings_lib
from experiments import streams as streams_lib
from experiments.jobs import distill_cf, sequential
from infinite_ae import io
from infinite_ae.adapters import sequential as adapter_lib
from infinite_ae.distill import export

STREAMS = streams_lib.StreamTable(
    numpy={"discretize": 8, "adapt": 9, "baselines": 10, "lengths": 11}
)
"""The job's own random streams (Distill-CF keeps its own table)."""


def _budget_users(fraction: float, num_users: int) -> int:
    return max(1, int(round(fraction * num_users)))


def _distill(settings: settings_lib.Settings, interactions, ctx, num_users: int):
    """Stage 1: Distill-CF with S synthetic users; (support, logits, best step)."""
    budget_settings = dataclasses.replace(
        settings, distill=dataclasses.replace(settings.distill, num_users=num_users)
    )
    checkpoint_dir = ctx.checkpoint_dir / f"budget_{num_users}"
    resume_step = io.latest_valid_checkpoint(checkpoint_dir)
    sub_ctx = dataclasses.replace(
        ctx,
        checkpoint_dir=checkpoint_dir,
        resume_step=resume_step,
        writer=io.MetricWriter(
            ctx.workdir / f"distill_{num_users}.jsonl",
            resume_from_step=-1 if resume_step is None else resume_step,
        ),
    )
    _, carry, stats, timings, _ = distill_cf.distill(
        budget_settings, interactions, sub_ctx
    )
    support = np.asarray(carry["best_support"], np.float32)
    logits = np.asarray(carry["best_logits"], np.float32)
    return support, logits, int(carry["best_step"]), timings


def _adapt(settings, sequences, support, logits, streams, num_users: int):
    """Stage 2: the summary as training sequences over the real items."""
    cfg = settings.adapter
    rows = support
    discretized = cfg.num_sequences == 1 or cfg.sets == "kept"
    if discretized and cfg.discretize == "topk" and cfg.length == "real":
        eligible = sequences.lengths[sequences.lengths >= 2]
        lengths = streams.rng("lengths", num_users).choice(eligible, len(support))
        rows = adapter_lib.top_items(support, lengths)
    elif discretized:
        rows = export.binarize(
            support,
            logits,
            mode=cfg.discretize,
            rng=streams.rng("discretize", num_users),
            num_samples=settings.distill.num_samples,
            threshold=settings.distill.threshold,
        )
    return adapter_lib.to_sequences(
        rows,
        sequences,
        ordering=cfg.ordering,
        num_sequences=cfg.num_sequences,
        sets=cfg.sets,
        rng=streams.rng("adapt", num_users),
        name=f"distilled_{num_users}",
    )


def _budget(settings, sequences, interactions, ctx, streams, fraction: float):
    """All runs at one budget: distilled, then each equal-budget baseline."""
    num_users = _budget_users(fraction, sequences.num_users)
    support, logits, best_step, timings = _distill(
        settings, interactions, ctx, num_users
    )
    adapted = _adapt(settings, sequences, support, logits, streams, num_users)
    out = {
        "num_users": num_users,
        "fraction": fraction,
        "distill_best_step": best_step,
        "distill_seconds": timings["distillation"],
        "adapted_sequences": adapted.num_users,
        "adapted_mean_length": float(adapted.lengths.mean()),
        "distilled": sequential.train_recorded(
            settings, sequences, adapted, ctx.workdir, f"distilled_{num_users}"
        ),
        "baselines": sequential.train_baselines(
            settings,
            sequences,
            num_users,
            settings.adapter.baselines,
            streams.rng("baselines", num_users),
            ctx.workdir,
        ),
    }
    return out


def _summary(settings, per_budget, full) -> dict[str, Any]:
    """`test`, `retention` and `baselines` keyed like 'retention/sasrec/ndcg@10'."""
    model = settings.sequential.model
    first = per_budget[0]
    results = {"test": first["distilled"]["test"], "retention": {}, "baselines": {}}
    for metric, value in first["distilled"]["test"].items():
        if full is not None and full["test"][metric] > 0:
            results["retention"][f"retention/{model}/{metric}"] = (
                value / full["test"][metric]
            )
    for kind, record in first["baselines"].items():
        for metric, value in record["test"].items():
            results["baselines"][f"baselines/{kind}/{metric}"] = value
    return results


def run(settings: settings_lib.Settings, sequences, ctx) -> dict[str, Any]:
    """Distils, adapts and trains at every budget; see the module docstring."""
    streams = streams_lib.Streams(STREAMS, settings.seed)
    interactions = sequences.to_interactions()
    timings = {}
    full = None
    if settings.adapter.full_data:
        t0 = time.perf_counter()
        full = sequential.train_recorded(
            settings, sequences, sequences, ctx.workdir, "full_data"
        )
        timings["full_data"] = time.perf_counter() - t0
    per_budget = []
    for fraction in settings.adapter.budgets:
        t0 = time.perf_counter()
        per_budget.append(
            _budget(settings, sequences, interactions, ctx, streams, fraction)
        )
        timings[f"budget_{fraction:g}"] = time.perf_counter() - t0
    return {
        **_summary(settings, per_budget, full),
        "full_data": full,
        "per_budget": per_budget,
        "adapter": dataclasses.asdict(settings.adapter),
        "protocol": {
            "split": "leave-one-out by time",
            "mask_history": settings.sequential.mask_history,
            "average": "users with a held-out item",
        },
        "timings": timings,
    }
