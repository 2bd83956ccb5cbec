"""Distill-CF job: distil the train matrix into S synthetic users, test ∞-AE on them.

Stateful shell around `infinite_ae.distill`, in named stages:

1. `_set_up`: the static spec, optimiser, initial summary, user batches, λ grids;
2. `_start`: restore the newest checkpoint, or validate the initialisation;
3. `_train_loop`: jitted outer steps on streamed user batches, validation on a
   schedule with the training λ re-selected, the best sample kept, early stopping,
   checkpoints, progress bar and log lines;
4. `_evaluate_support`: ∞-AE on the kept summary, λ chosen on validation, then test;
5. `_export`: `distilled.npz` / `.inter` / `.csv` under the workdir;
6. `_baselines`: the same evaluation on real-user baselines of the same budget;
7. `_compare`: with `distill.compare`, ∞-AE / EASE / Mult-VAE / BPR-MF / LightGCN
   trained on the full data, the summary and random users of the same budget, with
   fit times and speed-ups (`experiments/jobs/compare.py`; a table and
   `compare.png`).

Randomness comes from the named streams of `STREAMS`: the Gumbel key of step t is
``fold_in(key("gumbel"), t)``, the validation key ``fold_in(key("val_gumbel"), t)``
and the user batch of step t ``rng("batches", t)``, so a resumed run repeats an
uninterrupted one exactly.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse as sp
from absl import logging

from experiments import plots
from experiments import settings as settings_lib
from experiments import streams as streams_lib
from experiments.jobs import compare as compare_lib
from experiments.jobs import krr
from infinite_ae import distill as distill_lib
from infinite_ae import evaluation, io, progress, solver
from infinite_ae.data.interactions import Interactions, rows_to_dense
from infinite_ae.distill import baselines, export, validation

STREAMS = streams_lib.StreamTable(
    numpy={
        "init": 1,
        "batches": 2,
        "val_users": 3,
        "export": 4,
        "baselines": 5,
        "compare_rows": 7,
    },
    jax={"gumbel": 0, "val_gumbel": 1},
)
"""The job's random streams (plus the shared `auc_negatives`)."""

# Test hook: called with the step number after every completed step (and its
# checkpoint). Tests raise from it to simulate a run killed mid-way.
_after_step_hook: Callable[[int], None] | None = None

_DENSE_CACHE_BYTES = 2 * 1024**3

# Jitted once per process with the static settings as static arguments, so repeated
# runs in one process (tests, benchmarks) reuse the compiled steps.
_update = jax.jit(
    distill_lib.update, static_argnames=("spec", "optimizer"), donate_argnums=0
)
_sample = jax.jit(distill_lib.sample_support, static_argnames=("spec",))
_sweep_sums = jax.jit(validation.reg_sweep_sums, static_argnames=("learner", "ks"))


@functools.cache
def _optimizer(learning_rate: float, decay_steps: int, final_fraction: float):
    return distill_lib.make_optimizer(
        learning_rate, decay_steps=decay_steps, final_fraction=final_fraction
    )


def _initial_rows(
    cfg: settings_lib.DistillSettings, data: Interactions, rng: np.random.Generator
) -> np.ndarray:
    if cfg.init == "random_noise":
        return rng.standard_normal((cfg.num_users, data.num_items)).astype(np.float32)
    return np.asarray(_baseline_rows(cfg.init, data, cfg.num_users, rng).toarray())


def _baseline_rows(name, data, budget, rng) -> sp.csr_matrix:
    """[budget, I] rows of a real-data baseline (`distill.baselines`)."""
    if name == "random_users":
        return baselines.random_users(data.train, budget, rng=rng)[0]
    if name == "head_users":
        return baselines.head_users(data.train, budget)[0]
    return baselines.random_interactions(data.train, budget, rng=rng)


