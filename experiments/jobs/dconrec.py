"""DConRec job: proxy -> pseudo-positives -> condensation -> eval models -> retention.

`run(settings, data, ctx)` reads `settings.dconrec` (`settings.DConRecSettings`; the
`official_code` preset's overrides are already applied there). Stages:

1. `_proxy`: the proxy model trained to convergence on the full training split (its
   test metrics double as the full-data reference of the same eval model);
2. `_pool`: pseudo-positives, tail set, candidate pool, budget and initial s;
3. `_condense`: the outer loop, checkpointed every `checkpoint_every` steps; keys
   ``fold_in(key("condense"), step)``, so a killed run resumes to the identical result;
4. `_select_and_export`: the final selection (topk or sample) and its export;
5. `_eval_models`: each eval model trained on the condensed set, on a uniform random
   subset of the training split of the same realised size, and on the full split.

Evaluation masks the ORIGINAL training items (RecBole full sort; DConRec protocol).
results.json: "test" (condensed-data metrics, `<model>/<metric>` and the first eval
model's plain keys), "retention" (`<model>/<metric>` and `random/<model>/<metric>` as
fractions of full data), "full_data", "random_subset", "summary" (realised size and
ratio to N_tr, provenance counts, budget, mean spread of the K outer losses),
"per_model", "artefacts", "timings".
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import pathlib
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from absl import logging

from experiments import settings as settings_lib
from experiments import streams as streams_lib
from infinite_ae import io, progress, trainers
from infinite_ae.dconrec import condense, export, pool
from infinite_ae.trainers import loop, negatives

METRICS = ("recall@5", "recall@10", "ndcg@5", "ndcg@10")

STREAMS = streams_lib.StreamTable(
    numpy={"random_subset": 7}, jax={"condense": 1, "final_sample": 2}
)
"""The job's random streams. The trainers draw from their own keys of the seed
(`trainers.fit(seed=...)`: init ``fold_in(key(seed), 0)``, epoch e ``e + 1``)."""

# Test hook: called as hook(step) after outer step `step` (1-based) is logged and
# checkpointed; raising from it simulates a killed run.
_after_step_hook: Callable[[int], None] | None = None


@functools.cache
def _step_fn(spec: condense.StaticSpec):
    """The outer step jitted once per static spec (shared by resumed runs)."""
    return jax.jit(functools.partial(condense.outer_step, spec=spec))


def _model(name: str, data, settings: settings_lib.TrainerSettings) -> Any:
    cls = trainers.get_trainer(name)
    kwargs = dict(
        num_users=data.train.shape[0],
        num_items=data.train.shape[1],
        embedding_dim=settings.embedding_dim,
        reg_weight=settings.reg_weight,
    )
    if cls is trainers.LightGCN:
        kwargs["num_layers"] = settings.num_layers
    return cls(**kwargs)


def _fit(name, users, items, data, cfg, seed, tag):
    settings = cfg.eval_settings[name]
    model = _model(name, data, settings)
    result = trainers.fit(
        model,
        users,
        items,
        data,
        sampler=cfg.sampler,
        learning_rate=settings.learning_rate,
        batch_size=settings.batch_size,
        max_epochs=settings.max_epochs,
        patience=cfg.patience,
        seed=seed,
        test_mask=cfg.test_mask,
        log_fn=lambda epoch, record: logging.info(
            "%s epoch %d loss %.4f val ndcg@10 %.3f",
            tag,
            epoch,
            record["loss"],
            record["val/ndcg@10"],
        ),
        progress=tag,
    )
    return model, result


def _fingerprint(name, data, cfg, seed) -> str:
    """Hash of everything a full-data fit depends on: data, settings, seed."""
    h = hashlib.sha256()
    for part in (data.train, data.val, data.test):
        csr = part.tocsr()
        for array in (csr.indptr, csr.indices, np.asarray(csr.shape)):
            h.update(np.ascontiguousarray(array).tobytes())
    meta = {
        "name": name,
        "settings": dataclasses.asdict(cfg.eval_settings[name]),
        "patience": cfg.patience,
        "test_mask": cfg.test_mask,
        "seed": seed,
    }
    if cfg.sampler != "uniform":  # uniform keeps the fingerprints of older caches
        meta["sampler"] = cfg.sampler
    h.update(json.dumps(meta, sort_keys=True).encode())
    return h.hexdigest()[:16]


def _fit_full(name, data, cfg, seed, tag):
    """`_fit` on the full training split, through `cfg.reference_cache` if set.

    The proxy and the full-data references depend only on the data, the model
    settings and the seed, so runs that differ in condensation settings (the
    cross-model table, budget sweeps) can share them: the cache holds the best
    parameters and the metrics under a fingerprint of those inputs.
    """
    coo = data.train.tocoo()
    users, items = coo.row.astype(np.int32), coo.col.astype(np.int32)
    if not cfg.reference_cache:
        return _fit(name, users, items, data, cfg, seed, tag)
    model = _model(name, data, cfg.eval_settings[name])
    entry = pathlib.Path(cfg.reference_cache) / (
        f"{name}-{_fingerprint(name, data, cfg, seed)}"
    )
    if (entry / "result.json").exists():
        meta = json.loads((entry / "result.json").read_text())
        params = io.restore_checkpoint(entry, 0, model.init(jax.random.key(0)))
        logging.info("%s: full-data fit loaded from %s", tag, entry)
        return model, loop.FitResult(params=params, **meta)
    model, result = _fit(name, users, items, data, cfg, seed, tag)
    io.save_checkpoint(entry, 0, result.params)
    meta = {k: v for k, v in vars(result).items() if k != "params"}
    io.atomic_write_json(entry / "result.json", meta)
    return model, result


@dataclasses.dataclass
class _Pool:
    """Stage 2's output: candidates, tail set, budgets and initial keep-probs."""

    cand: Any
    pseudo_u: np.ndarray
    pseudo_i: np.ndarray
    pool_budget: float
    init_prob: np.ndarray


