"""AutoSample-style search for sequential recommenders' sampled losses.

Reconstructed from the abstract, as the rest of `infinite_ae.autosample`. SASRec and
GRU4Rec trained with a sampled loss ("bce" or "gbce", `trainers.sequential`) draw
k negatives per position from each of the S candidate samplers; the per-sampler
losses share one forward pass, and the sampler weights follow the hypergradient of
a validation loss on validation next items (the user's training prefix as input),
exactly as for BPR models (`selector.mixture_update`). `exhaustive_search` trains
each sampler alone (the oracle).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from infinite_ae.autosample import oracle, selector
from infinite_ae.autosample.unroll import VAL_OBJECTIVES
from infinite_ae.trainers import loop
from infinite_ae.trainers import negatives as negatives_lib
from infinite_ae.trainers import sequential as sequential_lib
from infinite_ae.types import Array, PRNGKey, PyTree


def sampler_losses(
    model,
    params: PyTree,
    inputs: Array,
    targets: Array,
    weights: Array,
    negatives: Sequence[Array],
    dropout_key: PRNGKey | None,
    *,
    loss: str,
    gbce_t=0.75,
) -> Array:
    """[S] sampled losses of a batch of windows, one per sampler's [B, L, k]
    negatives, on one forward pass."""
    hidden = model.hidden(params, inputs, dropout_key=dropout_key)
    table = model.output_embeddings(params)
    return jnp.stack(
        [
            sequential_lib.sequence_loss(
                hidden,
                table,
                targets,
                weights,
                loss=loss,
                negatives=negs,
                gbce_t=gbce_t,
            )[0]
            for negs in negatives
        ]
    )


def validation_loss(
    model,
    params: PyTree,
    histories: Array,
    items: Array,
    *,
    objective: str = "top_bpr",
    top_k: int = 20,
) -> Array:
    """A sampler-independent loss of the validation next items over all items.

    "softmax": mean full-softmax cross-entropy. "top_bpr" (top-heavy, as the ranking
    metrics; `unroll.validation_loss` for BPR models): mean softplus(s_j - s_i) over
    the `top_k` items the model currently ranks highest (chosen without gradient),
    the target and the user's history items (masked at evaluation) left out.

    Args:
      model: `SASRec` or `GRU4Rec` (`scores`).
      params: its parameters.
      histories: [Bv, L] inputs (item + 1, right-aligned) before the validation item.
      items: [Bv] int32 validation items (0-based).
      objective: "softmax" or "top_bpr" (static).
      top_k: competitors per row ("top_bpr"; fewer where fewer items remain).
    """
    if objective not in VAL_OBJECTIVES:
        raise ValueError(f"objective must be one of {VAL_OBJECTIVES}")
    logits = model.scores(params, histories)
    target = jnp.take_along_axis(logits, items[:, None], axis=1)[:, 0]
    if objective == "softmax":
        return jnp.mean(jax.nn.logsumexp(logits, axis=1) - target)
    rows = jnp.arange(histories.shape[0])
    blocked = jnp.zeros((logits.shape[0], logits.shape[1] + 1), bool)
    blocked = blocked.at[rows[:, None], histories].set(True)[:, 1:]
    blocked = blocked.at[rows, items].set(True)
    ranked = jnp.where(blocked, -jnp.inf, jax.lax.stop_gradient(logits))
    top_scores, top = jax.lax.top_k(ranked, min(top_k, logits.shape[1]))
    valid = jnp.isfinite(top_scores)
    gaps = jnp.take_along_axis(logits, top, axis=1) - target[:, None]
    pairs = jnp.where(valid, jax.nn.softplus(gaps), 0.0)
    return jnp.sum(pairs) / jnp.maximum(jnp.sum(valid), 1)


def search_epoch(
    state: selector.SearchState,
    epoch_key: PRNGKey,
    inputs: Array,
    targets: Array,
    weights: Array,
    val_histories: Array,
    val_items: Array,
    temperature: Array,
    xi: Array,
    *,
    model,
    samplers: tuple,
    batch_size: int,
    val_batch_size: int,
    loss: str,
    num_negatives: int,
    objective: str = "validation",
    val_objective: str = "top_bpr",
) -> tuple[selector.SearchState, dict[str, Array]]:
    """One search epoch over training windows (see `selector.search_epoch`).

    Batch b draws sampler s's negatives with `fold_in(fold_in(neg_key, b), s)`,
    its dropout with `fold_in(dropout_key, b)` and `val_batch_size` validation
    users with `fold_in(val_key, b)`.

    Args:
      state: `selector.SearchState` (its train state's sampler_state: S states).
      epoch_key: key of the epoch.
      inputs, targets: [M, L] int32 windows (item + 1; 0 = padding / no target).
      weights: [M] float32 row weights (0 = padding).
      val_histories: [V, L] inputs of the validation users; val_items: [V] items.
      temperature, xi: traced.
      model, samplers, batch_size, val_batch_size, loss, num_negatives,
        objective, val_objective (`validation_loss`): static.
    """
    if objective not in selector.OBJECTIVES:
        raise ValueError(f"objective must be one of {selector.OBJECTIVES}")
    num_rows = inputs.shape[0]
    weights = weights.astype(jnp.float32)
    nb = loop.num_batches(num_rows, batch_size)
    pad = nb * batch_size - num_rows
    perm_key, neg_key, dropout_key, val_key = jax.random.split(epoch_key, 4)
    order = jnp.argsort(
        jnp.where(weights > 0, jax.random.uniform(perm_key, (num_rows,)), 2.0)
    )

    def batches(x):
        x = jnp.pad(x[order], [(0, pad)] + [(0, 0)] * (x.ndim - 1))
        return x.reshape((nb, batch_size) + x.shape[1:])

    use_dropout = getattr(model, "dropout_rate", 0.0) > 0

    def body(state, xs):
        b, x, y, w = xs
        train = state.train
        draws = [
            sequential_lib.batch_negatives(
                jax.random.fold_in(jax.random.fold_in(neg_key, b), s),
                model,
                sampler,
                train._replace(sampler_state=sampler_state),
                x,
                y,
                num_negatives,
            )
            for s, (sampler, sampler_state) in enumerate(
                zip(samplers, train.sampler_state, strict=True)
            )
        ]
        negs = tuple(d[0] for d in draws)
        drop = jax.random.fold_in(dropout_key, b) if use_dropout else None
        losses, vjp = jax.vjp(
            lambda p: sampler_losses(model, p, x, y, w, negs, drop, loss=loss),
            train.params,
        )
        (grads,) = jax.vmap(vjp)(jnp.eye(len(samplers), dtype=losses.dtype))
        val_fn = None
        if objective == "validation":
            rows = jax.random.randint(
                jax.random.fold_in(val_key, b),
                (val_batch_size,),
                0,
                val_items.shape[0],
            )
            val_fn = functools.partial(
                validation_loss,
                model,
                histories=val_histories[rows],
                items=val_items[rows],
                objective=val_objective,
            )
        count = jnp.sum(w[:, None] * (y > 0))
        return selector.mixture_update(
            state,
            losses,
            grads,
            tuple(d[1] for d in draws),
            val_fn,
            temperature,
            xi,
            count,
            optimizer=loop.make_optimizer(),
            arch_optimizer=selector.make_arch_optimizer(),
        )

    state, outputs = jax.lax.scan(
        body,
        state,
        (jnp.arange(nb), batches(inputs), batches(targets), batches(weights)),
    )
    return state, selector.epoch_stats(outputs)


@functools.cache
def _jitted_epoch(
    model, samplers, batch_size, val_batch_size, loss, k, objective, val_objective
):
    return jax.jit(
        functools.partial(
            search_epoch,
            model=model,
            samplers=samplers,
            batch_size=batch_size,
            val_batch_size=val_batch_size,
            loss=loss,
            num_negatives=k,
            objective=objective,
            val_objective=val_objective,
        ),
        donate_argnums=0,
    )


def _validation_rows(sequences, max_len: int) -> tuple[np.ndarray, np.ndarray]:
    users = np.flatnonzero(sequences.val_items >= 0)
    if users.size == 0:
        raise ValueError("the search needs validation items (none in sequences)")
    histories = sequences.history(users, split="val", max_len=max_len)
    return histories, sequences.val_items[users].astype(np.int32)


def search(
    model,
    sequences,
    *,
    samplers: Sequence[selector.SamplerSpec],
    loss: str = "bce",
    num_negatives: int = 1,
    epochs: int = 10,
    learning_rate: float = 1e-3,
    arch_learning_rate: float = 3e-3,
    temperature: tuple[float, float] = (1.0, 0.2),
    xi: float | None = None,
    batch_size: int = 128,
    val_batch_size: int = 256,
    max_len: int | None = None,
    objective: str = "validation",
    val_objective: str = "top_bpr",
    select_fraction: float = 0.3,
    seed: int = 0,
    progress: str | None = None,
    log_fn: Callable[[int, dict[str, float]], None] | None = None,
) -> selector.SearchResult:
    """The annealed weighted search for a sequential model's sampled loss.

    Args:
      model: `SASRec` or `GRU4Rec`.
      sequences: `data.Sequences` (training windows; validation items drive the
        weights).
      samplers: S candidate sampler specs (not MixGCF).
      loss: "bce" or "gbce".
      num_negatives: k per position.
      max_len: window length L (default `model.max_len`).
      val_objective: the validation loss, "top_bpr" or "softmax"
        (`validation_loss`).
      Others: as `selector.search`.
    """
    start = time.perf_counter()
    if loss not in ("bce", "gbce"):
        raise ValueError(f"the search needs a sampled loss (bce, gbce), got {loss!r}")
    if val_objective not in VAL_OBJECTIVES:
        raise ValueError(
            f"val_objective must be one of {VAL_OBJECTIVES}, got {val_objective!r}"
        )
    max_len = model.max_len if max_len is None else max_len
    sampler_objs = selector.build_samplers(samplers, model.num_items)
    inputs, targets = sequences.training_windows(max_len)
    rows = sequential_lib.pad_windows(inputs, targets, multiple=batch_size)
    counts = np.bincount(rows[1].ravel(), minlength=model.num_items + 1)[1:]
    states = tuple(
        negatives_lib.init_sampler_state(s, counts, model) for s in sampler_objs
    )
    base_key = jax.random.key(seed)
    train = sequential_lib.init_train_state(
        model, jax.random.fold_in(base_key, 0), learning_rate, states
    )
    state = selector.init_search_state(train, len(sampler_objs), arch_learning_rate)
    epoch_fn = _jitted_epoch(
        model,
        sampler_objs,
        batch_size,
        val_batch_size,
        loss,
        num_negatives,
        objective,
        val_objective,
    )
    rows = tuple(jnp.asarray(x) for x in rows)
    val = tuple(jnp.asarray(x) for x in _validation_rows(sequences, max_len))

    def run_epoch(state, epoch, t):
        return epoch_fn(
            state,
            jax.random.fold_in(base_key, epoch + 1),
            *rows,
            *val,
            jnp.float32(t),
            jnp.float32(learning_rate if xi is None else xi),
        )

    return selector.weighted_search_loop(
        run_epoch,
        state,
        samplers,
        epochs=epochs,
        temperature=temperature,
        select_fraction=select_fraction,
        progress=progress,
        log_fn=log_fn,
        start=start,
    )


def _fit(
    model,
    sequences,
    name: str,
    options: dict[str, Any],
    *,
    loss: str,
    num_negatives: int,
    fit_options: dict[str, Any] | None,
    seed: int,
    init_params: PyTree | None = None,
    progress: str | None = None,
    log_fn: Callable[[int, dict[str, float]], None] | None = None,
) -> loop.FitResult:
    """`fit_sequential` with one sampler, as a `loop.FitResult`."""
    out = sequential_lib.fit_sequential(
        model,
        sequences,
        loss=loss,
        num_negatives=num_negatives,
        sampler=name,
        sampler_options=options,
        init_params=init_params,
        seed=seed,
        progress=progress or False,
        log_fn=log_fn,
        **(fit_options or {}),
    )
    return loop.FitResult(
        params=out.params,
        best_epoch=out.best_epoch,
        val=out.val,
        test=out.test,
        history=out.history,
        epochs=out.epochs,
        seconds=out.seconds,
        epoch_seconds=out.epoch_seconds,
    )


def autosample(
    model,
    sequences,
    *,
    samplers: Sequence[selector.SamplerSpec],
    loss: str = "bce",
    num_negatives: int = 1,
    retrain_init: str = "search",
    compare_scratch: bool = False,
    search_options: dict[str, Any] | None = None,
    fit_options: dict[str, Any] | None = None,
    seed: int = 0,
    progress: str | None = None,
    log_fn: Callable[[str, int, dict[str, float]], None] | None = None,
) -> selector.AutoSampleResult:
    """`search`, then `fit_sequential` with the chosen sampler (warm or scratch).

    Args: as `selector.autosample`; `fit_options` go to `fit_sequential`
      (learning rate, batch size, epochs, ...); `log_fn(stage, epoch, record)`
      sees the search's epochs ("search") and the trainings' evaluations
      ("retrain", "scratch").
    """
    if retrain_init not in selector.RETRAIN_INITS:
        raise ValueError(
            f"retrain_init must be one of {selector.RETRAIN_INITS}, got "
            f"{retrain_init!r}"
        )

    def stage_log(stage):
        return None if log_fn is None else functools.partial(log_fn, stage)

    result = search(
        model,
        sequences,
        samplers=samplers,
        loss=loss,
        num_negatives=num_negatives,
        seed=seed,
        progress=progress and f"{progress}/search",
        log_fn=stage_log("search"),
        **(search_options or {}),
    )
    name, options = selector.spec_parts(result.selected_spec)

    def fit(init_params, tag):
        return _fit(
            model,
            sequences,
            name,
            options,
            loss=loss,
            num_negatives=num_negatives,
            fit_options=fit_options,
            seed=seed,
            init_params=init_params,
            progress=progress and f"{progress}/{tag}",
            log_fn=stage_log(tag),
        )

    retrain = fit(result.params if retrain_init == "search" else None, "retrain")
    scratch = None
    if compare_scratch and retrain_init == "search":
        scratch = fit(None, "scratch")
    return selector.AutoSampleResult(result, retrain, scratch, retrain_init)


def exhaustive_search(
    model,
    sequences,
    *,
    samplers: Sequence[selector.SamplerSpec],
    loss: str = "bce",
    num_negatives: int = 1,
    fit_options: dict[str, Any] | None = None,
    seed: int = 0,
    progress: str | None = None,
    done: dict[str, dict[str, Any]] | None = None,
    on_result: Callable[[str, dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Trains the sequential model once per sampler (`oracle.each_alone`).

    Every training starts from cleared compilation caches
    (`trainers.sequential.clear_compiled`), so its wall time includes its
    compilation, as in a separate run.

    Args: as `autosample` and `oracle.exhaustive_search`.

    Returns:
      As `oracle.each_alone`.
    """

    def train_one(name, options, label):
        sequential_lib.clear_compiled()
        return _fit(
            model,
            sequences,
            name,
            options,
            loss=loss,
            num_negatives=num_negatives,
            fit_options=fit_options,
            seed=seed,
            progress=progress and f"{progress}/{label}",
        )

    return oracle.each_alone(train_one, samplers, done=done, on_result=on_result)