class _UserBatches:
    """Fixed-size, padded user batches of dense rows; cached on device when small."""

    def __init__(self, matrices: list[sp.csr_matrix], batch_size: int):
        num_users = matrices[0].shape[0]
        self.batch_size = num_users if batch_size <= 0 else min(batch_size, num_users)
        self.num_users = num_users
        self.matrices = matrices
        size = sum(m.shape[0] * m.shape[1] * 4 for m in matrices)
        self.cache = [] if size <= _DENSE_CACHE_BYTES else None
        if self.cache is not None:
            self.cache = [self._make(start) for start in self.starts()]

    def starts(self) -> range:
        return range(0, self.num_users, self.batch_size)

    def _make(self, start: int):
        rows = np.arange(start, start + self.batch_size)
        weights = (rows < self.num_users).astype(np.float32)
        rows = np.minimum(rows, self.num_users - 1)
        dense = [jnp.asarray(rows_to_dense(m, rows)) for m in self.matrices]
        return dense, jnp.asarray(weights)

    def __iter__(self):
        if self.cache is not None:
            yield from self.cache
        else:
            for start in self.starts():
                yield self._make(start)


def _validation_rows(
    data: Interactions, num_users: int, rng: np.random.Generator
) -> list[sp.csr_matrix]:
    """[train, val] rows of all users, or of a fixed random subset of `num_users`
    users that have validation items (`distill.val_users`)."""
    if num_users <= 0:
        return [data.train, data.val]
    candidates = np.flatnonzero(np.diff(data.val.indptr) > 0)
    if num_users >= candidates.size:
        return [data.train, data.val]
    rows = np.sort(rng.choice(candidates, size=num_users, replace=False))
    return [data.train[rows], data.val[rows]]


def _sweep(sweep_fn, support, batches: _UserBatches, regs) -> dict[str, np.ndarray]:
    """Per-λ mean metrics (×100) of the learner fitted on ``support``, and
    ``"finite"``: whether α is finite at that λ."""
    totals = None
    for (queries, targets), weights in batches:
        sums = sweep_fn(support, queries, targets, queries, weights, regs)
        totals = sums if totals is None else jax.tree.map(_combine, totals, sums)
    totals = jax.device_get(totals)
    finite = np.asarray(totals.pop("finite"), bool)
    count = np.maximum(totals.pop("count"), 1.0)
    out = {name: 100.0 * value / count for name, value in totals.items()}
    out["finite"] = finite
    return out


def _combine(a, b):
    return a & b if a.dtype == jnp.bool_ else a + b


def _best_reg(per_reg: dict[str, np.ndarray], regs, metric: str, what: str) -> int:
    """Index of the best finite λ on ``metric``; invalid λ are logged and skipped."""
    finite = per_reg["finite"]
    for reg in np.asarray(regs)[~finite]:
        logging.warning(
            "%s: λ=%g is invalid and skipped (α is not finite); raise the smallest "
            "λ of the grid",
            what,
            reg,
        )
    if not finite.any():
        raise solver.NonFiniteError(
            f"{what}: α is not finite at every λ of {tuple(regs)}; raise the λ grid"
        )
    return int(np.argmax(np.where(finite, per_reg[metric], -np.inf)))


@dataclasses.dataclass
class _Setup:
    """What the stages share: settings, compiled functions, grids and batches."""

    cfg: settings_lib.DistillSettings
    select_metric: str
    ks: tuple[int, ...]
    eval_batching: dict[str, int]
    distill_spec: Any
    eval_spec: Any
    learner: Any
    eval_learner: Any
    spec: Any
    eval_sample_spec: Any
    optimizer: Any
    mean_degree: float
    val_batches: _UserBatches
    targets_of: Callable[[int], tuple[jax.Array, jax.Array]]
    init_rows: np.ndarray

    def sweep_fn(self, learner):
        return functools.partial(_sweep_sums, learner=learner, ks=(10, 100))

    def validate(self, support) -> tuple[float, dict[str, float]]:
        """(training λ by `reg_select_metric`, metrics at the λ best by
        `select_metric`) of ∞-AE fitted on ``support``."""
        regs = self.cfg.reg_grid
        per_reg = _sweep(self.sweep_fn(self.learner), support, self.val_batches, regs)
        best = _best_reg(per_reg, regs, self.select_metric, "distill validation")
        train = _best_reg(per_reg, regs, self.cfg.reg_select_metric, "distill λ")
        metrics = {k: float(v[best]) for k, v in per_reg.items() if k != "finite"}
        return regs[train], metrics