def _pool(cfg, data, proxy_model, proxy) -> _Pool:
    """Stage 2: pseudo-positives from the proxy, the candidate pool and budgets."""
    train = data.train.tocsr()
    coo = train.tocoo()
    num_train = int(train.nnz)
    graph = proxy_model.make_graph(
        jnp.asarray(coo.row.astype(np.int32)),
        jnp.asarray(coo.col.astype(np.int32)),
        jnp.ones(num_train),
    )
    user_emb, item_emb = proxy_model.embed(proxy.params, graph)
    pseudo_u, pseudo_i = pool.pseudo_positives(
        user_emb,
        item_emb,
        train,
        ratio=cfg.pseudo_ratio,
        min_per_user=cfg.pseudo_min_per_user,
        exclusion="minus_one" if cfg.preset == "official_code" else "exact",
    )
    if not cfg.use_pseudo:
        pseudo_u, pseudo_i = pseudo_u[:0], pseudo_i[:0]
    cand = pool.build_pool(
        train,
        pseudo_u,
        pseudo_i,
        tail_threshold=cfg.tail_threshold,
        tail_in_pool=cfg.preset == "official_code",
    )
    num_cand, num_tail = len(cand.users), len(cand.tail_users)
    if cfg.budget_mode == "strict":
        pool_budget = max(cfg.budget * num_train - num_tail, 0.0)
        init_mass = pool_budget
    else:  # "official"
        pool_budget = cfg.budget * num_cand
        init_mass = cfg.budget * num_train
    init_prob = pool.initial_probs(
        cand.users,
        cand.is_pseudo,
        init_mass,
        pseudo_share=cfg.pseudo_share,
        original_init=cfg.original_init,
    )
    logging.info(
        "pool %d (train %d, pseudo %d), tail %d, pool budget %.0f, init s %.4f",
        num_cand,
        num_cand - len(pseudo_u),
        len(pseudo_u),
        num_tail,
        pool_budget,
        float(np.mean(init_prob)),
    )
    return _Pool(cand, pseudo_u, pseudo_i, pool_budget, init_prob)


def _condense_inputs(cfg, data, candidates: _Pool):
    """The static spec and device arrays of the outer step."""
    coo = data.train.tocoo()
    train_users, train_items = coo.row.astype(np.int32), coo.col.astype(np.int32)
    num_items = data.train.shape[1]
    cand = candidates.cand
    inner_model = _model(
        cfg.condense_model, data, cfg.eval_settings[cfg.condense_model]
    )
    spec = condense.StaticSpec(
        model=inner_model,
        num_masks=cfg.num_masks,
        capacity=condense.default_capacity(candidates.pool_budget, len(cand.users)),
        batch_size=cfg.inner_batch_size,
        baseline=cfg.variance_reduction,
        common_random_numbers=cfg.common_random_numbers,
        accumulate_grad=cfg.preset == "official_code",
        projection=cfg.projection,
        inner_exclude="train" if cfg.preset == "official_code" else "pool",
        sampler=negatives.get_sampler(cfg.sampler, num_items=num_items),
    )
    ex_users, ex_items = train_users, train_items
    if spec.inner_exclude == "pool":
        ex_users = np.concatenate([train_users, cand.users])
        ex_items = np.concatenate([train_items, cand.items])
    known = (data.train + data.val + data.test).tocoo()
    val_coo = data.val.tocoo()
    arrays = condense.Arrays(
        pool_users=jnp.asarray(cand.users),
        pool_items=jnp.asarray(cand.items),
        tail_users=jnp.asarray(cand.tail_users),
        tail_items=jnp.asarray(cand.tail_items),
        val_users=jnp.asarray(val_coo.row.astype(np.int32)),
        val_items=jnp.asarray(val_coo.col.astype(np.int32)),
        inner_excluded=jnp.asarray(
            negatives.exclusion_keys(ex_users, ex_items, num_items)
        ),
        val_excluded=jnp.asarray(
            negatives.exclusion_keys(known.row, known.col, num_items)
        ),
        budget=jnp.float32(candidates.pool_budget),
        inner_lr=jnp.float32(cfg.inner_lr),
        inner_sampler_state=negatives.init_sampler_state(
            spec.sampler, np.bincount(train_items, minlength=num_items), inner_model
        ),
    )
    return spec, arrays


