"""Models trained on the full data, on a distilled summary and on random users.

The comparison a distillation run ends with (`config.distill.compare`): each
model (∞-AE, EASE, Mult-VAE, BPR-MF, LightGCN) is trained three times, on

* ``full``: every real user's training rows;
* ``distilled``: the continuous Distill-CF summary (S synthetic users);
* ``random_users``: S real users drawn uniformly (the equal-budget baseline);

each time with λ chosen on the real users' validation items (∞-AE: over
`config.model.reg_grid` and `config.distill.eval_reg_grid` together, since small
supports prefer far smaller λ; EASE: `config.model.ease_reg_grid`; Mult-VAE:
the epoch, by early stopping), then tested once on their test items.
``train_seconds`` is, for the closed-form models, one fit at the chosen λ on dense
rows, timed warm (after a first, compiling fit; blocked until ready), the median
of ``repeats``; for the trained models the training epochs run (evaluations
excluded). ``speedup`` is the full-data time over this one.

BPR-MF and LightGCN (`trainers.loop.fit`, settings `config.dconrec.eval_settings`)
train on (user, positive item) rows: the real training rows, the random users'
rows, or the summary's rows (`adapters.foldin.summary_rows`, mode
`config.distill.bpr.rows`). Trained on the full data they score the real users
with their own vectors; trained on other users they fold the real users in
(`adapters.foldin`) from their training rows for early stopping on validation
nDCG@10, and from their training + validation rows at test (the test queries every
model sees).
"""

from __future__ import annotations

import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse as sp
from absl import logging

from experiments import settings as settings_lib
from infinite_ae import evaluation, models, trainers
from infinite_ae.adapters import foldin
from infinite_ae.data import Interactions

TRAINING_SETS = ("full", "distilled", "random_users")
BPR_MODELS = ("bprmf", "lightgcn")


def _model(name: str, settings: settings_lib.Settings, kernel_spec, reg: float = 1.0):
    dtype = jnp.float64 if settings.model.dtype == "float64" else jnp.float32
    if name == "infinite_ae":
        return models.InfiniteAE(
            kernel_spec, reg, absolute_reg=settings.model.absolute_reg, dtype=dtype
        )
    return models.EASE(reg, dtype=dtype)


def _grid(name: str, settings: settings_lib.Settings) -> tuple[float, ...]:
    if name == "infinite_ae":
        return tuple(
            sorted({*settings.model.reg_grid, *settings.distill.eval_reg_grid})
        )
    return settings.model.ease_reg_grid


def _fit_seconds(model, rows, repeats: int) -> float:
    """Median warm wall time of ``model.fit(rows)`` (the first fit compiles)."""

    def fit():
        fitted = model.fit(rows)
        jax.block_until_ready(getattr(fitted, "fit_", None) or fitted.weights_)

    fit()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fit()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def _dense(rows: Any) -> np.ndarray:
    return np.asarray(rows.toarray() if sp.issparse(rows) else rows, np.float32)


def _multvae(rows, data, settings, *, negatives, tag: str) -> dict[str, Any]:
    """Mult-VAE trained on ``rows`` with early stopping on the real validation."""
    from experiments.jobs import multvae as multvae_job  # noqa: PLC0415

    result = multvae_job.train(
        settings, rows, data, negatives=negatives, progress=f"multvae/{tag}"
    )
    return {
        "users": int(rows.shape[0]),
        "epochs": result.epochs,
        "best_epoch": result.best_epoch,
        "train_seconds": result.epoch_seconds * result.epochs,
        "test": result.test,
    }


def bpr_rows(
    rows: Any, settings: settings_lib.Settings, *, logits=None, rng=None
) -> tuple[np.ndarray, np.ndarray]:
    """(users, items) BPR rows: the nonzeros of binary rows (real users), else the
    summary's rows by `config.distill.bpr.rows` (`foldin.summary_rows`)."""
    cfg = settings.distill
    if sp.issparse(rows) and np.all(rows.data == 1.0):
        coo = sp.coo_matrix(rows)
        return coo.row.astype(np.int32), coo.col.astype(np.int32)
    return foldin.summary_rows(
        rows,
        mode=cfg.bpr.rows,
        logits=logits,
        rng=rng,
        k=cfg.topk_k or None,
        num_samples=cfg.num_samples,
        threshold=cfg.threshold,
    )