def _set_up(
    settings: settings_lib.Settings, data: Interactions, streams: streams_lib.Streams
) -> _Setup:
    """Stage 1: specs, optimiser, initial rows, batch streams and grids."""
    cfg = settings.distill
    eval_kernel = settings.model.kernel
    distill_spec = cfg.kernel.apply(eval_kernel).spec()
    absolute_reg = settings.model.absolute_reg
    learner = distill_lib.KernelRidgeLearner(distill_spec, absolute_reg)
    num_draws = cfg.num_draws or cfg.num_samples
    degrees = np.diff(data.train.indptr)
    active_users = np.flatnonzero(degrees > 0)
    full_batch = cfg.batch_size <= 0 or cfg.batch_size >= data.num_users
    batch_size = data.num_users if full_batch else cfg.batch_size
    full = next(iter(_UserBatches([data.train], -1))) if full_batch else None

    def targets_of(step: int):
        if full is not None:
            (targets,), weights = full
            return targets, weights
        rows = streams.rng("batches", step).choice(
            active_users, size=min(batch_size, active_users.size), replace=False
        )
        weights = np.ones(batch_size, np.float32)
        if rows.size < batch_size:  # fewer active users than the batch: pad
            weights[rows.size :] = 0
            rows = np.concatenate([rows, np.full(batch_size - rows.size, rows[0])])
        return jnp.asarray(rows_to_dense(data.train, rows)), jnp.asarray(weights)

    return _Setup(
        cfg=cfg,
        select_metric=settings.model.select_metric,
        ks=tuple(sorted({*settings.eval.ks, 100})),
        eval_batching=settings.eval.batching(),
        distill_spec=distill_spec,
        eval_spec=eval_kernel.spec(),
        learner=learner,
        eval_learner=distill_lib.KernelRidgeLearner(eval_kernel.spec(), absolute_reg),
        spec=distill_lib.DistillSpec(cfg.num_samples, num_draws, learner),
        eval_sample_spec=distill_lib.DistillSpec(
            cfg.num_samples, cfg.eval_num_draws or cfg.num_samples, learner
        ),
        optimizer=_optimizer(
            cfg.learning_rate, cfg.lr_decay_steps, cfg.lr_final_fraction
        ),
        mean_degree=float(data.train.nnz / max(active_users.size, 1)),
        val_batches=_UserBatches(
            _validation_rows(data, cfg.val_users, streams.rng("val_users")),
            cfg.val_batch_size,
        ),
        targets_of=targets_of,
        init_rows=_initial_rows(cfg, data, streams.rng("init")),
    )


def _start(setup: _Setup, ctx) -> tuple[dict[str, Any], int]:
    """Stage 2: the loop's carry, restored from a checkpoint or freshly validated."""
    cfg = setup.cfg
    init_logits = cfg.init_scale * setup.init_rows
    carry = {
        "state": distill_lib.init_state(init_logits, setup.optimizer),
        "best_support": jnp.asarray(setup.init_rows),
        "best_logits": jnp.asarray(init_logits),
        "best_step": jnp.asarray(-1, jnp.int32),
        "best_score": jnp.asarray(-np.inf, jnp.float32),
        "reg": jnp.asarray(cfg.reg, jnp.float32),
        "val_seconds": jnp.asarray(0.0, jnp.float32),
    }
    if ctx.resume_step is not None:
        carry = io.restore_checkpoint(ctx.checkpoint_dir, ctx.resume_step, carry)
        start_step = int(carry["state"].step)
        logging.info("distill: resumed at step %d", start_step)
        return carry, start_step
    t0 = time.perf_counter()
    reg0, metrics = setup.validate(jnp.asarray(setup.init_rows))
    seconds = time.perf_counter() - t0
    logging.info(
        "distill step 0 (initialisation): val hr@100 %.2f ndcg@10 %.2f, λ %g (%.1f s)",
        metrics["hr@100"],
        metrics["ndcg@10"],
        reg0,
        seconds,
    )
    ctx.writer.write_scalars(
        0, {**{f"val/{k}": v for k, v in metrics.items()}, "val/reg": reg0}
    )
    if cfg.reg_schedule == "reselect_on_validation":
        carry["reg"] = jnp.asarray(reg0, jnp.float32)
    if cfg.include_init_candidate:
        carry["best_score"] = jnp.asarray(metrics[setup.select_metric], jnp.float32)
        carry["best_step"] = jnp.asarray(0, jnp.int32)
    carry["val_seconds"] = jnp.asarray(seconds, jnp.float32)
    return carry, 0