def _condense(cfg, ctx, streams, spec, arrays, init_prob):
    """Stage 3: the outer loop with checkpoints (resumes from ctx.resume_step)."""
    schedule = condense.outer_lr_schedule(
        {int(k): v for k, v in cfg.outer_lr_schedule.items()}
    )
    state = condense.init_state(len(init_prob), init_prob)
    start_step = 0
    if ctx.resume_step is not None:
        state = io.restore_checkpoint(ctx.checkpoint_dir, ctx.resume_step, state)
        start_step = int(state.step)
        logging.info("resumed DConRec at outer step %d", start_step)
    step_fn = _step_fn(spec)
    key = streams.key("condense")
    bar = progress.Progress(cfg.outer_steps, "condense", initial=start_step)
    for step in range(start_step, cfg.outer_steps):
        state, stats = step_fn(
            state, jax.random.fold_in(key, step), arrays, schedule(step)
        )
        record = {f"condense/{k}": float(v) for k, v in stats.items()}
        record["condense/lr"] = float(schedule(step))
        if not all(math.isfinite(v) for v in record.values()):
            raise FloatingPointError(
                f"non-finite condensation stats at step {step}; lower "
                "config.dconrec.outer_lr_schedule or config.dconrec.inner_lr"
            )
        ctx.writer.write_scalars(step + 1, record)
        bar.update(loss=record["condense/outer_loss"])
        if (step + 1) % cfg.log_every == 0 or step + 1 == cfg.outer_steps:
            logging.info(
                "outer step %d loss %.5f (std %.5f) mask %.0f sum s %.1f",
                step + 1,
                record["condense/outer_loss"],
                record["condense/loss_std"],
                record["condense/mask_size"],
                record["condense/sum_s"],
            )
        if (step + 1) % cfg.checkpoint_every == 0 or step + 1 == cfg.outer_steps:
            io.save_checkpoint(ctx.checkpoint_dir, step + 1, state)
        if _after_step_hook is not None:
            _after_step_hook(step + 1)
    bar.close()
    return state


def _select_and_export(cfg, data, ctx, streams, candidates: _Pool, state):
    """Stage 4: the final condensed set (with provenance), exported."""
    cand = candidates.cand
    probs = np.asarray(state.probs)
    selected = condense.select_final(
        probs,
        mode=cfg.final_mode,
        budget=candidates.pool_budget,
        sample_key=streams.key("final_sample"),
    )
    prov = np.where(cand.is_pseudo[selected], pool.PSEUDO, pool.ORIGINAL)
    num_tail = len(cand.tail_users)
    condensed = export.Condensed(
        users=np.concatenate([cand.tail_users, cand.users[selected]]).astype(np.int32),
        items=np.concatenate([cand.tail_items, cand.items[selected]]).astype(np.int32),
        provenance=np.concatenate(
            [np.full(num_tail, pool.TAIL, np.int8), prov.astype(np.int8)]
        ),
    )
    paths = export.save(
        ctx.workdir / "condensed",
        condensed,
        data.user_ids,
        data.item_ids,
        probs=probs,
        metadata={"budget": cfg.budget, "budget_mode": cfg.budget_mode},
        atomic_save_npz=io.atomic_save_npz,
    )
    return condensed, probs, paths


def _eval_models(cfg, data, streams, seed, condensed, full_results):
    """Stage 5: each eval model on the condensed set, a random subset and full data."""
    coo = data.train.tocoo()
    train_users, train_items = coo.row.astype(np.int32), coo.col.astype(np.int32)
    num_train = len(train_users)
    size = min(len(condensed.users), num_train)
    rand_idx = streams.rng("random_subset").choice(num_train, size=size, replace=False)
    per_model = {}
    for name in cfg.eval_models:
        _, cond = _fit(
            name, condensed.users, condensed.items, data, cfg, seed, f"{name}/cond"
        )
        _, rand = _fit(
            name,
            train_users[rand_idx],
            train_items[rand_idx],
            data,
            cfg,
            seed,
            f"{name}/random",
        )
        if name not in full_results:
            _, full_results[name] = _fit_full(name, data, cfg, seed, f"{name}/full")
        full = full_results[name]
        per_model[name] = {
            "condensed": _metrics(cond),
            "random_subset": _metrics(rand),
            "full_data": _metrics(full),
            "epochs": {
                "condensed": cond.epochs,
                "random_subset": rand.epochs,
                "full_data": full.epochs,
            },
        }
    return per_model


