"""Distill-CF job: distil the train matrix into S synthetic users, test ∞-AE on them.

Stateful shell around `infinite_ae.distill`: jits the pure step once, streams user
batches from the sparse train matrix, validates on a schedule with the ridge re-selected
(keeping the best sample, the initialisation included), stops early, checkpoints
everything needed for an exact resume, logs progress, and exports the summary
(`distilled.npz`, `distilled.inter`, `distilled.csv`) under the workdir.

Determinism: the Gumbel key of step t is ``fold_in(fold_in(base, 0), t)``, the
validation key ``fold_in(fold_in(base, 1), t)`` and the user batch of step t comes
from ``np.random.default_rng([seed, 2, t])``; a resumed run therefore repeats an
uninterrupted one exactly.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import scipy.sparse as sp
from absl import logging

from infinite_ae import distill as distill_lib
from infinite_ae import evaluation, io, kernels, metrics
from infinite_ae.data.interactions import Interactions, rows_to_dense
from infinite_ae.distill import baselines, export, validation

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
_fit = jax.jit(distill_lib.KernelRidgeLearner.fit, static_argnums=0)
_predict = jax.jit(distill_lib.KernelRidgeLearner.predict, static_argnums=0)


@functools.cache
def _optimizer(learning_rate: float, decay_steps: int, final_fraction: float):
    return distill_lib.make_optimizer(
        learning_rate, decay_steps=decay_steps, final_fraction=final_fraction
    )


def _kernel_spec(
    model_kernel: ml_collections.ConfigDict, override=None
) -> kernels.KernelSpec:
    fields = {k: model_kernel[k] for k in ("kind", "depth", "w_std", "b_std")}
    if override is not None:
        fields.update({k: v for k, v in override.items() if v is not None})
    return kernels.KernelSpec(
        kind=fields["kind"],
        depth=int(fields["depth"]),
        w_std=float(fields["w_std"]),
        b_std=float(fields["b_std"]),
    )


def _initial_rows(cfg, data: Interactions, rng: np.random.Generator) -> np.ndarray:
    budget = int(cfg.num_users)
    if cfg.init == "random_users":
        rows, _ = baselines.random_users(data.train, budget, rng=rng)
    elif cfg.init == "head_users":
        rows, _ = baselines.head_users(data.train, budget)
    elif cfg.init == "random_interactions":
        rows = baselines.random_interactions(data.train, budget, rng=rng)
    elif cfg.init == "random_noise":
        return rng.standard_normal((budget, data.num_items)).astype(np.float32)
    else:
        raise ValueError(
            f"distill.init={cfg.init!r}; valid: random_users, head_users, "
            "random_interactions, random_noise"
        )
    return np.asarray(rows.toarray(), np.float32)


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
    data: Interactions, num_users: int, seed: int
) -> list[sp.csr_matrix]:
    """[train, val] rows of all users, or of a fixed random subset of `num_users`
    users that have validation items (`distill.val_users`)."""
    if num_users <= 0:
        return [data.train, data.val]
    candidates = np.flatnonzero(np.diff(data.val.indptr) > 0)
    if num_users >= candidates.size:
        return [data.train, data.val]
    rng = np.random.default_rng([seed, 3])
    rows = np.sort(rng.choice(candidates, size=num_users, replace=False))
    return [data.train[rows], data.val[rows]]


def _sweep(sweep_fn, support, batches: _UserBatches, regs) -> dict[str, np.ndarray]:
    """Per-λ mean metrics (×100) of the learner fitted on ``support``."""
    totals = None
    for (queries, targets), weights in batches:
        sums = sweep_fn(support, queries, targets, queries, weights, regs)
        totals = sums if totals is None else jax.tree.map(jnp.add, totals, sums)
    totals = jax.device_get(totals)
    count = np.maximum(totals.pop("count"), 1.0)
    return {name: 100.0 * value / count for name, value in totals.items()}


def _score_fn(learner: distill_lib.KernelRidgeLearner, support: np.ndarray, reg: float):
    support = jnp.asarray(support, jnp.float32)
    _, alpha = _fit(learner, support, jnp.float32(reg))
    return lambda queries, users: _predict(learner, support, alpha, queries)


def _evaluate_support(
    support: np.ndarray,
    data: Interactions,
    *,
    learner: distill_lib.KernelRidgeLearner,
    regs: tuple[float, ...],
    val_batches: _UserBatches,
    sweep_fn,
    ks: tuple[int, ...],
    batch_size: int,
    negatives: np.ndarray | None,
    select_metric: str = "hr@100",
) -> dict[str, Any]:
    """∞-AE on ``support``: λ picked on validation ``select_metric``, then the test."""
    per_reg = _sweep(sweep_fn, jnp.asarray(support), val_batches, jnp.asarray(regs))
    best = int(np.argmax(per_reg[select_metric]))
    reg = float(regs[best])
    score = _score_fn(learner, support, reg)
    val = evaluation.evaluate(score, data, split="val", ks=ks, batch_size=batch_size)
    test = evaluation.evaluate(
        score, data, split="test", ks=ks, batch_size=batch_size, negatives=negatives
    )
    return {
        "reg": reg,
        "val": val,
        "test": test,
        "val_hr@100_by_reg": {
            str(r): float(v) for r, v in zip(regs, per_reg["hr@100"], strict=False)
        },
    }


def _schedule(cfg) -> set[int]:
    steps = set(int(s) for s in cfg.eval_steps)
    if cfg.eval_every > 0:
        steps |= set(range(cfg.eval_every, cfg.num_steps + 1, cfg.eval_every))
    steps.add(int(cfg.num_steps))
    return steps


def run(config: ml_collections.ConfigDict, data: Interactions, ctx) -> dict[str, Any]:
    """Runs Distill-CF (see module docstring) and returns the results dict."""
    cfg = config.distill
    # Validation metric that picks λ and the kept summary (the original: HR@100).
    select_metric = config.model.select_metric
    t_begin = time.perf_counter()
    timings: dict[str, float] = {}
    if cfg.reg_schedule not in ("reselect_on_validation", "fixed"):
        raise ValueError(
            f"distill.reg_schedule={cfg.reg_schedule!r}; valid: "
            "reselect_on_validation, fixed"
        )
    ks = tuple(int(k) for k in config.eval.ks)
    if 100 not in ks:
        ks = (*ks, 100)
    eval_spec = _kernel_spec(config.model.kernel)
    distill_spec = _kernel_spec(config.model.kernel, cfg.kernel.to_dict())
    absolute_reg = bool(config.model.get("absolute_reg", False))
    learner = distill_lib.KernelRidgeLearner(distill_spec, absolute_reg)
    eval_learner = distill_lib.KernelRidgeLearner(eval_spec, absolute_reg)
    num_draws = int(cfg.num_draws) or int(cfg.num_samples)
    spec = distill_lib.DistillSpec(
        num_samples=int(cfg.num_samples), num_draws=num_draws, learner=learner
    )
    optimizer = _optimizer(
        float(cfg.learning_rate), int(cfg.lr_decay_steps), float(cfg.lr_final_fraction)
    )
    regs = tuple(float(r) for r in cfg.reg_grid)
    eval_regs = tuple(float(r) for r in cfg.eval_reg_grid)
    degrees = np.diff(data.train.indptr)
    mean_degree = float(data.train.nnz / max(np.sum(degrees > 0), 1))

    # ---------------------------------------------------------------- set-up
    base_key = jax.random.key(int(ctx.seed), impl=cfg.prng_impl)
    train_key = jax.random.fold_in(base_key, 0)
    val_key = jax.random.fold_in(base_key, 1)
    init_rng = np.random.default_rng([int(ctx.seed), 1])
    init_rows = _initial_rows(cfg, data, init_rng)
    init_logits = float(cfg.init_scale) * init_rows
    full_batch = cfg.batch_size <= 0 or cfg.batch_size >= data.num_users
    val_batches = _UserBatches(
        _validation_rows(data, int(cfg.val_users), int(ctx.seed)),
        int(cfg.val_batch_size),
    )
    if full_batch:
        train_batch = _UserBatches([data.train], -1)
        (full_targets,), full_weights = next(iter(train_batch))
    active_users = np.flatnonzero(degrees > 0)
    batch_size = data.num_users if full_batch else int(cfg.batch_size)

    update = functools.partial(_update, spec=spec, optimizer=optimizer)
    # The validated (and kept) sample may use more draws than the training steps.
    eval_draws = int(cfg.eval_num_draws) or int(cfg.num_samples)
    sample = functools.partial(
        _sample,
        spec=distill_lib.DistillSpec(
            num_samples=int(cfg.num_samples), num_draws=eval_draws, learner=learner
        ),
    )
    sweep_fn = functools.partial(_sweep_sums, learner=learner, ks=(10, 100))
    eval_sweep_fn = functools.partial(_sweep_sums, learner=eval_learner, ks=(10, 100))

    def targets_of(step: int):
        if full_batch:
            return full_targets, full_weights
        rng = np.random.default_rng([int(ctx.seed), 2, step])
        rows = rng.choice(
            active_users, size=min(batch_size, active_users.size), replace=False
        )
        weights = np.ones(batch_size, np.float32)
        if rows.size < batch_size:  # fewer active users than the batch: pad
            weights[rows.size :] = 0
            rows = np.concatenate([rows, np.full(batch_size - rows.size, rows[0])])
        return jnp.asarray(rows_to_dense(data.train, rows)), jnp.asarray(weights)

    reg_metric = cfg.reg_select_metric

    def validate(support) -> tuple[float, dict[str, float]]:
        """(training λ by `reg_metric`, metrics at the λ best by `select_metric`)."""
        per_reg = _sweep(sweep_fn, support, val_batches, jnp.asarray(regs))
        for name in (select_metric, reg_metric):
            if name not in per_reg:
                raise ValueError(
                    f"validation metric {name!r} (model.select_metric / "
                    f"distill.reg_select_metric); valid: {sorted(per_reg)}"
                )
        best = int(np.argmax(per_reg[select_metric]))
        train_reg = regs[int(np.argmax(per_reg[reg_metric]))]
        return train_reg, {name: float(v[best]) for name, v in per_reg.items()}

    state = distill_lib.init_state(init_logits, optimizer)
    num_synth, num_items = init_logits.shape
    carry = {
        "state": state,
        "best_support": jnp.asarray(init_rows),
        "best_logits": jnp.asarray(init_logits),
        "best_step": jnp.asarray(-1, jnp.int32),
        "best_score": jnp.asarray(-np.inf, jnp.float32),
        "reg": jnp.asarray(float(cfg.reg), jnp.float32),
        "val_seconds": jnp.asarray(0.0, jnp.float32),
    }
    schedule = _schedule(cfg)
    timings["setup"] = time.perf_counter() - t_begin

    # ------------------------------------------------------- resume or step 0
    start_step = 0
    if ctx.resume_step is not None:
        carry = io.restore_checkpoint(ctx.checkpoint_dir, ctx.resume_step, carry)
        start_step = int(carry["state"].step)
        logging.info("distill: resumed at step %d", start_step)
    else:
        t0 = time.perf_counter()
        reg0, init_metrics = validate(jnp.asarray(init_rows))
        init_seconds = time.perf_counter() - t0
        logging.info(
            "distill step 0 (initialisation): val hr@100 %.2f ndcg@10 %.2f, "
            "λ %g (%.1f s)",
            init_metrics["hr@100"],
            init_metrics["ndcg@10"],
            reg0,
            init_seconds,
        )
        ctx.writer.write_scalars(
            0, {**{f"val/{k}": v for k, v in init_metrics.items()}, "val/reg": reg0}
        )
        if cfg.reg_schedule == "reselect_on_validation":
            carry["reg"] = jnp.asarray(reg0, jnp.float32)
        if cfg.include_init_candidate:
            carry["best_score"] = jnp.asarray(init_metrics[select_metric], jnp.float32)
            carry["best_step"] = jnp.asarray(0, jnp.int32)
        carry["val_seconds"] = jnp.asarray(init_seconds, jnp.float32)

    # ---------------------------------------------------------------- loop
    temperature = float(cfg.temperature)
    t_loop = time.perf_counter()
    compile_seconds = 0.0
    last_log = (start_step, time.perf_counter())
    loop_val_seconds = 0.0
    step = start_step
    stopped_early = False
    while step < cfg.num_steps:
        step += 1
        hparams = distill_lib.make_hparams(
            temperature=temperature,
            reg=float(carry["reg"]),
            cardinality_reg=float(cfg.cardinality_reg),
            mean_degree=mean_degree,
        )
        targets, weights = targets_of(step)
        t0 = time.perf_counter()
        state, aux = update(
            carry["state"],
            jax.random.fold_in(train_key, step),
            targets,
            weights,
            hparams,
        )
        carry["state"] = state
        if step == start_step + 1:
            jax.block_until_ready(state)
            compile_seconds = time.perf_counter() - t0
        is_val = step in schedule
        if step % cfg.log_every == 0 or is_val or step == cfg.num_steps:
            aux = {k: float(v) for k, v in jax.device_get(aux).items()}
            bad = [k for k, v in aux.items() if not math.isfinite(v)]
            if bad:
                raise FloatingPointError(
                    f"non-finite {bad} between steps {last_log[0] + 1} and {step}"
                )
            now = time.perf_counter()
            rate = (step - last_log[0]) / max(now - last_log[1], 1e-9)
            last_log = (step, now)
            eta = (cfg.num_steps - step) / max(rate, 1e-9)
            logging.info(
                "distill step %d/%d  %.2f steps/s  loss %.4f (rec %.4f, card %.3f)  "
                "λ %g  ETA %.0f s",
                step,
                cfg.num_steps,
                rate,
                aux["loss"],
                aux["reconstruction"],
                aux["cardinality"],
                float(carry["reg"]),
                eta,
            )
            ctx.writer.write_scalars(
                step,
                {
                    **{f"train/{k}": v for k, v in aux.items()},
                    "train/steps_per_sec": rate,
                    "train/reg": float(carry["reg"]),
                },
            )
        if is_val:
            t0 = time.perf_counter()
            support = sample(
                jax.random.fold_in(val_key, step), state.logits, temperature=temperature
            )
            reg, val_metrics = validate(support)
            if cfg.reg_schedule == "reselect_on_validation":
                carry["reg"] = jnp.asarray(reg, jnp.float32)
            improved = val_metrics[select_metric] > float(carry["best_score"])
            if improved:
                best_score = val_metrics[select_metric]
                carry["best_score"] = jnp.asarray(best_score, jnp.float32)
                carry["best_step"] = jnp.asarray(step, jnp.int32)
                carry["best_support"] = support
                carry["best_logits"] = jnp.array(state.logits)
            seconds = time.perf_counter() - t0
            carry["val_seconds"] = carry["val_seconds"] + seconds
            loop_val_seconds += seconds
            logging.info(
                "distill validation step %d: hr@100 %.2f ndcg@10 %.2f hr@10 %.2f λ %g "
                "%s(best %.2f at step %d; %.1f s)",
                step,
                val_metrics["hr@100"],
                val_metrics["ndcg@10"],
                val_metrics["hr@10"],
                reg,
                "* " if improved else "",
                float(carry["best_score"]),
                int(carry["best_step"]),
                seconds,
            )
            ctx.writer.write_scalars(
                step,
                {**{f"val/{k}": v for k, v in val_metrics.items()}, "val/reg": reg},
            )
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
            stopped_early = True
            break
    jax.block_until_ready(carry["state"])
    timings["distill_loop"] = time.perf_counter() - t_loop
    timings["compile_first_step"] = compile_seconds
    timings["validation"] = float(carry["val_seconds"])
    timings["distillation"] = time.perf_counter() - t_begin

    # ------------------------------------------------------- test + exports
    t0 = time.perf_counter()
    support = np.asarray(carry["best_support"], np.float32)
    logits = np.asarray(carry["best_logits"], np.float32)
    eval_batch = int(config.eval.batch_size)
    negatives = None
    if int(config.eval.get("auc_negatives", 0)) > 0:
        negatives = metrics.sample_auc_negatives(
            data.train,
            data.test,
            num=int(config.eval.auc_negatives),
            rng=np.random.default_rng([int(ctx.seed), 3]),
        )
    common = dict(
        data=data,
        learner=eval_learner,
        regs=eval_regs,
        val_batches=val_batches,
        sweep_fn=eval_sweep_fn,
        ks=ks,
        batch_size=eval_batch,
        negatives=negatives,
        select_metric=select_metric,
    )
    final = _evaluate_support(support, **common)
    timings["test_eval"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    export_rng = np.random.default_rng([int(ctx.seed), 4])
    discrete = {
        mode: export.binarize(
            support,
            logits,
            mode=mode,
            rng=export_rng,
            num_samples=int(cfg.num_samples),
            k=int(cfg.topk_k) or None,
            threshold=float(cfg.threshold),
        )
        for mode in cfg.export_modes
    }
    from experiments import pipeline  # noqa: PLC0415 (pipeline imports jobs lazily)

    export.save_npz(
        ctx.workdir / "distilled.npz",
        continuous=support,
        logits=logits,
        discrete=discrete,
        item_ids=data.item_ids,
        config_hash=pipeline.config_hash(config),
        extra={
            "best_step": np.asarray(int(carry["best_step"])),
            "reg": np.asarray(final["reg"]),
        },
    )
    primary = discrete.get(cfg.export_primary)
    if primary is None:
        primary = sp.csr_matrix(support)
    export.write_recbole_inter(
        ctx.workdir / "distilled.inter", primary, item_ids=data.item_ids
    )
    export.write_csv(ctx.workdir / "distilled.csv", primary, item_ids=data.item_ids)
    timings["export"] = time.perf_counter() - t0

    baseline_results = {}
    for name in cfg.baselines:
        t0 = time.perf_counter()
        rng = np.random.default_rng([int(ctx.seed), 5])
        if name == "random_users":
            rows = baselines.random_users(data.train, num_synth, rng=rng)[0]
        elif name == "head_users":
            rows = baselines.head_users(data.train, num_synth)[0]
        elif name == "random_interactions":
            rows = baselines.random_interactions(data.train, num_synth, rng=rng)
        else:
            raise ValueError(f"unknown baseline {name!r}")
        result = _evaluate_support(np.asarray(rows.toarray(), np.float32), **common)
        baseline_results[name] = {"reg": result["reg"], "test": result["test"]}
        timings[f"baseline_{name}"] = time.perf_counter() - t0

    discrete_summary = {
        mode: {"nnz": int(m.nnz), "density": float(m.nnz / (num_synth * num_items))}
        for mode, m in discrete.items()
    }
    summary = {
        "synthetic_users": int(num_synth),
        "items": int(num_items),
        "nnz": int(primary.nnz),
        "density": float(primary.nnz / (num_synth * num_items)),
        "export": cfg.export_primary,
        "continuous_mass": float(support.sum()),
        "discrete": discrete_summary,
        "real_users": int(data.num_users),
        "real_train_nnz": int(data.train.nnz),
        "user_fraction": float(num_synth / max(data.num_users, 1)),
    }
    timings["job_total"] = time.perf_counter() - t_begin
    steps_run = step - start_step
    if steps_run > 1:
        train_seconds = timings["distill_loop"] - compile_seconds - loop_val_seconds
        timings["mean_step"] = train_seconds / (steps_run - 1)
    return {
        "test": final["test"],
        "val": final["val"],
        "reg": final["reg"],
        "val_hr@100_by_reg": final["val_hr@100_by_reg"],
        "best_step": int(carry["best_step"]),
        "best_val_hr@100": float(carry["best_score"]),
        "last_step": int(step),
        "stopped_early": stopped_early,
        "distill_kernel": str(distill_spec),
        "eval_kernel": str(eval_spec),
        "summary": summary,
        "baselines": baseline_results,
        "timings": timings,
    }