def _bpr_model(name: str, num_users: int, num_items: int, cfg) -> Any:
    kwargs = dict(
        num_users=num_users,
        num_items=num_items,
        embedding_dim=cfg.embedding_dim,
        reg_weight=cfg.reg_weight,
    )
    if name == "lightgcn":
        kwargs["num_layers"] = cfg.num_layers
    return trainers.get_trainer(name)(**kwargs)


def _bpr_fit(name, model, users, items, data, settings, *, eval_embed, tag):
    """`trainers.fit` with the model's `config.dconrec.eval_settings`."""
    cfg, bpr = settings.trainers[name], settings.distill.bpr
    return trainers.fit(
        model,
        users,
        items,
        data,
        learning_rate=cfg.learning_rate,
        batch_size=cfg.batch_size,
        max_epochs=cfg.max_epochs,
        patience=bpr.patience,
        eval_every=bpr.eval_every,
        seed=settings.seed,
        eval_embed=eval_embed,
        compute_test=False,
        log_fn=lambda epoch, record: logging.info(
            "%s/%s epoch %d loss %.4f val ndcg@10 %.3f",
            name,
            tag,
            epoch,
            record["loss"],
            record["val/ndcg@10"],
        ),
        progress=f"{name}/{tag}",
    )


def _select_foldin_reg(model, params, graph, data, settings, name):
    """The fold-in λ of `config.distill.bpr.foldin_reg_grid` best on validation
    nDCG@10 (the metric of early stopping), and every λ's value."""
    bpr = settings.distill.bpr
    history = foldin.prepare_histories(data.train)
    by_reg = {}
    for reg in bpr.foldin_reg_grid:
        embed = foldin.make_eval_embed(model, history, **bpr.foldin_options(name, reg))
        by_reg[reg] = trainers.ranking_metrics(
            *embed(params, graph), data, split="val"
        )["ndcg@10"]
    best = max(by_reg, key=by_reg.get)
    logging.info("%s: fold-in λ %g (validation nDCG@10 by λ: %s)", name, best, by_reg)
    return best, {f"{reg:g}": value for reg, value in by_reg.items()}


def _bpr(name, rows, data, settings, *, negatives, tag, logits=None, rng=None):
    """BPR-MF / LightGCN trained on ``rows`` (None: the full data), early-stopped on
    the real validation, tested on the ∞-AE protocol (module docstring)."""
    cfg, bpr = settings.trainers[name], settings.distill.bpr
    if rows is None:
        coo = data.train.tocoo()
        users, items = coo.row.astype(np.int32), coo.col.astype(np.int32)
        num_users = data.num_users
    else:
        users, items = bpr_rows(rows, settings, logits=logits, rng=rng)
        num_users = int(rows.shape[0])
    model = _bpr_model(name, num_users, data.num_items, cfg)
    val_embed = None
    if rows is not None:
        val_embed = foldin.make_eval_embed(
            model, data.train, **bpr.foldin_options(name)
        )
    result = _bpr_fit(
        name, model, users, items, data, settings, eval_embed=val_embed, tag=tag
    )
    graph = jax.jit(model.make_graph)(
        jnp.asarray(users), jnp.asarray(items), jnp.ones(len(users), jnp.float32)
    )
    record = {"users": num_users, "rows": int(len(users))}
    if rows is None:
        user_emb, item_emb = jax.jit(model.embed)(result.params, graph)
    else:
        reg, record["val_by_foldin_reg"] = _select_foldin_reg(
            model, result.params, graph, data, settings, name
        )
        record["foldin_reg"] = reg
        queries = (data.train + data.val).tocsr()
        embed = foldin.make_eval_embed(model, queries, **bpr.foldin_options(name, reg))
        user_emb, item_emb = embed(result.params, graph)
    user_emb, item_t = jnp.asarray(user_emb), jnp.asarray(item_emb).T
    test = evaluation.evaluate(
        lambda query_rows, batch_users: user_emb[batch_users] @ item_t,
        data,
        split="test",
        ks=settings.eval.ks,
        negatives=negatives,
        **settings.eval.batching(),
    )
    return {
        **record,
        "epochs": result.epochs,
        "best_epoch": result.best_epoch,
        "train_seconds": result.epoch_seconds * result.epochs,
        "val": result.val,
        "test": test,
    }


