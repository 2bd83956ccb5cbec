"""The exhaustive search: every candidate sampler trained alone (the oracle).

AutoSample-style, reconstructed from the abstract: the baseline a sampler search
is measured against, in quality (the best sampler by validation nDCG@10) and in
compute (the sum of every training's wall time).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from infinite_ae.autosample import selector as selector_lib
from infinite_ae.trainers import loop


def fit_record(fit) -> dict[str, Any]:
    """The JSON record of one training (`loop.FitResult` or `SequentialFitResult`)."""
    return {
        "val": fit.val,
        "test": fit.test,
        "seconds": fit.seconds,
        "epochs": fit.epochs,
        "best_epoch": fit.best_epoch,
    }


def each_alone(
    train_one: Callable[[str, dict[str, Any], str], Any],
    samplers: Sequence[selector_lib.SamplerSpec],
    *,
    done: dict[str, dict[str, Any]] | None = None,
    on_result: Callable[[str, dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Trains once per sampler with `train_one(name, options, label)`; picks the
    best on validation nDCG@10.

    Args:
      train_one: one training with the named sampler (returns a fit result).
      samplers: sampler specs.
      done: records already computed (label -> record), e.g. from a cache; they
        are not retrained.
      on_result: called as on_result(label, record) after each new training (to
        cache it).

    Returns:
      {"results": {label (`selector.spec_labels`): `fit_record`},
      "best": label with the highest validation nDCG@10, "seconds": total}.
    """
    results = dict(done or {})
    labels = selector_lib.spec_labels(samplers)
    for label, spec in zip(labels, samplers, strict=True):
        if label in results:
            continue
        name, options = selector_lib.spec_parts(spec)
        record = fit_record(train_one(name, options, label))
        results[label] = record
        if on_result is not None:
            on_result(label, record)
    best = max(labels, key=lambda label: results[label]["val"]["ndcg@10"])
    return {
        "results": {label: results[label] for label in labels},
        "best": best,
        "seconds": sum(results[label]["seconds"] for label in labels),
    }


def exhaustive_search(
    model,
    users,
    items,
    data,
    *,
    samplers: Sequence[selector_lib.SamplerSpec],
    fit_options: dict[str, Any] | None = None,
    seed: int = 0,
    progress: str | None = None,
    done: dict[str, dict[str, Any]] | None = None,
    on_result: Callable[[str, dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Trains `model` once per sampler with `loop.fit` (`each_alone`).

    Args:
      model, users, items, data: as `loop.fit`.
      samplers: sampler specs.
      fit_options: keyword options of `loop.fit`.
      seed: the same seed for every sampler (common initialisation).
      progress: a description prefix for progress bars.
      done, on_result: as `each_alone`.

    Every training starts from cleared compilation caches (`loop.clear_compiled`),
    so its wall time includes its compilation, as in a separate run.

    Returns:
      As `each_alone`.
    """

    def train_one(name, options, label):
        # Each training compiles its own programs, as a separate run would, so
        # the exhaustive search's cost does not borrow earlier compilations.
        loop.clear_compiled()
        return loop.fit(
            model,
            users,
            items,
            data,
            sampler=name,
            sampler_options=options,
            seed=seed,
            progress=progress and f"{progress}/{label}",
            **(fit_options or {}),
        )

    return each_alone(train_one, samplers, done=done, on_result=on_result)
