"""Trainer loop: jit-friendly BPR epochs over padded rows, ranking evaluation, and a
`fit` shell with early stopping on validation nDCG@10.

Core (pure, not jitted here): `train_epoch` runs one epoch as a `lax.scan` over
fixed-size batches. Rows carry weights in {0, 1}; weight-0 rows are padding. Real rows
are shuffled to the front, so trailing batches that hold only padding are skipped
(their parameter and Adam-state updates are discarded; a zero gradient would otherwise
still move Adam's momentum). This makes an epoch over a variable-size subset of a
fixed-capacity row array static-shaped: `jnp.nonzero(mask, size=cap)` gives the rows.

Shell: `fit` jits the epoch once, evaluates every `eval_every` epochs with full ranking
(`infinite_ae.evaluation` with RecBole conventions, see `ranking_metrics`), keeps the
best parameters by validation nDCG@10 and stops after `patience` evaluations without
improvement (RecBole
`stopping_step`).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from absl import logging

from infinite_ae import evaluation
from infinite_ae import progress as progress_lib
from infinite_ae.trainers import negatives as negatives_lib
from infinite_ae.types import Array, PRNGKey, PyTree


class TrainState(NamedTuple):
    """Parameters, Adam state, the global step and the negative sampler's state.

    Attributes:
      params: model parameters ({"user": [U, d], "item": [I, d]}).
      opt_state: optax state of `make_optimizer`.
      step: [] int32 number of applied (non-empty) batch updates.
      sampler_state: the negative sampler's explicit state (`negatives`; () for
        stateless samplers and models without negatives).
    """

    params: PyTree
    opt_state: Any
    step: Array
    sampler_state: PyTree = ()


@functools.cache
def make_optimizer() -> optax.GradientTransformation:
    """Adam without weight decay, learning rate injected (traced) into the state.

    Cached: the same object every call, so it is a stable static argument and jitted
    epochs of equal models share their compilation.
    """
    return optax.inject_hyperparams(optax.adam)(learning_rate=1e-3)


def init_state(
    model,
    optimizer: optax.GradientTransformation,
    init_key: PRNGKey,
    lr,
    sampler_state: PyTree = (),
    params: PyTree | None = None,
) -> TrainState:
    """Parameters (fresh from `init_key` unless `params` is given, e.g. a warm
    start) and an optimizer state with learning rate lr."""
    if params is None:
        params = model.init(init_key)
    else:  # a copy: jitted epochs donate the state's buffers
        params = jax.tree.map(jnp.copy, params)
    opt_state = optimizer.init(params)
    opt_state.hyperparams["learning_rate"] = jnp.asarray(lr, jnp.float32)
    return TrainState(params, opt_state, jnp.zeros((), jnp.int32), sampler_state)


def num_batches(num_rows: int, batch_size: int) -> int:
    """Static number of batches of an epoch over `num_rows` padded rows."""
    return max(1, math.ceil(num_rows / batch_size))


def train_epoch(
    state: TrainState,
    epoch_key: PRNGKey,
    users: Array,
    items: Array,
    weights: Array,
    excluded_keys: Array,
    *,
    model,
    optimizer: optax.GradientTransformation,
    sampler,
    batch_size: int,
) -> tuple[TrainState, dict[str, Array]]:
    """One epoch of mini-batch Adam on weighted rows (padding rows have weight 0).

    The graph (LightGCN) is built once per epoch from all rows with positive weight.
    Batches: real rows in a random order (from `epoch_key`), then padding, cut into
    ceil(R / batch_size) batches; batch b draws its negatives with
    `fold_in(neg_key, b)`. Two calls with the same `epoch_key` therefore share their
    random numbers (common random numbers across masks).

    Args:
      state: `TrainState`.
      epoch_key: key for the shuffle and the negatives.
      users: [R] int32 user of each row.
      items: [R] int32 positive item of each row.
      weights: [R] float32 row weights in {0, 1}.
      excluded_keys: [N'] sorted flat keys the negatives avoid.
      model: a trainers model (static).
      optimizer: the optax optimizer of `state` (static).
      sampler: a negative sampler (static; its state is `state.sampler_state`).
      batch_size: static batch size B.

    Returns:
      (new state, {"loss": [] mean loss over real rows, "rows": [] real row count}).
    """
    (num_rows,) = users.shape
    if items.shape != (num_rows,) or weights.shape != (num_rows,):
        raise ValueError(
            f"users {users.shape}, items {items.shape}, weights {weights.shape} differ"
        )
    weights = weights.astype(jnp.float32)
    nb = num_batches(num_rows, batch_size)
    pad = nb * batch_size - num_rows
    graph = model.make_graph(users, items, weights)
    perm_key, neg_key = jax.random.split(epoch_key)
    order_key = jnp.where(weights > 0, jax.random.uniform(perm_key, (num_rows,)), 2.0)
    order = jnp.argsort(order_key)
    users_b = jnp.pad(users[order], (0, pad)).reshape(nb, batch_size)
    items_b = jnp.pad(items[order], (0, pad)).reshape(nb, batch_size)
    weights_b = jnp.pad(weights[order], (0, pad)).reshape(nb, batch_size)

    grad_fn = jax.value_and_grad(model.loss, has_aux=True)

    def body(state, xs):
        b, u, i, w = xs
        inputs = negatives_lib.sampler_inputs(
            model, sampler, state.params, graph, u, i, w, excluded_keys
        )
        neg, sampler_state = sampler.sample(
            jax.random.fold_in(neg_key, b), inputs, state.sampler_state
        )
        (loss, aux), grads = grad_fn(state.params, graph, u, i, neg, w)
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        new = TrainState(params, opt_state, state.step + 1, sampler_state)
        keep = aux["count"] > 0
        state = jax.tree.map(lambda a, b: jnp.where(keep, a, b), new, state)
        return state, (loss * aux["count"], aux["count"])

    state, (loss_sum, counts) = jax.lax.scan(
        body, state, (jnp.arange(nb), users_b, items_b, weights_b)
    )
    rows = jnp.sum(counts)
    return state, {"loss": jnp.sum(loss_sum) / jnp.maximum(rows, 1.0), "rows": rows}


# ----------------------------------------------------------------------------------
# Ranking evaluation: `infinite_ae.evaluation` with RecBole conventions.

EVAL_MASKS = {"train": "train", "train+val": "query"}
"""`test_mask` of `fit` -> `evaluation.evaluate(mask=...)` at the test split."""


def ranking_metrics(
    user_emb: Array,
    item_emb: Array,
    data,
    *,
    split: str,
    test_mask: str = "train",
    ks: tuple[int, ...] = (5, 10),
) -> dict[str, float]:
    """Full-ranking Recall@k and nDCG@k (RecBole definitions) ×100 of an embedding
    model, through `evaluation.evaluate`.

    Scores are inner products. recall@k = hits / |T|; nDCG@k with binary gain and
    the ideal DCG over min(|T|, k) positions. Users without held-out items are
    skipped (`average="evaluated"`, as RecBole).

    Args:
      user_emb: [U, d] final user embeddings.
      item_emb: [I, d] final item embeddings.
      data: object with `.train`, `.val`, `.test` [U, I] CSR.
      split: "val" (mask train) or "test".
      test_mask: at the test split, "train" (RecBole full sort, DConRec: mask the
        original training items only) or "train+val" (∞-AE protocol).
      ks: cut-offs.

    Returns:
      {"recall@k": ..., "ndcg@k": ..., "num_users": evaluated users}.
    """
    if test_mask not in EVAL_MASKS:
        raise ValueError(f"unknown test_mask {test_mask!r}; valid: {list(EVAL_MASKS)}")
    item_t = jnp.asarray(item_emb).T
    user_emb = jnp.asarray(user_emb)
    out = evaluation.evaluate(
        lambda query_rows, users: user_emb[users] @ item_t,
        data,
        split=split,
        ks=ks,
        average="evaluated",
        psp=False,
        mask=EVAL_MASKS[test_mask],
    )
    result = {f"{m}@{k}": out[f"{m}@{k}"] for k in ks for m in ("recall", "ndcg")}
    result["num_users"] = out["num_users_evaluated"]
    return result


# ----------------------------------------------------------------------------------
# Shell.


@functools.cache
def compiled(model, sampler, batch_size: int):
    """(epoch, graph, embed) functions jitted once per (model, sampler, batch size).

    Models and samplers are frozen dataclasses, so equal settings hit the cache and
    repeated `fit` calls (proxy, condensed, random subset, full data) compile once per
    row-array shape instead of once per call.
    """
    epoch_fn = jax.jit(
        functools.partial(
            train_epoch,
            model=model,
            optimizer=make_optimizer(),
            sampler=sampler,
            batch_size=batch_size,
        ),
        donate_argnums=0,
    )
    return epoch_fn, jax.jit(model.make_graph), jax.jit(model.embed)


def make_sampler(model, name: str, options, items, num_items: int):
    """(sampler, its initial state) from a name, options and the training items
    (their counts feed popularity sampling)."""
    sampler = negatives_lib.get_sampler(name, num_items=num_items, **(options or {}))
    counts = np.bincount(np.asarray(items, np.int64), minlength=num_items)
    return sampler, negatives_lib.init_sampler_state(sampler, counts, model)


def clear_compiled() -> None:
    """Forgets every compiled epoch, graph and embedding program (`compiled`) and
    JAX's own caches, so the next `fit` pays its compilation again (fair timing
    of trainings that would otherwise share programs)."""
    compiled.cache_clear()
    jax.clear_caches()


def check_loss(loss: float, epoch: int, learning_rate: float) -> None:
    """Refuses a non-finite epoch loss (FloatingPointError naming the epoch)."""
    if not np.isfinite(loss):
        raise FloatingPointError(
            f"non-finite loss at epoch {epoch}; lower the learning rate "
            f"({learning_rate:g})"
        )


@dataclasses.dataclass
class EarlyStopping:
    """Early stopping on a validation metric, shared by every trainer's fit.

    Attributes:
      patience: evaluations without improvement before stopping.
      metric: the validation metric that selects the parameters (nDCG@10).
      value: the best validation `metric` so far (-inf before the first).
      epoch: its epoch.
      params: a copy of its parameters (None before the first evaluation).
      val: its validation metrics.
      bad: evaluations since it.
      history: one record per evaluation ({"epoch", "loss", "val/<metric>"}).
    """

    patience: int
    metric: str = "ndcg@10"
    value: float = -np.inf
    epoch: int = 0
    params: PyTree = None
    val: dict[str, float] | None = None
    bad: int = 0
    history: list[dict[str, float]] = dataclasses.field(default_factory=list)

    def update(self, epoch: int, loss: float, val: dict[str, float], params) -> dict:
        """Records an evaluation; returns its history record."""
        record = {"epoch": epoch, "loss": loss}
        record.update({f"val/{k}": v for k, v in val.items() if k != "num_users"})
        self.history.append(record)
        if val[self.metric] > self.value:
            self.value, self.epoch, self.val, self.bad = val[self.metric], epoch, val, 0
            self.params = jax.tree.map(jnp.copy, params)
        else:
            self.bad += 1
        return record

    @property
    def stop(self) -> bool:
        return self.bad >= self.patience

    def meta(self) -> dict[str, Any]:
        """The JSON-able bookkeeping (the parameters are checkpointed apart)."""
        return {
            "best_value": self.value if np.isfinite(self.value) else None,
            "best_epoch": self.epoch,
            "best_val": self.val,
            "history": self.history,
            "bad": self.bad,
        }

    @classmethod
    def from_meta(cls, patience: int, meta: dict[str, Any], params) -> EarlyStopping:
        """The inverse of `meta`, with the checkpointed best parameters."""
        return cls(
            patience=patience,
            value=-np.inf if meta["best_value"] is None else meta["best_value"],
            epoch=meta["best_epoch"],
            params=params if meta["best_val"] is not None else None,
            val=meta["best_val"],
            bad=int(meta["bad"]),
            history=list(meta["history"]),
        )


def run_epochs(
    step: Callable[[Any, int], tuple[Any, Any]],
    validate: Callable[[PyTree], dict[str, float]],
    state: Any,
    stopping: EarlyStopping,
    *,
    max_epochs: int,
    eval_every: int,
    learning_rate: float,
    first: int = 0,
    progress: str | None = None,
    name: str | None = None,
    log_fn: Callable[[int, dict[str, float]], None] | None = None,
    after_eval: Callable[[int, Any], None] | None = None,
    times: list[float] | None = None,
) -> tuple[Any, list[float]]:
    """The epoch loop every trainer's fit shares, with early stopping.

    Runs epochs ``first`` .. ``max_epochs - 1`` (0-based): ``step(state, epoch)``
    trains one epoch and returns (state, mean loss); the loss must be finite
    (`check_loss`). After every ``eval_every``-th epoch and the last,
    ``validate(state.params)`` gives the validation metrics that update
    ``stopping``; then ``log_fn(epoch, record)`` and ``after_eval(epoch,
    state)`` (e.g. a checkpoint) run, and the loop ends once ``stopping.stop``.
    Nothing runs when ``stopping`` has already stopped (a resumed run).

    Args:
      step: one training epoch.
      validate: validation metrics of parameters (must hold ``stopping.metric``).
      state: the training state (with ``.params``).
      stopping: the early-stopping record, updated in place.
      max_epochs: the loop's end (exclusive).
      eval_every: evaluate every this many epochs.
      learning_rate: named in the error of a non-finite loss.
      first: the first epoch (a resumed run's next epoch).
      progress: a description to show a progress bar (and log lines) under.
      name: the evaluation log lines' name (default ``progress``, else "fit").
      log_fn: called after every evaluation.
      after_eval: called after every evaluation.
      times: a list the epochs' times are appended to as they finish (a
        resumed run's earlier times, which ``after_eval`` can checkpoint).

    Returns:
      (final state, ``times``: wall seconds of each training epoch, evaluation
      excluded).
    """
    times = [] if times is None else times
    if stopping.stop:
        return state, times
    bar = None
    if progress:
        bar = progress_lib.Progress(max_epochs, progress, unit="epoch", initial=first)
    for epoch in range(first, max_epochs):
        t0 = time.perf_counter()
        state, loss = step(state, epoch)
        loss = float(loss)
        times.append(time.perf_counter() - t0)
        check_loss(loss, epoch, learning_rate)
        if bar is not None:
            bar.update(loss=loss)
        if (epoch + 1) % eval_every and epoch + 1 != max_epochs:
            continue
        val = validate(state.params)
        record = stopping.update(epoch, loss, val, state.params)
        logging.info(
            "%s epoch %d loss %.4f val %s %.3f",
            name or progress or "fit",
            epoch,
            loss,
            stopping.metric,
            val[stopping.metric],
        )
        if log_fn is not None:
            log_fn(epoch, record)
        if after_eval is not None:
            after_eval(epoch, state)
        if stopping.stop:
            break
    if bar is not None:
        bar.close()
    return state, times


@dataclasses.dataclass
class FitResult:
    """Outcome of `fit`.

    Attributes:
      params: best parameters by validation nDCG@10.
      best_epoch: epoch of the best validation nDCG@10.
      val: validation metrics of the best parameters.
      test: test metrics of the best parameters (None if not computed).
      history: one dict per evaluation ({"epoch", "loss", "val/ndcg@10", ...}).
      epochs: epochs run.
      seconds: wall time.
      epoch_seconds: mean wall time of a training epoch (excluding evaluation).
    """

    params: PyTree
    best_epoch: int
    val: dict[str, float]
    test: dict[str, float] | None
    history: list[dict[str, float]]
    epochs: int
    seconds: float
    epoch_seconds: float


def pad_rows(users, items, *, multiple: int):
    """Pads row arrays to a multiple of `multiple`; returns (users, items, weights)."""
    users = np.asarray(users, np.int32)
    items = np.asarray(items, np.int32)
    n = len(users)
    total = num_batches(n, multiple) * multiple
    weights = np.zeros(total, np.float32)
    weights[:n] = 1.0
    return (
        np.pad(users, (0, total - n)),
        np.pad(items, (0, total - n)),
        weights,
    )


def fit(
    model,
    users,
    items,
    data,
    *,
    learning_rate: float = 1e-3,
    batch_size: int = 4096,
    max_epochs: int = 300,
    patience: int = 10,
    eval_every: int = 1,
    seed: int = 0,
    sampler: str = "uniform",
    sampler_options: dict[str, Any] | None = None,
    init_params: PyTree | None = None,
    eval_embed: Callable[[PyTree, Any], tuple[Array, Array]] | None = None,
    exclude: tuple[np.ndarray, np.ndarray] | None = None,
    test_mask: str = "train",
    ks: tuple[int, ...] = (5, 10),
    compute_test: bool = True,
    log_fn: Callable[[int, dict[str, float]], None] | None = None,
    progress: str | None = None,
) -> FitResult:
    """Trains `model` on rows (users, items) with early stopping on val nDCG@10.

    Evaluation always masks the ORIGINAL training items of `data` (`data.train`), so
    a model trained on condensed data (with pseudo-positives) is ranked exactly like
    one trained on the full training split.

    Args:
      model: a trainers model (BPRMF, LightGCN).
      users: [N] int training rows (duplicates allowed).
      items: [N] int training rows.
      data: object with `.train`, `.val`, `.test` [U, I] CSR (an `Interactions`).
      learning_rate: Adam learning rate.
      batch_size: rows per batch.
      max_epochs: at most this many epochs (RecBole `epochs` = 300).
      patience: evaluations without improvement before stopping (RecBole 10).
      eval_every: evaluate every this many epochs.
      seed: base seed; init key = fold_in(base, 0), epoch e key = fold_in(base, e + 1).
      sampler: negative sampler name (`negatives.get_sampler`).
      sampler_options: the sampler's options (e.g. {"num_candidates": 32}).
      init_params: start from these parameters (a warm start) instead of a fresh
        initialisation.
      eval_embed: (params, graph) -> ([U_data, d] user, [I, d] item) embeddings
        for evaluation on `data`'s users, when the trained users are not `data`'s
        (a summary's users: fold real users in, `adapters.foldin`); default: the
        model's own embeddings.
      exclude: (users, items) positives the negatives avoid; default: the rows.
      test_mask: "train" (RecBole / DConRec) or "train+val" (∞-AE).
      ks: metric cut-offs; must include 10.
      compute_test: evaluate the best parameters on the test split.
      log_fn: called as log_fn(epoch, scalars) after every evaluation.
      progress: a description to show a progress bar (and log lines) of the
        epochs under.

    Returns:
      `FitResult`.
    """
    start = time.perf_counter()
    num_items = data.train.shape[1]
    users_p, items_p, weights_p = pad_rows(users, items, multiple=batch_size)
    if exclude is None:
        exclude = (users, items)
    excluded = jnp.asarray(negatives_lib.exclusion_keys(*exclude, num_items))
    sampler_obj, sampler_state = make_sampler(
        model, sampler, sampler_options, items, num_items
    )
    optimizer = make_optimizer()
    base_key = jax.random.key(seed)
    state = init_state(
        model,
        optimizer,
        jax.random.fold_in(base_key, 0),
        learning_rate,
        sampler_state,
        params=init_params,
    )
    epoch_fn, graph_fn, embed_fn = compiled(model, sampler_obj, batch_size)
    if eval_embed is not None:
        embed_fn = eval_embed
    rows = tuple(jnp.asarray(x) for x in (users_p, items_p, weights_p))
    graph = graph_fn(*rows)
    if test_mask not in EVAL_MASKS:
        raise ValueError(f"unknown test_mask {test_mask!r}; valid: {list(EVAL_MASKS)}")

    def step(state, epoch):
        state, stats = epoch_fn(
            state, jax.random.fold_in(base_key, epoch + 1), *rows, excluded
        )
        return state, stats["loss"]

    def validate(params):
        return ranking_metrics(*embed_fn(params, graph), data, split="val", ks=ks)

    stopping = EarlyStopping(patience)
    _, times = run_epochs(
        step,
        validate,
        state,
        stopping,
        max_epochs=max_epochs,
        eval_every=eval_every,
        learning_rate=learning_rate,
        progress=progress,
        log_fn=log_fn,
    )
    test = None
    if compute_test:
        u_emb, i_emb = embed_fn(stopping.params, graph)
        test = ranking_metrics(
            u_emb, i_emb, data, split="test", test_mask=test_mask, ks=ks
        )
    logging.info(
        "%s: best epoch %d val ndcg@10 %.3f (%d epochs, %.2fs/epoch)",
        getattr(model, "name", "model"),
        stopping.epoch,
        stopping.value,
        len(times),
        np.mean(times or [0.0]),
    )
    return FitResult(
        params=stopping.params,
        best_epoch=stopping.epoch,
        val=stopping.val,
        test=test,
        history=stopping.history,
        epochs=len(times),
        seconds=time.perf_counter() - start,
        epoch_seconds=float(np.mean(times or [0.0])),
    )
