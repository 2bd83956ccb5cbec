"""DConRec job: proxy -> pseudo-positives -> condensation -> eval models -> retention.

`run(config, data, ctx)` reads `config.dconrec` (configs/dconrec_section.py). Stages:
  1. proxy model trained to convergence on the full training split (its test metrics
     double as the full-data reference of the same eval model when the settings match);
  2. pseudo-positives, tail set and candidate pool;
  3. the outer loop with checkpoints of (s, Adam state, grad sum, step) every
     `checkpoint_every` steps; keys fold_in(base, step), so a killed run resumes to the
     identical result;
  4. the final selection (topk or sample), export with provenance;
  5. each eval model trained on: the condensed set, a uniform random subset of the
     training split of the same realised size, and the full training split.
Evaluation masks the ORIGINAL training items (RecBole full sort; DConRec protocol).

`preset="official_code"` forces the official behaviour (`OFFICIAL_OVERRIDES`); the
`clean` preset keeps every choice a config flag: the inner lr (the official 5e-4
gives no outer signal, see configs/dconrec_ml1m.py), `pseudo_share` (initial share of
s on pseudo-positives; None = uniform, official), `original_init` (uniform, official,
or per-user water-filling; `pool.initial_probs`), `budget_mode`, `final_mode`, CRN and
the mean baseline. results.json: "test" (condensed-data metrics, `<model>/<metric>`
and the first eval model's plain keys), "retention" (`<model>/<metric>` and
`random/<model>/<metric>` as fractions of full data), "full_data", "random_subset",
"summary" (realised size and ratio to N_tr, provenance counts, budget, mean spread of
the K outer losses), "per_model", "artefacts", "timings".
"""

from __future__ import annotations

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

from infinite_ae import io, trainers
from infinite_ae.dconrec import condense, export, pool
from infinite_ae.trainers import loop, negatives

METRICS = ("recall@5", "recall@10", "ndcg@5", "ndcg@10")

# Test hook: called as hook(step) after outer step `step` (1-based) is logged and
# checkpointed; raising from it simulates a killed run.
_after_step_hook: Callable[[int], None] | None = None


@functools.cache
def _step_fn(spec: condense.StaticSpec):
    """The outer step jitted once per static spec (shared by resumed runs)."""
    return jax.jit(functools.partial(condense.outer_step, spec=spec))


def _model(name: str, data, settings) -> Any:
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


def _fit(name, users, items, data, cfg, seed, ctx, tag):
    settings = cfg.eval_settings[name]
    model = _model(name, data, settings)

    def log_fn(epoch, record):
        logging.info(
            "%s epoch %d loss %.4f val ndcg@10 %.3f",
            tag,
            epoch,
            record["loss"],
            record["val/ndcg@10"],
        )

    result = trainers.fit(
        model,
        users,
        items,
        data,
        learning_rate=settings.learning_rate,
        batch_size=settings.batch_size,
        max_epochs=settings.max_epochs,
        patience=cfg.patience,
        seed=seed,
        test_mask=cfg.test_mask,
        log_fn=log_fn,
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
        "settings": cfg.eval_settings[name].to_dict(),
        "patience": cfg.patience,
        "test_mask": cfg.test_mask,
        "seed": seed,
    }
    h.update(json.dumps(meta, sort_keys=True).encode())
    return h.hexdigest()[:16]


def _fit_full(name, data, cfg, seed, ctx, tag):
    """`_fit` on the full training split, through `cfg.reference_cache` if set.

    The proxy and the full-data references depend only on the data, the model
    settings and the seed, so runs that differ in condensation settings (the
    cross-model table, budget sweeps) can share them: the cache holds the best
    parameters (NPZ) and the metrics (JSON) under a fingerprint of those inputs.
    """
    coo = data.train.tocoo()
    users, items = coo.row.astype(np.int32), coo.col.astype(np.int32)
    if not cfg.reference_cache:
        return _fit(name, users, items, data, cfg, seed, ctx, tag)
    settings = cfg.eval_settings[name]
    model = _model(name, data, settings)
    entry = (
        pathlib.Path(cfg.reference_cache)
        / f"{name}-{_fingerprint(name, data, cfg, seed)}"
    )
    if (entry / "result.json").exists():
        meta = json.loads((entry / "result.json").read_text())
        params = io.restore_checkpoint(entry, 0, model.init(jax.random.key(0)))
        logging.info("%s: full-data fit loaded from %s", tag, entry)
        return model, loop.FitResult(params=params, **meta)
    model, result = _fit(name, users, items, data, cfg, seed, ctx, tag)
    io.save_checkpoint(entry, 0, result.params)
    meta = {k: v for k, v in vars(result).items() if k != "params"}
    io.atomic_write_json(entry / "result.json", meta)
    return model, result