def _check_finite_aux(aux: dict[str, float], first: int, step: int, reg) -> None:
    bad = [k for k, v in aux.items() if not math.isfinite(v)]
    if bad:
        raise solver.NonFiniteError(
            f"Distill-CF: non-finite {bad} between steps {first} and {step} (training "
            f"λ {float(reg):g}); raise the smallest value of config.distill.reg_grid "
            "or lower config.distill.learning_rate"
        )


def _log_step(setup, ctx, step, aux, carry, rate) -> None:
    """Logs a training step (absl + metrics.jsonl)."""
    logging.info(
        "distill step %d/%d  %.2f steps/s  loss %.4f (rec %.4f, card %.3f)  λ %g",
        step,
        setup.cfg.num_steps,
        rate,
        aux["loss"],
        aux["reconstruction"],
        aux["cardinality"],
        float(carry["reg"]),
    )
    ctx.writer.write_scalars(
        step,
        {
            **{f"train/{k}": v for k, v in aux.items()},
            "train/steps_per_sec": rate,
            "train/reg": float(carry["reg"]),
        },
    )


def _validation_step(setup, ctx, streams, step, carry) -> float:
    """Validates this step's sample; keeps it when it is the best. Returns seconds."""
    t0 = time.perf_counter()
    key = jax.random.fold_in(streams.key("val_gumbel"), step)
    state = carry["state"]
    support = _sample(
        key,
        state.logits,
        spec=setup.eval_sample_spec,
        temperature=setup.cfg.temperature,
    )
    reg, metrics = setup.validate(support)
    if setup.cfg.reg_schedule == "reselect_on_validation":
        carry["reg"] = jnp.asarray(reg, jnp.float32)
    improved = metrics[setup.select_metric] > float(carry["best_score"])
    if improved:
        carry["best_score"] = jnp.asarray(metrics[setup.select_metric], jnp.float32)
        carry["best_step"] = jnp.asarray(step, jnp.int32)
        carry["best_support"] = support
        carry["best_logits"] = jnp.array(state.logits)
    seconds = time.perf_counter() - t0
    carry["val_seconds"] = carry["val_seconds"] + seconds
    logging.info(
        "distill validation step %d: hr@100 %.2f ndcg@10 %.2f hr@10 %.2f λ %g "
        "%s(best %s %.2f at step %d; %.1f s)",
        step,
        metrics["hr@100"],
        metrics["ndcg@10"],
        metrics["hr@10"],
        reg,
        "* " if improved else "",
        setup.select_metric,
        float(carry["best_score"]),
        int(carry["best_step"]),
        seconds,
    )
    ctx.writer.write_scalars(
        step, {**{f"val/{k}": v for k, v in metrics.items()}, "val/reg": reg}
    )
    return seconds


def _schedule(cfg: settings_lib.DistillSettings) -> set[int]:
    steps = set(cfg.eval_steps)
    if cfg.eval_every > 0:
        steps |= set(range(cfg.eval_every, cfg.num_steps + 1, cfg.eval_every))
    steps.add(cfg.num_steps)
    return steps


def _train_loop(setup: _Setup, ctx, streams, carry, start_step: int):
    """Stage 3: outer steps until num_steps or early stopping."""
    cfg = setup.cfg
    update = functools.partial(_update, spec=setup.spec, optimizer=setup.optimizer)
    schedule = _schedule(cfg)
    stats = {"compile_seconds": 0.0, "val_seconds": 0.0, "stopped_early": False}
    last_log = (start_step, time.perf_counter())
    step = start_step
    bar = progress.Progress(cfg.num_steps, "distill", initial=start_step)
    while step < cfg.num_steps:
        step += 1
        hparams = distill_lib.make_hparams(
            temperature=cfg.temperature,
            reg=float(carry["reg"]),
            cardinality_reg=cfg.cardinality_reg,
            mean_degree=setup.mean_degree,
        )
        targets, weights = setup.targets_of(step)
        t0 = time.perf_counter()
        key = jax.random.fold_in(streams.key("gumbel"), step)
        carry["state"], aux = update(carry["state"], key, targets, weights, hparams)
        if step == start_step + 1:
            jax.block_until_ready(carry["state"])
            stats["compile_seconds"] = time.perf_counter() - t0
        is_val = step in schedule
        if step % cfg.log_every == 0 or is_val or step == cfg.num_steps:
            aux = {k: float(v) for k, v in jax.device_get(aux).items()}
            _check_finite_aux(aux, last_log[0] + 1, step, carry["reg"])
            now = time.perf_counter()
            rate = (step - last_log[0]) / max(now - last_log[1], 1e-9)
            last_log = (step, now)
            _log_step(setup, ctx, step, aux, carry, rate)
            bar.update(step - bar.done, loss=aux["loss"])
        if is_val:
            stats["val_seconds"] += _validation_step(setup, ctx, streams, step, carry)
        if is_val or step % cfg.checkpoint_every == 0:
            io.save_checkpoint(ctx.checkpoint_dir, step, carry)
        if _after_step_hook is not None:
            _after_step_hook(step)
        if is_val and step - int(carry["best_step"]) >= cfg.patience:
            logging.info(
                "distill: early stop at step %d (best step %d)",
                step,
                int(carry["best_step"]),
            )
            stats["stopped_early"] = True
            break
    bar.close()
    jax.block_until_ready(carry["state"])
    stats["last_step"] = step
    return carry, stats


