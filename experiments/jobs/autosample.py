"""AutoSample job: sampler search, retraining, and (optionally) the exhaustive oracle.

Models: BPR-MF and LightGCN (`config.autosample.trainer`, BPR loss over the
set view) or SASRec and GRU4Rec (`config.sequential`: the backbone, its sampled
loss "bce" / "gbce" and its training, on leave-one-out sequences).

Stages:
1. `model_and_data`: the model (`config.autosample.model`) and its training data.
2. `_search_and_retrain`: `autosample.autosample` (or `autosample.sequential.
   autosample`: search, then retraining with the chosen sampler from the search's
   parameters or from scratch; optionally also from scratch for the comparison),
   one metrics.jsonl line per epoch.
3. `_oracle`: every candidate sampler trained alone (`exhaustive_search`), each
   result cached as it finishes (`config.autosample.oracle_cache`, default
   `<workdir>/oracle/`, keyed by what the training depends on), so an interrupted
   run resumes there and runs that differ only in search settings share it.
4. `_report`: results.json sections and `weights.png` (the weight trajectory).

AutoSample-style, reconstructed from the abstract (infinite_ae/autosample).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import pathlib
import time
from typing import Any

import numpy as np

from experiments import plots
from experiments import settings as settings_lib
from experiments.jobs import sequential as sequential_job
from infinite_ae import autosample, io, trainers
from infinite_ae.data import Interactions, Sequences

Data = Interactions | Sequences


def sampler_specs(cfg: settings_lib.AutoSampleSettings) -> tuple:
    """(name, options) of each candidate sampler, options from the section."""
    options = {
        "popularity": {"gamma": cfg.popularity_gamma},
        "dns": {"num_candidates": cfg.num_candidates},
        "softmax_dns": {
            "num_candidates": cfg.num_candidates,
            "temperature": cfg.softmax_temperature,
        },
        "aobpr": {"rank_scale": cfg.aobpr_rank_scale},
        "mixgcf": {"num_candidates": cfg.num_candidates},
    }
    return tuple((name, options.get(name, {})) for name in cfg.samplers)


def _sequential(cfg: settings_lib.AutoSampleSettings) -> bool:
    return cfg.model in settings_lib.SEQUENTIAL_MODELS


def model_and_data(settings: settings_lib.Settings, data: Data):
    """(model, training data): (SASRec / GRU4Rec, (sequences,)) or (BPR-MF /
    LightGCN, (users, items, data))."""
    cfg = settings.autosample
    if _sequential(cfg):
        model = sequential_job.build_model(settings.sequential, data.num_items)
        return model, (data,)
    trainer = cfg.trainer
    kwargs = dict(
        num_users=data.num_users,
        num_items=data.num_items,
        embedding_dim=trainer.embedding_dim,
        reg_weight=trainer.reg_weight,
    )
    if cfg.model == "lightgcn":
        kwargs["num_layers"] = trainer.num_layers
    model = trainers.get_trainer(cfg.model)(**kwargs)
    coo = data.train.tocoo()
    return model, (coo.row.astype(np.int32), coo.col.astype(np.int32), data)


def fit_options(cfg, sequential=None) -> dict[str, Any]:
    """Options of the retraining and the oracle's trainings: `loop.fit`'s from the
    section, or `fit_sequential`'s from ``sequential`` (`config.sequential`) for
    SASRec / GRU4Rec."""
    if _sequential(cfg):
        return dict(
            gbce_t=sequential.gbce_t,
            learning_rate=sequential.learning_rate,
            batch_size=sequential.batch_size,
            max_epochs=sequential.max_epochs,
            patience=sequential.patience,
            eval_every=sequential.eval_every,
            mask_history=sequential.mask_history,
            ks=sequential.ks,
            min_batches_per_epoch=sequential.min_batches_per_epoch,
        )
    return dict(
        learning_rate=cfg.trainer.learning_rate,
        batch_size=cfg.trainer.batch_size,
        max_epochs=cfg.trainer.max_epochs,
        patience=cfg.patience,
        test_mask=cfg.test_mask,
        ks=cfg.ks,
    )


def search_options(cfg, sequential=None) -> dict[str, Any]:
    """Options of the search function of `cfg.mode` (the model's learning rate and
    batch size from ``sequential`` for SASRec / GRU4Rec)."""
    trainer = sequential if _sequential(cfg) else cfg.trainer
    common = dict(
        epochs=cfg.search_epochs,
        learning_rate=trainer.learning_rate,
        batch_size=trainer.batch_size,
        select_fraction=cfg.select_fraction,
    )
    if cfg.mode == "bandit":
        return dict(
            common, gamma=cfg.bandit_gamma, reward_scale=cfg.bandit_reward_scale
        )
    return dict(
        common,
        arch_learning_rate=cfg.arch_learning_rate,
        temperature=(cfg.temperature_start, cfg.temperature_end),
        xi=cfg.xi or None,
        val_batch_size=cfg.val_batch_size,
        val_objective=cfg.val_objective,
    )


def _search_and_retrain(settings, model, train_data, writer):
    cfg, seq = settings.autosample, settings.sequential
    offsets = {"search": 0, "retrain": 10_000, "scratch": 20_000}

    def log(stage, epoch, record):
        scalars = {
            f"{stage}/{k}": v
            for k, v in record.items()
            if isinstance(v, int | float) and k != "epoch"
        }
        writer.write_scalars(offsets[stage] + epoch, scalars)

    common = dict(
        samplers=sampler_specs(cfg),
        retrain_init=cfg.retrain_init,
        compare_scratch=cfg.compare_scratch,
        search_options=search_options(cfg, seq),
        fit_options=fit_options(cfg, seq),
        seed=settings.seed,
        progress="autosample",
        log_fn=log,
    )
    if _sequential(cfg):
        return autosample.sequential.autosample(
            model,
            *train_data,
            loss=seq.loss,
            num_negatives=seq.num_negatives,
            **common,
        )
    return autosample.autosample(model, *train_data, mode=cfg.mode, **common)


def oracle_entry(cfg, data: Data, seed: int, spec, sequential=None) -> str:
    """Cache file name of one sampler trained alone: its label and a hash of
    everything that training depends on (data, model, trainer, sampler, seed),
    so search settings can change without invalidating it."""
    trainer = sequential if _sequential(cfg) else cfg.trainer
    meta = {
        "data": data.checksum(),
        "model": cfg.model,
        "trainer": dataclasses.asdict(trainer),
        "fit": {
            k: list(v) if isinstance(v, tuple) else v
            for k, v in fit_options(cfg, sequential).items()
        },
        "sampler": list(autosample.selector.spec_parts(spec)),
        "seed": seed,
    }
    digest = hashlib.sha256(json.dumps(meta, sort_keys=True).encode()).hexdigest()
    return f"{autosample.selector.spec_parts(spec)[0]}-{digest[:12]}.json"


def exhaustive_search(
    settings: settings_lib.Settings,
    model,
    train_data: tuple,
    specs,
    *,
    seed: int,
    progress: str,
    done=None,
    on_result=None,
) -> dict[str, Any]:
    """Each sampler spec trained alone with `seed` (`autosample.exhaustive_search`
    or its sequential counterpart, by the model)."""
    cfg, seq = settings.autosample, settings.sequential
    common = dict(
        samplers=specs,
        fit_options=fit_options(cfg, seq),
        seed=seed,
        progress=progress,
        done=done,
        on_result=on_result,
    )
    if _sequential(cfg):
        return autosample.sequential.exhaustive_search(
            model, *train_data, loss=seq.loss, num_negatives=seq.num_negatives, **common
        )
    return autosample.exhaustive_search(model, *train_data, **common)


def _oracle(settings, model, train_data, workdir: pathlib.Path):
    """Every sampler alone, each cached in `cfg.oracle_cache` (default
    `<workdir>/oracle`) under `oracle_entry`."""
    cfg, data = settings.autosample, train_data[-1]
    cache = pathlib.Path(cfg.oracle_cache) if cfg.oracle_cache else workdir / "oracle"
    cache.mkdir(parents=True, exist_ok=True)
    specs = sampler_specs(cfg)
    labels = autosample.selector.spec_labels(specs)
    paths = {
        label: cache / oracle_entry(cfg, data, settings.seed, spec, settings.sequential)
        for label, spec in zip(labels, specs, strict=True)
    }
    done = {}
    for label, path in paths.items():
        if path.exists():
            done[label] = json.loads(path.read_text())
    return exhaustive_search(
        settings,
        model,
        train_data,
        specs,
        seed=settings.seed,
        progress="oracle",
        done=done,
        on_result=lambda label, record: io.atomic_write_json(paths[label], record),
    )


def _report(result, oracle, workdir: pathlib.Path) -> dict[str, Any]:
    search = result.search
    plots.sampler_weights_figure(
        search.trajectory.tolist(),
        list(search.labels),
        workdir / "weights.png",
        title=f"AutoSample ({search.mode}): chose {search.selected_label}",
    )
    out = {
        "test": result.retrain.test,
        "val": result.retrain.val,
        "autosample": {
            "selected": search.selected_label,
            "mode": search.mode,
            "labels": list(search.labels),
            "weights": dict(zip(search.labels, search.weights.tolist(), strict=True)),
            "trajectory": search.trajectory.tolist(),
            "search_history": search.history,
            "retrain_init": result.retrain_init,
            "retrain": autosample.oracle.fit_record(result.retrain),
            "search_seconds": search.seconds,
            "total_seconds": result.seconds,
        },
    }
    if result.scratch is not None:
        out["scratch"] = autosample.oracle.fit_record(result.scratch)
    if oracle is not None:
        out["oracle"] = dict(
            oracle,
            autosample_over_exhaustive_seconds=result.seconds / oracle["seconds"],
        )
    return out


def run(settings: settings_lib.Settings, data: Data, ctx) -> dict[str, Any]:
    """Searches, retrains and reports (see the module docstring)."""
    cfg = settings.autosample
    model, train_data = model_and_data(settings, data)
    t0 = time.perf_counter()
    result = _search_and_retrain(settings, model, train_data, ctx.writer)
    timings = {"search": result.search.seconds, "retrain": result.retrain.seconds}
    oracle = None
    if cfg.oracle:
        t1 = time.perf_counter()
        oracle = _oracle(settings, model, train_data, ctx.workdir)
        timings["oracle"] = time.perf_counter() - t1
    out = _report(result, oracle, ctx.workdir)
    timings["autosample_total"] = time.perf_counter() - t0
    out["timings"] = timings
    return out


def format_summary(results: dict[str, Any], metrics=("ndcg@20", "recall@20")) -> str:
    """The chosen sampler, its weights and a table of the trainings run."""
    info = results["autosample"]
    weights = ", ".join(f"{k} {v:.3f}" for k, v in info["weights"].items())
    lines = [
        f"AutoSample ({info['mode']}): chose {info['selected']} (weights {weights})",
        f"search {info['search_seconds']:.1f} s + retrain "
        f"{info['retrain']['seconds']:.1f} s = {info['total_seconds']:.1f} s",
    ]
    rows = [("trained with", "val ndcg@10", *(f"test {m}" for m in metrics), "s")]

    def add(name, record):
        rows.append(
            (
                name,
                f"{record['val']['ndcg@10']:.2f}",
                *(f"{record['test'].get(m, float('nan')):.2f}" for m in metrics),
                f"{record['seconds']:.1f}",
            )
        )

    add(f"autosample ({info['retrain_init']} init)", info["retrain"])
    if "scratch" in results:
        add("chosen, from scratch", results["scratch"])
    oracle = results.get("oracle")
    if oracle:
        for label, record in oracle["results"].items():
            add(
                f"alone: {label}" + (" (oracle)" if label == oracle["best"] else ""),
                record,
            )
        lines.append(
            f"exhaustive search {oracle['seconds']:.1f} s; AutoSample used "
            f"{oracle['autosample_over_exhaustive_seconds']:.2f} of it"
        )
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    lines.extend(
        "  ".join(
            cell.ljust(w) if c == 0 else cell.rjust(w)
            for c, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    )
    return "\n".join(lines)