OFFICIAL_OVERRIDES = {
    "variance_reduction": False,
    "common_random_numbers": False,
    "budget_mode": "official",
    "final_mode": "sample",
    "inner_lr": 5e-4,
    "pseudo_share": None,
    "original_init": "uniform",
    "outer_lr_schedule": {"0": 0.01, "70": 1e-3, "140": 1e-4, "210": 1e-5},
}
"""What `preset="official_code"` forces on top of quirks 2, 4, 7, 8 (dconrec.md §9):
no baseline and independent inner keys (quirk 6), the official budget (quirk 3), one
Bernoulli draw at the end, the official inner lr and uniform init, the effective lr
schedule of quirk 1. Dataset knobs (ρ, tail threshold, pseudo ratio, steps) stay."""


def _effective_section(section):
    """The dconrec section with the `official_code` overrides applied (a copy)."""
    if section.preset not in ("clean", "official_code"):
        raise ValueError(f"preset {section.preset!r}; valid: clean, official_code")
    if section.preset == "clean":
        return section
    section = section.copy_and_resolve_references()
    with section.unlocked():
        for key, value in OFFICIAL_OVERRIDES.items():
            if key == "pseudo_share":
                section.pseudo_share = None
            else:
                section[key] = value
    return section


def _mean_logged(path, key: str) -> float:
    """Mean of a scalar over metrics.jsonl (all outer steps, also after a resume)."""
    values = [r[key] for r in io.read_jsonl(path) if key in r]
    return float(np.mean(values)) if values else float("nan")


def _metrics(result) -> dict[str, float]:
    return {k: float(result.test[k]) for k in METRICS}


