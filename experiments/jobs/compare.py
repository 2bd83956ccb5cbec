"""Models trained on the full data, on a distilled summary and on random users.

The comparison a distillation run ends with (`config.distill.compare`): each
model (∞-AE, EASE, Mult-VAE) is trained three times, on

* ``full``: every real user's training rows;
* ``distilled``: the continuous Distill-CF summary (S synthetic users);
* ``random_users``: S real users drawn uniformly (the equal-budget baseline);

each time with λ chosen on the real users' validation items (∞-AE: over
`config.model.reg_grid` and `config.distill.eval_reg_grid` together, since small
supports prefer far smaller λ; EASE: `config.model.ease_reg_grid`; Mult-VAE:
the epoch, by early stopping), then tested once on their test items.
``train_seconds`` is, for the closed-form models, one fit at the chosen λ on dense
rows, timed warm (after a first, compiling fit; blocked until ready), the median
of ``repeats``; for Mult-VAE the training epochs run (evaluations excluded).
``speedup`` is the full-data time over this one.
"""

from __future__ import annotations

import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse as sp

from experiments import settings as settings_lib
from infinite_ae import evaluation, models
from infinite_ae.data import Interactions

TRAINING_SETS = ("full", "distilled", "random_users")


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
) -> dict[str, Any]:
    """One model trained on ``rows`` (None: the full data), tested on real users."""
    if name == "multvae":
        train_rows = data.train if rows is None else rows
        return _multvae(train_rows, data, settings, negatives=negatives, tag=tag)
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
) -> dict[str, dict[str, Any]]:
    """``{model: {training set: record}}`` for each model of `config.distill.compare`.

    Args:
      settings: the run's settings (models, grids, evaluation).
      data: the real interactions (validation and test users).
      training_sets: `TRAINING_SETS` names -> [S, I] rows (None: the full data).
      kernel_spec: the ∞-AE kernel.
      negatives: the shared AUC negatives.

    Returns:
      Per model and training set: ``users``, ``reg``, ``train_seconds``, ``test``
      and ``speedup`` (full-data fit time / this fit time).
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