def _evaluate_support(setup: _Setup, support: np.ndarray, data, negatives):
    """∞-AE on ``support``: λ picked on validation ``select_metric``, then the test."""
    regs = setup.cfg.eval_reg_grid
    sweep = setup.sweep_fn(setup.eval_learner)
    per_reg = _sweep(sweep, jnp.asarray(support), setup.val_batches, regs)
    best = _best_reg(per_reg, regs, setup.select_metric, "final λ")
    reg = regs[best]
    model = solver.fit_model(
        setup.eval_spec,
        support,
        reg,
        absolute_reg=setup.eval_learner.absolute_reg,
    )
    common = dict(params=model, ks=setup.ks, **setup.eval_batching)
    score = solver.krr_score_fn(setup.eval_spec)
    val = evaluation.evaluate(score, data, split="val", **common)
    test = evaluation.evaluate(
        score, data, split="test", negatives=negatives, progress="test", **common
    )
    val_by_reg = {}
    for i, r in enumerate(regs):
        val_by_reg[str(r)] = (
            {k: float(v[i]) for k, v in per_reg.items() if k != "finite"}
            if per_reg["finite"][i]
            else {"invalid": "non-finite α"}
        )
    return {"reg": reg, "val": val, "test": test, "val_by_reg": val_by_reg}


def _export(setup: _Setup, data, ctx, streams, carry, reg) -> dict[str, Any]:
    """Stage 5: continuous and discrete summaries written under the workdir."""
    cfg = setup.cfg
    support = np.asarray(carry["best_support"], np.float32)
    logits = np.asarray(carry["best_logits"], np.float32)
    rng = streams.rng("export")
    discrete = {
        mode: export.binarize(
            support,
            logits,
            mode=mode,
            rng=rng,
            num_samples=cfg.num_samples,
            k=cfg.topk_k or None,
            threshold=cfg.threshold,
        )
        for mode in cfg.export_modes
    }
    export.save_npz(
        ctx.workdir / "distilled.npz",
        continuous=support,
        logits=logits,
        discrete=discrete,
        item_ids=data.item_ids,
        config_hash=ctx.config_hash,
        extra={
            "best_step": np.asarray(int(carry["best_step"])),
            "reg": np.asarray(reg),
        },
    )
    primary = discrete[cfg.export_primary]
    export.write_recbole_inter(
        ctx.workdir / "distilled.inter", primary, item_ids=data.item_ids
    )
    export.write_csv(ctx.workdir / "distilled.csv", primary, item_ids=data.item_ids)
    num_synth, num_items = support.shape
    return {
        "synthetic_users": int(num_synth),
        "items": int(num_items),
        "nnz": int(primary.nnz),
        "density": float(primary.nnz / (num_synth * num_items)),
        "export": cfg.export_primary,
        "continuous_mass": float(support.sum()),
        "discrete": {
            mode: {"nnz": int(m.nnz), "density": float(m.nnz / (num_synth * num_items))}
            for mode, m in discrete.items()
        },
        "real_users": int(data.num_users),
        "real_train_nnz": int(data.train.nnz),
        "user_fraction": float(num_synth / max(data.num_users, 1)),
    }