def run(config, data, ctx) -> dict[str, Any]:
    """Runs DConRec on `data`; see the module docstring. Returns the results dict."""
    cfg = _effective_section(config.dconrec)
    timings = {}
    t0 = time.perf_counter()
    seed = int(ctx.seed)
    base_key = jax.random.key(seed)
    train = data.train.tocsr()
    coo = train.tocoo()
    train_users, train_items = coo.row.astype(np.int32), coo.col.astype(np.int32)
    num_users, num_items = train.shape
    num_train = int(train.nnz)

    # 1. Proxy (and full-data reference of the same model).
    proxy_model, proxy = _fit_full(cfg.proxy_model, data, cfg, seed, ctx, "proxy")
    full_results = {cfg.proxy_model: proxy}
    timings["proxy"] = time.perf_counter() - t0

    # 2. Pseudo-positives, tail, pool, budget.
    t1 = time.perf_counter()
    proxy_graph = proxy_model.make_graph(
        jnp.asarray(train_users), jnp.asarray(train_items), jnp.ones(num_train)
    )
    user_emb, item_emb = proxy_model.embed(proxy.params, proxy_graph)
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
    num_cand = len(cand.users)
    num_tail = len(cand.tail_users)
    if cfg.budget_mode == "strict":
        total_budget = cfg.budget * num_train
        pool_budget = max(total_budget - num_tail, 0.0)
        init_mass = pool_budget
    elif cfg.budget_mode == "official":
        pool_budget = cfg.budget * num_cand
        init_mass = cfg.budget * num_train
    else:
        raise ValueError(f"budget_mode {cfg.budget_mode!r}; valid: strict, official")
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

    inner_model = _model(
        cfg.condense_model, data, cfg.eval_settings[cfg.condense_model]
    )
    capacity = condense.default_capacity(pool_budget, num_cand)
    spec = condense.StaticSpec(
        model=inner_model,
        num_masks=cfg.num_masks,
        capacity=capacity,
        batch_size=cfg.inner_batch_size,
        baseline=cfg.variance_reduction,
        common_random_numbers=cfg.common_random_numbers,
        accumulate_grad=cfg.preset == "official_code",
        projection=cfg.projection,
        inner_exclude="train" if cfg.preset == "official_code" else "pool",
    )
    if spec.inner_exclude == "pool":
        inner_ex = negatives.exclusion_keys(
            np.concatenate([train_users, cand.users]),
            np.concatenate([train_items, cand.items]),
            num_items,
        )
    else:
        inner_ex = negatives.exclusion_keys(train_users, train_items, num_items)
    known = (data.train + data.val + data.test).tocoo()
    val_coo = data.val.tocoo()
    arrays = condense.Arrays(
        pool_users=jnp.asarray(cand.users),
        pool_items=jnp.asarray(cand.items),
        tail_users=jnp.asarray(cand.tail_users),
        tail_items=jnp.asarray(cand.tail_items),
        val_users=jnp.asarray(val_coo.row.astype(np.int32)),
        val_items=jnp.asarray(val_coo.col.astype(np.int32)),
        inner_excluded=jnp.asarray(inner_ex),
        val_excluded=jnp.asarray(
            negatives.exclusion_keys(known.row, known.col, num_items)
        ),
        budget=jnp.float32(pool_budget),
        inner_lr=jnp.float32(cfg.inner_lr),
    )
    timings["pool"] = time.perf_counter() - t1

    # 3. Outer loop with checkpoints.
    t2 = time.perf_counter()
    schedule = condense.outer_lr_schedule(
        {int(k): float(v) for k, v in cfg.outer_lr_schedule.items()}
    )
    state = condense.init_state(num_cand, init_prob)
    start_step = 0
    latest = io.latest_checkpoint(ctx.checkpoint_dir)
    if latest is not None:
        state = io.restore_checkpoint(ctx.checkpoint_dir, latest, state)
        start_step = int(state.step)
        logging.info("resumed DConRec at outer step %d", start_step)
    step_fn = _step_fn(spec)
    condense_key = jax.random.fold_in(base_key, 1)
    history = []
    for step in range(start_step, cfg.outer_steps):
        state, stats = step_fn(
            state, jax.random.fold_in(condense_key, step), arrays, schedule(step)
        )
        record = {f"condense/{k}": float(v) for k, v in stats.items()}
        record["condense/lr"] = float(schedule(step))
        if not all(math.isfinite(v) for v in record.values()):
            raise FloatingPointError(f"non-finite condensation stats at step {step}")
        ctx.writer.write_scalars(step + 1, record)
        history.append(record)
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
    timings["condense"] = time.perf_counter() - t2

    # 4. Final selection and export.
    probs = np.asarray(state.probs)
    selected = condense.select_final(
        probs,
        mode=cfg.final_mode,
        budget=pool_budget,
        sample_key=jax.random.fold_in(base_key, 2),
    )
    prov = np.where(cand.is_pseudo[selected], pool.PSEUDO, pool.ORIGINAL)
    condensed = export.Condensed(
        users=np.concatenate([cand.tail_users, cand.users[selected]]).astype(np.int32),
        items=np.concatenate([cand.tail_items, cand.items[selected]]).astype(np.int32),
        provenance=np.concatenate(
            [np.full(num_tail, pool.TAIL, np.int8), prov.astype(np.int8)]
        ),
    )
    realised = len(condensed.users)
    paths = export.save(
        ctx.workdir / "condensed",
        condensed,
        data.user_ids,
        data.item_ids,
        probs=probs,
        metadata={"budget": cfg.budget, "budget_mode": cfg.budget_mode},
        atomic_save_npz=io.atomic_save_npz,
    )

    # 5. Eval models: condensed, random subset of the same size, full data.
    t3 = time.perf_counter()
    rng = np.random.default_rng(seed + 17)
    rand_idx = rng.choice(num_train, size=min(realised, num_train), replace=False)
    results = {"test": {}, "retention": {}, "full_data": {}, "random_subset": {}}
    per_model = {}
    for name in cfg.eval_models:
        _, cond = _fit(
            name, condensed.users, condensed.items, data, cfg, seed, ctx, f"{name}/cond"
        )
        _, rand = _fit(
            name,
            train_users[rand_idx],
            train_items[rand_idx],
            data,
            cfg,
            seed,
            ctx,
            f"{name}/random",
        )
        if name not in full_results:
            _, full_results[name] = _fit_full(
                name, data, cfg, seed, ctx, f"{name}/full"
            )
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
        for metric in METRICS:
            c, r, f = (
                per_model[name]["condensed"][metric],
                per_model[name]["random_subset"][metric],
                per_model[name]["full_data"][metric],
            )
            results["retention"][f"{name}/{metric}"] = c / f if f > 0 else float("nan")
            results["retention"][f"random/{name}/{metric}"] = (
                r / f if f > 0 else float("nan")
            )
            results["full_data"][f"{name}/{metric}"] = f
            results["random_subset"][f"{name}/{metric}"] = r
            results["test"][f"{name}/{metric}"] = c
    timings["eval_models"] = time.perf_counter() - t3
    first = cfg.eval_models[0]
    for metric in METRICS:
        results["test"][metric] = per_model[first]["condensed"][metric]
    ctx.writer.write_scalars(
        cfg.outer_steps + 1,
        {f"retention/{k}": v for k, v in results["retention"].items()},
    )
    counts = condensed.counts()
    results["summary"] = {
        "realised_size": realised,
        "realised_ratio": realised / num_train,
        "num_train": num_train,
        "nominal_budget": cfg.budget,
        "budget_mode": cfg.budget_mode,
        "pool_budget": pool_budget,
        "pool_size": num_cand,
        "num_pseudo_candidates": int(cand.is_pseudo.sum()),
        "counts": counts,
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
        "eval_model": first,
        "tail_threshold": cfg.tail_threshold,
        "pseudo_share": cfg.pseudo_share,
        "original_init": cfg.original_init,
        "pseudo_ratio": cfg.pseudo_ratio,
        "pseudo_min_per_user": cfg.pseudo_min_per_user,
        "inner_lr": cfg.inner_lr,
        # Spread of the K validation losses per outer step (0 = no outer signal).
        "mean_outer_loss_std": _mean_logged(ctx.writer.path, "condense/loss_std"),
    }
    results["per_model"] = per_model
    results["artefacts"] = paths
    results["timings"] = timings
    return results