def _metrics(result) -> dict[str, float]:
    return {k: float(result.test[k]) for k in METRICS}


def _retention_tables(cfg, per_model) -> dict[str, dict[str, float]]:
    """test / retention / full_data / random_subset sections of results.json."""
    tables = {"test": {}, "retention": {}, "full_data": {}, "random_subset": {}}
    for name, runs in per_model.items():
        for metric in METRICS:
            c, r, f = (
                runs[part][metric]
                for part in ("condensed", "random_subset", "full_data")
            )
            key = f"{name}/{metric}"
            tables["retention"][key] = c / f if f > 0 else float("nan")
            tables["retention"][f"random/{key}"] = r / f if f > 0 else float("nan")
            tables["full_data"][key] = f
            tables["random_subset"][key] = r
            tables["test"][key] = c
    first = cfg.eval_models[0]
    for metric in METRICS:
        tables["test"][metric] = per_model[first]["condensed"][metric]
    return tables


def _mean_logged(path, key: str) -> float:
    """Mean of a scalar over metrics.jsonl (all outer steps, also after a resume)."""
    values = [r[key] for r in io.read_jsonl(path) if key in r]
    return float(np.mean(values)) if values else float("nan")


def _summary(cfg, data, ctx, candidates: _Pool, condensed, probs) -> dict[str, Any]:
    num_users, num_items = data.train.shape
    num_train = int(data.train.nnz)
    pseudo_u, pseudo_i = candidates.pseudo_u, candidates.pseudo_i
    realised = len(condensed.users)
    return {
        "realised_size": realised,
        "realised_ratio": realised / num_train,
        "num_train": num_train,
        "nominal_budget": cfg.budget,
        "budget_mode": cfg.budget_mode,
        "pool_budget": candidates.pool_budget,
        "pool_size": len(candidates.cand.users),
        "num_pseudo_candidates": int(candidates.cand.is_pseudo.sum()),
        "counts": condensed.counts(),
        "unique_pairs": int(condensed.to_csr(num_users, num_items).nnz),
        "final_mode": cfg.final_mode,
        "final_mean_s": float(probs.mean()),
        "final_sum_s": float(probs.sum()),
        "pseudo_in_val": int(
            data.val[pseudo_u, pseudo_i].sum() if len(pseudo_u) else 0
        ),
        "pseudo_in_test": int(
            data.test[pseudo_u, pseudo_i].sum() if len(pseudo_u) else 0
        ),
        "condense_model": cfg.condense_model,
        "eval_model": cfg.eval_models[0],
        "tail_threshold": cfg.tail_threshold,
        "pseudo_share": cfg.pseudo_share,
        "original_init": cfg.original_init,
        "pseudo_ratio": cfg.pseudo_ratio,
        "pseudo_min_per_user": cfg.pseudo_min_per_user,
        "inner_lr": cfg.inner_lr,
        # Spread of the K validation losses per outer step (0 = no outer signal).
        "mean_outer_loss_std": _mean_logged(ctx.writer.path, "condense/loss_std"),
    }


def run(settings: settings_lib.Settings, data, ctx) -> dict[str, Any]:
    """Runs DConRec on `data`; see the module docstring. Returns the results dict."""
    cfg, seed = settings.dconrec, settings.seed
    streams = streams_lib.Streams(STREAMS, seed)
    timings = {}
    t0 = time.perf_counter()
    proxy_model, proxy = _fit_full(cfg.proxy_model, data, cfg, seed, "proxy")
    full_results = {cfg.proxy_model: proxy}
    timings["proxy"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    candidates = _pool(cfg, data, proxy_model, proxy)
    spec, arrays = _condense_inputs(cfg, data, candidates)
    timings["pool"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    state = _condense(cfg, ctx, streams, spec, arrays, candidates.init_prob)
    timings["condense"] = time.perf_counter() - t0
    condensed, probs, paths = _select_and_export(
        cfg, data, ctx, streams, candidates, state
    )
    t0 = time.perf_counter()
    per_model = _eval_models(cfg, data, streams, seed, condensed, full_results)
    timings["eval_models"] = time.perf_counter() - t0
    results = _retention_tables(cfg, per_model)
    ctx.writer.write_scalars(
        cfg.outer_steps + 1,
        {f"retention/{k}": v for k, v in results["retention"].items()},
    )
    results["summary"] = _summary(cfg, data, ctx, candidates, condensed, probs)
    results["per_model"] = per_model
    results["artefacts"] = paths
    results["timings"] = timings
    return results