def train_and_test(
    name: str,
    rows: Any,
    data: Interactions,
    settings: settings_lib.Settings,
    *,
    kernel_spec,
    negatives: np.ndarray | None,
    repeats: int = 3,
    tag: str = "",
    logits: np.ndarray | None = None,
    rng: np.random.Generator | None = None,
) -> dict[str, Any]:
    """One model trained on ``rows`` (None: the full data), tested on real users.

    ``logits`` and ``rng`` serve a summary's "sample" rows (BPR-MF, LightGCN).
    """
    if name == "multvae":
        train_rows = data.train if rows is None else rows
        return _multvae(train_rows, data, settings, negatives=negatives, tag=tag)
    if name in BPR_MODELS:
        return _bpr(
            name,
            rows,
            data,
            settings,
            negatives=negatives,
            tag=tag,
            logits=logits,
            rng=rng,
        )
    support = None if rows is None else rows
    common = dict(ks=settings.eval.ks, batch_size=settings.eval.batch_size)
    model = _model(name, settings, kernel_spec).select_reg(
        data,
        grid=_grid(name, settings),
        metric=settings.model.select_metric,
        support=support,
        **common,
    )
    reg = float(model.reg_)
    train_rows = data.train if rows is None else rows
    # Timed on dense float32 rows, so every training set pays the same conversion.
    train_rows = _dense(train_rows)
    seconds = _fit_seconds(
        _model(name, settings, kernel_spec, reg), train_rows, repeats
    )
    test = evaluation.evaluate(
        model.score,
        data,
        split="test",
        ks=settings.eval.ks,
        negatives=negatives,
        **settings.eval.batching(),
    )
    return {
        "users": int(train_rows.shape[0]),
        "reg": reg,
        "train_seconds": seconds,
        "test": test,
    }


def compare(
    settings: settings_lib.Settings,
    data: Interactions,
    training_sets: dict[str, Any],
    *,
    kernel_spec,
    negatives: np.ndarray | None,
    summary_logits: np.ndarray | None = None,
    rng: np.random.Generator | None = None,
) -> dict[str, dict[str, Any]]:
    """``{model: {training set: record}}`` for each model of `config.distill.compare`.

    Args:
      settings: the run's settings (models, grids, evaluation).
      data: the real interactions (validation and test users).
      training_sets: `TRAINING_SETS` names -> [S, I] rows (None: the full data).
      kernel_spec: the ∞-AE kernel.
      negatives: the shared AUC negatives.
      summary_logits: [S, I] logits of the "distilled" summary ("sample" rows).
      rng: NumPy generator of the "sample" rows.

    Returns:
      Per model and training set: ``users``, ``reg`` (closed forms) or ``epochs``
      (trained models), ``train_seconds``, ``test`` and ``speedup`` (full-data fit
      time / this fit time).
    """
    out = {}
    for name in settings.distill.compare:
        records = {
            set_name: train_and_test(
                name,
                rows,
                data,
                settings,
                kernel_spec=kernel_spec,
                negatives=negatives,
                tag=set_name,
                logits=summary_logits if set_name == "distilled" else None,
                rng=rng,
            )
            for set_name, rows in training_sets.items()
        }
        full = records["full"]["train_seconds"]
        for record in records.values():
            record["speedup"] = full / max(record["train_seconds"], 1e-9)
        out[name] = records
    return out


def format_comparison(
    comparison: dict[str, dict[str, Any]],
    metrics: tuple[str, ...] = ("ndcg@10", "hr@10"),
) -> str:
    """A table: model, training set, users, test metrics, fit time, speed-up."""
    header = ["model", "trained on", "users", *metrics, "train s", "speed-up"]
    rows = [header]
    for name, records in comparison.items():
        for set_name, record in records.items():
            rows.append(
                [
                    name,
                    set_name,
                    str(record["users"]),
                    *(f"{record['test'].get(m, float('nan')):.2f}" for m in metrics),
                    f"{record['train_seconds']:.4f}",
                    f"{record['speedup']:.1f}x",
                ]
            )
    widths = [max(len(r[c]) for r in rows) for c in range(len(header))]
    return "\n".join(
        "  ".join(
            cell.ljust(w) if c < 2 else cell.rjust(w)
            for c, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    )