def _baselines(setup: _Setup, data, streams, negatives, timings) -> dict[str, Any]:
    """Stage 6: ∞-AE on real-data baselines of the same user budget."""
    results = {}
    for name in setup.cfg.baselines:
        t0 = time.perf_counter()
        rows = _baseline_rows(name, data, setup.cfg.num_users, streams.rng("baselines"))
        support = np.asarray(rows.toarray(), np.float32)
        result = _evaluate_support(setup, support, data, negatives)
        results[name] = {"reg": result["reg"], "test": result["test"]}
        timings[f"baseline_{name}"] = time.perf_counter() - t0
    return results


def _compare(settings, setup: _Setup, data, streams, negatives, carry, ctx):
    """Stage 7: each `distill.compare` model on full / distilled / random users."""
    if not setup.cfg.compare:
        return {}
    random_rows = _baseline_rows(
        "random_users", data, setup.cfg.num_users, streams.rng("baselines")
    )
    support = np.asarray(carry["best_support"], np.float32)
    comparison = compare_lib.compare(
        settings,
        data,
        {"full": None, "distilled": support, "random_users": random_rows},
        kernel_spec=setup.eval_spec,
        negatives=negatives,
        summary_logits=np.asarray(carry["best_logits"], np.float32),
        rng=streams.rng("compare_rows"),
    )
    plots.comparison_figure(comparison, ctx.workdir / "compare.png")
    logging.info("comparison plot: %s", ctx.workdir / "compare.png")
    return comparison


def distill(settings: settings_lib.Settings, data: Interactions, ctx):
    """Stages 1-3: the distilled summary (resumed from ctx's checkpoints).

    Returns:
      (setup, carry with "best_support" [S, I] / "best_logits" / "best_step", loop
      stats, timings, streams).
    """
    streams = streams_lib.Streams(STREAMS, settings.seed, settings.distill.prng_impl)
    t_begin = time.perf_counter()
    setup = _set_up(settings, data, streams)
    carry, start_step = _start(setup, ctx)
    timings = {"setup": time.perf_counter() - t_begin}
    t_loop = time.perf_counter()
    carry, stats = _train_loop(setup, ctx, streams, carry, start_step)
    timings["distill_loop"] = time.perf_counter() - t_loop
    timings["compile_first_step"] = stats["compile_seconds"]
    timings["validation"] = float(carry["val_seconds"])
    timings["distillation"] = time.perf_counter() - t_begin
    steps_run = stats["last_step"] - start_step
    if steps_run > 1:
        train = (
            timings["distill_loop"] - stats["compile_seconds"] - stats["val_seconds"]
        )
        timings["mean_step"] = train / (steps_run - 1)
    return setup, carry, stats, timings, streams


def run(settings: settings_lib.Settings, data: Interactions, ctx) -> dict[str, Any]:
    """Runs Distill-CF (see the module docstring) and returns the results dict."""
    t_begin = time.perf_counter()
    setup, carry, stats, timings, streams = distill(settings, data, ctx)
    t0 = time.perf_counter()
    negatives = krr.auc_negatives(settings.eval, data, streams)
    support = np.asarray(carry["best_support"], np.float32)
    final = _evaluate_support(setup, support, data, negatives)
    timings["test_eval"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    summary = _export(setup, data, ctx, streams, carry, final["reg"])
    timings["export"] = time.perf_counter() - t0
    baseline_results = _baselines(setup, data, streams, negatives, timings)
    t0 = time.perf_counter()
    comparison = _compare(settings, setup, data, streams, negatives, carry, ctx)
    if comparison:
        timings["compare"] = time.perf_counter() - t0
    timings["job_total"] = time.perf_counter() - t_begin
    return {
        "test": final["test"],
        "val": final["val"],
        "reg": final["reg"],
        "val_by_reg": final["val_by_reg"],
        "best": {
            "step": int(carry["best_step"]),
            "metric": f"val/{setup.select_metric}",
            "value": float(carry["best_score"]),
        },
        "last_step": int(stats["last_step"]),
        "stopped_early": stats["stopped_early"],
        "distill_kernel": str(setup.distill_spec),
        "eval_kernel": str(setup.eval_spec),
        "summary": summary,
        "baselines": baseline_results,
        **({"compare": comparison} if comparison else {}),
        "timings": timings,
    }
