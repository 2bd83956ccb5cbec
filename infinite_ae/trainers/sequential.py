"""Sequential recommenders: losses, a static-shape training epoch and `fit_sequential`.

Models (`sasrec.SASRec`, `gru4rec.GRU4Rec`; flax.linen inside, the library's one
flax API) map right-aligned item sequences (item + 1, 0 = padding) to per-position
hidden states h_t [B, L, d]; item j (column j) is scored by s_tj = h_t · e_j with
the model's output table e [I, d]. Targets y_t use the sequence coding (item + 1,
0 = no target); a row weight w_b in {0, 1} marks real (1) and padding (0) rows, and
position (b, t) counts iff w_b > 0 and y_bt > 0. Every loss averages its per-position
loss ℓ_bt over the counted positions: loss = Σ w_b [y_bt > 0] ℓ_bt / max(n, 1) with
n = Σ w_b [y_bt > 0], so padding rows and positions add exactly zero loss and
gradient.

* ``"ce"`` (default): full softmax cross-entropy over all I items ("SASRec+",
  Klenitskiy & Vasilev, RecSys 2023): ℓ = logsumexp_j s_tj − s_{t,y}.
* ``"bce"``: binary cross-entropy with k sampled negatives n_1..n_k (the SASRec
  paper, Section III-E, uses k = 1): ℓ = −log σ(s_{t,y}) − Σ_i log(1 − σ(s_{t,n_i}))
  = softplus(−s_{t,y}) + Σ_i softplus(s_{t,n_i}).
* ``"gbce"``: generalised BCE (gSASRec, Petrov & Macdonald, RecSys 2023):
  the positive probability is raised to the power β (equivalently its logit is
  replaced by logit(σ(s)^β)), and the loss is averaged over the k + 1 terms:
  ℓ = −(log σ(s_{t,y})^β + Σ_i log(1 − σ(s_{t,n_i}))) / (k + 1)
  = (β softplus(−s_{t,y}) + Σ_i softplus(s_{t,n_i})) / (k + 1),
  with sampling rate α = k / (I − 1) and β = α (t (1 − 1/α) + 1/α) = 1 − t (1 − α)
  for the calibration t in [0, 1]: t = 0 gives β = 1 (plain BCE, divided by k + 1),
  t = 1 gives β = α (fully calibrated). (The gSASRec-pytorch training script passes
  ``pool_size = num_items - 1`` and so uses α = k / (I − 2); we follow the paper.)

Negatives come from `negatives.sample_sequence_negatives` (uniform over all items,
the target excluded).

Core (pure, not jitted here): the losses, `batch_loss` and `train_epoch`, one epoch
as a `lax.scan` over fixed-size batches of training windows with optax Adam
(`loop.make_optimizer`). As in `loop.train_epoch`, real rows are shuffled to the
front and batches holding no counted position are skipped (their update and Adam
state change are discarded).

Shell: `fit_sequential` jits the epoch once per (model, loss, k, batch size),
evaluates every `eval_every` epochs with full ranking through
`infinite_ae.evaluation.evaluate` (`evaluate_sequential`), keeps the best parameters
by validation nDCG@10 and stops after `patience` evaluations without improvement.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from absl import logging

from infinite_ae import evaluation
from infinite_ae.trainers import loop
from infinite_ae.trainers import negatives as negatives_lib
from infinite_ae.types import Array, ArrayLike, PRNGKey, PyTree

LOSSES = ("ce", "bce", "gbce")
METRICS = ("ndcg", "recall", "mrr")
"""Reported per cut-off; with one held-out item recall@k equals hit@k."""


# ----------------------------------------------------------------------------------
# Losses.


def _check_loss_inputs(hidden, output_embeddings, targets, weights, negatives=None):
    if hidden.ndim != 3 or targets.shape != hidden.shape[:2]:
        raise ValueError(
            f"hidden {hidden.shape} must be [B, L, d], targets [B, L] = "
            f"{hidden.shape[:2]}, got {targets.shape}"
        )
    if output_embeddings.ndim != 2 or output_embeddings.shape[1] != hidden.shape[2]:
        raise ValueError(
            f"output_embeddings must be [I, d={hidden.shape[2]}], got "
            f"{output_embeddings.shape}"
        )
    if weights.shape != hidden.shape[:1]:
        raise ValueError(
            f"weights must be [B] = {hidden.shape[:1]}, got {weights.shape}"
        )
    if negatives is not None and (
        negatives.ndim != 3 or negatives.shape[:2] != targets.shape
    ):
        raise ValueError(
            f"negatives must be [B, L, k] with [B, L] = {targets.shape}, got "
            f"{negatives.shape}"
        )


def _position_weights(targets: Array, weights: Array) -> tuple[Array, Array]:
    """[B, L] weights w_b [y_bt > 0] and their normaliser max(Σ, 1)."""
    position = weights.astype(jnp.float32)[:, None] * (targets > 0)
    return position, jnp.maximum(jnp.sum(position), 1.0)


def _positive_scores(hidden: Array, output_embeddings: Array, targets: Array) -> Array:
    """[B, L] s_{t,y}; positions without a target read item 0 (weighted out)."""
    table = output_embeddings[jnp.maximum(targets - 1, 0)]
    return jnp.einsum("bld,bld->bl", hidden, table)


def _negative_scores(hidden: Array, output_embeddings: Array, negatives: Array):
    """[B, L, k] s_{t,n_i} of negatives coded item + 1."""
    table = output_embeddings[jnp.maximum(negatives - 1, 0)]
    return jnp.einsum("bld,blkd->blk", hidden, table)


def _reduce(per_position: Array, targets: Array, weights: Array):
    position, count = _position_weights(targets, weights)
    loss = jnp.sum(position * per_position) / count
    return loss, {"count": jnp.sum(position)}


def cross_entropy_loss(
    hidden: Array, output_embeddings: Array, targets: Array, weights: Array
) -> tuple[Array, dict[str, Array]]:
    """Full softmax cross-entropy over all items, averaged over target positions.

    ℓ_bt = logsumexp_j (h_bt · e_j) − h_bt · e_{y_bt} (SASRec+, Klenitskiy &
    Vasilev, RecSys 2023); see the module docstring for the averaging.

    Args:
      hidden: [B, L, d] per-position hidden states.
      output_embeddings: [I, d] output item table.
      targets: [B, L] int32 next items (item + 1; 0 = no target).
      weights: [B] float32 row weights in {0, 1} (0 = padding row).

    Returns:
      (loss [], {"count": [] number of counted positions}).

    >>> import jax.numpy as jnp
    >>> loss, aux = cross_entropy_loss(jnp.zeros((1, 2, 3)), jnp.ones((4, 3)),
    ...                                jnp.array([[0, 2]]), jnp.ones(1))
    >>> round(float(loss), 6), float(aux["count"])  # log 4: uniform over 4 items
    (1.386294, 1.0)
    """
    _check_loss_inputs(hidden, output_embeddings, targets, weights)
    logits = jnp.einsum("bld,id->bli", hidden, output_embeddings)
    positive = jnp.take_along_axis(
        logits, jnp.maximum(targets - 1, 0)[..., None], axis=-1
    )[..., 0]
    return _reduce(jax.nn.logsumexp(logits, axis=-1) - positive, targets, weights)


def bce_loss(
    hidden: Array,
    output_embeddings: Array,
    targets: Array,
    negatives: Array,
    weights: Array,
) -> tuple[Array, dict[str, Array]]:
    """Binary cross-entropy with k sampled negatives (SASRec paper III-E: k = 1).

    ℓ_bt = softplus(−s_{t,y}) + Σ_i softplus(s_{t,n_i}), averaged over target
    positions.

    Args:
      hidden: [B, L, d] per-position hidden states.
      output_embeddings: [I, d] output item table.
      targets: [B, L] int32 next items (item + 1; 0 = no target).
      negatives: [B, L, k] int32 negatives (item + 1), e.g. from
        `negatives.sample_sequence_negatives`.
      weights: [B] float32 row weights in {0, 1}.

    Returns:
      (loss [], {"count": []}).

    >>> import jax.numpy as jnp
    >>> loss, _ = bce_loss(jnp.zeros((1, 1, 2)), jnp.ones((3, 2)),
    ...                    jnp.array([[1]]), jnp.array([[[2, 3]]]), jnp.ones(1))
    >>> round(float(loss), 6)  # 3 log 2
    2.079442
    """
    _check_loss_inputs(hidden, output_embeddings, targets, weights, negatives)
    positive = _positive_scores(hidden, output_embeddings, targets)
    negative = _negative_scores(hidden, output_embeddings, negatives)
    per_position = jax.nn.softplus(-positive) + jnp.sum(jax.nn.softplus(negative), -1)
    return _reduce(per_position, targets, weights)


def gbce_beta(num_negatives: int, num_items: int, t: ArrayLike) -> Array:
    """gSASRec's power β = α (t (1 − 1/α) + 1/α) with α = k / (I − 1).

    Petrov & Macdonald, RecSys 2023 (α is the negative sampling rate, t the
    calibration parameter). Equivalently β = 1 − t (1 − α).

    Args:
      num_negatives: k.
      num_items: I.
      t: calibration in [0, 1] (may be traced).

    Returns:
      [] float32 β.

    >>> round(float(gbce_beta(2, 11, 0.5)), 6)  # α = 1/5: β = (1/5)(-2 + 5)
    0.6
    """
    alpha = num_negatives / (num_items - 1)
    t = jnp.asarray(t, jnp.float32)
    return alpha * (t * (1.0 - 1.0 / alpha) + 1.0 / alpha)


def gbce_loss(
    hidden: Array,
    output_embeddings: Array,
    targets: Array,
    negatives: Array,
    weights: Array,
    *,
    t: ArrayLike,
) -> tuple[Array, dict[str, Array]]:
    """gBCE: BCE with the positive probability raised to β (gSASRec).

    ℓ_bt = −(log σ(s_{t,y})^β + Σ_i log(1 − σ(s_{t,n_i}))) / (k + 1)
         = (β softplus(−s_{t,y}) + Σ_i softplus(s_{t,n_i})) / (k + 1),
    β = `gbce_beta(k, I, t)`, averaged over target positions. t = 0 gives β = 1 and
    `bce_loss` / (k + 1).

    Args:
      hidden: [B, L, d] per-position hidden states.
      output_embeddings: [I, d] output item table (I enters α).
      targets: [B, L] int32 next items (item + 1; 0 = no target).
      negatives: [B, L, k] int32 negatives (item + 1).
      weights: [B] float32 row weights in {0, 1}.
      t: calibration in [0, 1] (may be traced).

    Returns:
      (loss [], {"count": [], "beta": []}).

    >>> import jax.numpy as jnp
    >>> loss, aux = gbce_loss(jnp.zeros((1, 1, 2)), jnp.ones((3, 2)),
    ...     jnp.array([[1]]), jnp.array([[[2]]]), jnp.ones(1), t=1.0)
    >>> round(float(aux["beta"]), 6), round(float(loss), 6)  # (β + 1) log 2 / 2
    (0.5, 0.51986)
    """
    _check_loss_inputs(hidden, output_embeddings, targets, weights, negatives)
    num_negatives = negatives.shape[-1]
    beta = gbce_beta(num_negatives, output_embeddings.shape[0], t)
    positive = _positive_scores(hidden, output_embeddings, targets)
    negative = _negative_scores(hidden, output_embeddings, negatives)
    per_position = (
        beta * jax.nn.softplus(-positive) + jnp.sum(jax.nn.softplus(negative), -1)
    ) / (num_negatives + 1)
    loss, aux = _reduce(per_position, targets, weights)
    aux["beta"] = beta
    return loss, aux


def sequence_loss(
    hidden: Array,
    output_embeddings: Array,
    targets: Array,
    weights: Array,
    *,
    loss: str = "ce",
    negatives: Array | None = None,
    gbce_t: ArrayLike = 0.0,
) -> tuple[Array, dict[str, Array]]:
    """Dispatches to `cross_entropy_loss`, `bce_loss` or `gbce_loss` by name.

    Args:
      hidden: [B, L, d]; output_embeddings: [I, d]; targets: [B, L] int32;
        weights: [B] (see `cross_entropy_loss`).
      loss: "ce", "bce" or "gbce" (static).
      negatives: [B, L, k] int32 (item + 1), required by "bce" and "gbce".
      gbce_t: gBCE calibration t (traced).

    Raises:
      ValueError: unknown loss or missing negatives.
    """
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; valid: {list(LOSSES)}")
    if loss == "ce":
        return cross_entropy_loss(hidden, output_embeddings, targets, weights)
    if negatives is None:
        raise ValueError(f"loss {loss!r} needs negatives")
    if loss == "bce":
        return bce_loss(hidden, output_embeddings, targets, negatives, weights)
    return gbce_loss(hidden, output_embeddings, targets, negatives, weights, t=gbce_t)


def batch_loss(
    params: PyTree,
    inputs: Array,
    targets: Array,
    weights: Array,
    negatives: Array | None,
    dropout_key: PRNGKey | None,
    gbce_t: ArrayLike,
    *,
    model,
    loss: str,
) -> tuple[Array, dict[str, Array]]:
    """A model's `sequence_loss` on a batch of training windows.

    Args:
      params: model parameters.
      inputs: [B, L] int32 input windows (item + 1, right-aligned, 0 = padding).
      targets: [B, L] int32 next items (0 = no target).
      weights: [B] float32 row weights in {0, 1}.
      negatives: [B, L, k] int32 (item + 1) or None for "ce".
      dropout_key: key for train-mode dropout, or None (eval mode).
      gbce_t: gBCE calibration (traced).
      model: `SASRec` or `GRU4Rec` (static).
      loss: loss name (static).

    Returns:
      (loss [], aux) as `sequence_loss`.
    """
    hidden = model.hidden(params, inputs, dropout_key=dropout_key)
    return sequence_loss(
        hidden,
        model.output_embeddings(params),
        targets,
        weights,
        loss=loss,
        negatives=negatives,
        gbce_t=gbce_t,
    )


# ----------------------------------------------------------------------------------
# Training epoch.


def batch_negatives(key, model, sampler, state: loop.TrainState, inputs, targets, k):
    """[B, L, k] negatives (item + 1) of a batch and the sampler's new state.

    Uniform negatives avoid the target by bounded rejection
    (`negatives.sample_sequence_negatives`); every other sampler goes through
    `negatives.draw_sequence_negatives`, score-based ones reading the current
    hidden states (eval mode, no gradient).
    """
    if isinstance(sampler, negatives_lib.UniformNegativeSampler):
        negs = negatives_lib.sample_sequence_negatives(
            key, sampler, targets, num_negatives=k
        )
        return negs, state.sampler_state
    hidden = item_emb = None
    if sampler.needs == "scores":
        params = jax.lax.stop_gradient(state.params)
        hidden = model.hidden(params, inputs, dropout_key=None)
        item_emb = model.output_embeddings(params)
    return negatives_lib.draw_sequence_negatives(
        key,
        sampler,
        targets,
        state.sampler_state,
        num_negatives=k,
        hidden=hidden,
        item_emb=item_emb,
    )


def train_epoch(
    state: loop.TrainState,
    epoch_key: PRNGKey,
    inputs: Array,
    targets: Array,
    weights: Array,
    gbce_t: ArrayLike,
    *,
    model,
    optimizer: optax.GradientTransformation,
    loss: str,
    num_negatives: int,
    sampler,
    batch_size: int,
) -> tuple[loop.TrainState, dict[str, Array]]:
    """One epoch of mini-batch Adam over training windows (padding rows weight 0).

    Real rows go first in a random order (from `epoch_key`), then padding; the
    [M, L] arrays are cut into ceil(M / batch_size) batches and scanned. Batch b
    draws its negatives with `fold_in(negative_key, b)` and its dropout with
    `fold_in(dropout_key, b)`. Batches without a counted position are skipped.

    Args:
      state: `loop.TrainState`.
      epoch_key: key for the shuffle, the negatives and dropout.
      inputs: [M, L] int32 input windows (item + 1, right-aligned, 0 = padding).
      targets: [M, L] int32 next items (0 = no target).
      weights: [M] float32 row weights in {0, 1}.
      gbce_t: gBCE calibration t (traced; ignored by other losses).
      model: `SASRec` or `GRU4Rec` (static).
      optimizer: the optax optimizer of `state` (static).
      loss: "ce", "bce" or "gbce" (static).
      num_negatives: static k (unused by "ce").
      sampler: a negative sampler over the model's items (static; its state is
        `state.sampler_state`; not MixGCF).
      batch_size: static batch size B.

    Returns:
      (new state, {"loss": [] mean loss over counted positions, "tokens": [] number
      of counted positions}).
    """
    num_rows = inputs.shape[0]
    if (
        inputs.ndim != 2
        or targets.shape != inputs.shape
        or weights.shape != (num_rows,)
    ):
        raise ValueError(
            f"inputs {inputs.shape}, targets {targets.shape}, weights {weights.shape}"
        )
    weights = weights.astype(jnp.float32)
    nb = loop.num_batches(num_rows, batch_size)
    pad = nb * batch_size - num_rows
    perm_key, negative_key, dropout_key = jax.random.split(epoch_key, 3)
    order_key = jnp.where(weights > 0, jax.random.uniform(perm_key, (num_rows,)), 2.0)
    order = jnp.argsort(order_key)

    def batches(x):
        x = jnp.pad(x[order], [(0, pad)] + [(0, 0)] * (x.ndim - 1))
        return x.reshape((nb, batch_size) + x.shape[1:])

    grad_fn = jax.value_and_grad(
        functools.partial(batch_loss, model=model, loss=loss), has_aux=True
    )
    use_dropout = getattr(model, "dropout_rate", 0.0) > 0

    def body(state, xs):
        b, x, y, w = xs
        negs, sampler_state = None, state.sampler_state
        if loss != "ce":
            negs, sampler_state = batch_negatives(
                jax.random.fold_in(negative_key, b),
                model,
                sampler,
                state,
                x,
                y,
                num_negatives,
            )
        drop = jax.random.fold_in(dropout_key, b) if use_dropout else None
        (value, aux), grads = grad_fn(state.params, x, y, w, negs, drop, gbce_t)
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        new = loop.TrainState(params, opt_state, state.step + 1, sampler_state)
        keep = aux["count"] > 0
        state = jax.tree.map(lambda a, c: jnp.where(keep, a, c), new, state)
        return state, (value * aux["count"], aux["count"])

    state, (loss_sum, counts) = jax.lax.scan(
        body,
        state,
        (jnp.arange(nb), batches(inputs), batches(targets), batches(weights)),
    )
    tokens = jnp.sum(counts)
    return state, {
        "loss": jnp.sum(loss_sum) / jnp.maximum(tokens, 1.0),
        "tokens": tokens,
    }


def repeat_windows(
    inputs: ArrayLike, targets: ArrayLike, *, min_rows: int
) -> tuple[np.ndarray, np.ndarray]:
    """The windows repeated whole until there are at least ``min_rows`` of them.

    Each epoch shuffles the rows, so the copies land in different batches.

    >>> x, y = repeat_windows([[1, 2]], [[2, 3]], min_rows=3)
    >>> x.tolist()
    [[1, 2], [1, 2], [1, 2]]
    """
    inputs = np.asarray(inputs, np.int32)
    targets = np.asarray(targets, np.int32)
    count = inputs.shape[0]
    if count == 0 or count >= min_rows:
        return inputs, targets
    copies = -(-int(min_rows) // count)
    return np.tile(inputs, (copies, 1)), np.tile(targets, (copies, 1))


def pad_windows(inputs: ArrayLike, targets: ArrayLike, *, multiple: int):
    """Drops windows without a target and pads to a multiple of `multiple`.

    Args:
      inputs: [M, L] int training inputs (`Sequences.training_windows`).
      targets: [M, L] int targets (0 = no target).
      multiple: the batch size.

    Returns:
      (inputs [M', L] int32, targets [M', L] int32, weights [M'] float32) with
      weight 0 on the appended all-zero rows.

    >>> x, y, w = pad_windows([[0, 1], [0, 0]], [[0, 2], [0, 0]], multiple=4)
    >>> x.shape, w.tolist()
    ((4, 2), [1.0, 0.0, 0.0, 0.0])
    """
    inputs = np.asarray(inputs, np.int32)
    targets = np.asarray(targets, np.int32)
    if inputs.ndim != 2 or targets.shape != inputs.shape:
        raise ValueError(f"inputs {inputs.shape} and targets {targets.shape} differ")
    keep = (targets > 0).any(axis=1)
    inputs, targets = inputs[keep], targets[keep]
    real = inputs.shape[0]
    total = loop.num_batches(real, multiple) * multiple
    weights = np.zeros(total, np.float32)
    weights[:real] = 1.0
    rows = [(0, total - real), (0, 0)]
    return np.pad(inputs, rows), np.pad(targets, rows), weights


# ----------------------------------------------------------------------------------
# Evaluation and the shell.


@functools.cache
def _jitted_scores(model):
    return jax.jit(model.scores)


def evaluate_sequential(
    model,
    params: PyTree,
    sequences,
    *,
    split: str,
    max_len: int,
    ks: tuple[int, ...] = (10, 20),
    mask_history: bool = True,
    data=None,
    batch_size: int | None = None,
) -> dict[str, float]:
    """Full-ranking next-item metrics ×100 through `evaluation.evaluate`.

    The host scorer reads the batch users' histories
    (`sequences.history(users, split=split, max_len=max_len)`: the training prefix
    at "val", prefix + validation item at "test") and returns the model's
    last-position scores [B, I]. Users without a held-out item are skipped
    (`average="evaluated"`); `Sequences.to_interactions` also leaves out a held-out
    item that repeats a history item, under either mask. With one held-out item
    recall@k = hit@k.

    Args:
      model: `SASRec` or `GRU4Rec`.
      params: its parameters.
      sequences: a `Sequences` (`history`, `to_interactions`).
      split: "val" or "test".
      max_len: history length L fed to the model.
      ks: cut-offs.
      mask_history: rank only items outside the user's history (the evaluator's
        `mask="query"`: the prefix at "val", prefix + validation item at "test";
        gSASRec's protocol) or every item (`mask="none"`).
      data: `sequences.to_interactions()`, if already built.
      batch_size: users per evaluation batch.

    Returns:
      {"ndcg@k", "recall@k", "mrr@k" for k in ks, "num_users": evaluated users}.
    """
    data = sequences.to_interactions() if data is None else data
    scores_fn = _jitted_scores(model)

    def score_fn(query_rows, users):
        del query_rows
        history = sequences.history(np.asarray(users), split=split, max_len=max_len)
        return scores_fn(params, jnp.asarray(history, jnp.int32))

    out = evaluation.evaluate(
        score_fn,
        data,
        split=split,
        ks=ks,
        batch_size=batch_size,
        average="evaluated",
        psp=False,
        mask="query" if mask_history else "none",
    )
    result = {f"{m}@{k}": out[f"{m}@{k}"] for k in ks for m in METRICS}
    result["num_users"] = out["num_users_evaluated"]
    return result


@functools.cache
def _jitted_epoch(model, loss: str, num_negatives: int, sampler, batch_size: int):
    """The epoch jitted once per (model, loss, k, sampler, batch size)."""
    return jax.jit(
        functools.partial(
            train_epoch,
            model=model,
            optimizer=loop.make_optimizer(),
            loss=loss,
            num_negatives=num_negatives,
            sampler=sampler,
            batch_size=batch_size,
        ),
        donate_argnums=0,
    )


@functools.cache
def _jitted_init(model):
    return jax.jit(model.init)


def clear_compiled() -> None:
    """Forgets the compiled epochs, scorers and initialisers (and JAX's own
    caches), so the next `fit_sequential` pays its compilation again."""
    for cached in (_jitted_scores, _jitted_epoch, _jitted_init):
        cached.cache_clear()
    loop.clear_compiled()


def init_train_state(
    model,
    init_key: PRNGKey,
    learning_rate: float,
    sampler_state: PyTree = (),
    params: PyTree | None = None,
) -> loop.TrainState:
    """`loop.init_state` with the flax init jitted (op by op, every initializer
    compiles separately: seconds on CPU); `params` (copied) for a warm start."""
    if params is None:
        params = _jitted_init(model)(init_key)
    else:  # a copy: jitted epochs donate the state's buffers
        params = jax.tree.map(jnp.copy, params)
    opt_state = loop.make_optimizer().init(params)
    opt_state.hyperparams["learning_rate"] = jnp.asarray(learning_rate, jnp.float32)
    return loop.TrainState(params, opt_state, jnp.zeros((), jnp.int32), sampler_state)


@dataclasses.dataclass
class SequentialFitResult:
    """Outcome of `fit_sequential`.

    Attributes:
      params: best parameters by validation nDCG@10.
      best_epoch: epoch (0-based) of the best validation nDCG@10.
      val: validation metrics of the best parameters.
      test: test metrics of the best parameters (None if not computed).
      history: one dict per evaluation ({"epoch", "loss", "val/ndcg@10", ...}).
      epochs: epochs run.
      seconds: wall time.
      epoch_seconds: mean wall time of a training epoch, evaluation excluded (and
        the first, compiling, epoch when more than one ran).
      tokens_per_second: counted target positions per epoch / `epoch_seconds`.
      tokens_per_epoch: counted target positions (training tokens) per epoch.
    """

    params: PyTree
    best_epoch: int
    val: dict[str, float]
    test: dict[str, float] | None
    history: list[dict[str, float]]
    epochs: int
    seconds: float
    epoch_seconds: float
    tokens_per_second: float
    tokens_per_epoch: int


def fit_sequential(
    model,
    sequences,
    *,
    loss: str = "ce",
    num_negatives: int = 1,
    sampler: str = "uniform",
    sampler_options: dict[str, Any] | None = None,
    init_params: PyTree | None = None,
    gbce_t: float = 0.75,
    learning_rate: float = 1e-3,
    batch_size: int = 128,
    max_len: int | None = None,
    max_epochs: int = 200,
    patience: int = 10,
    eval_every: int = 1,
    seed: int = 0,
    mask_history: bool = True,
    ks: tuple[int, ...] = (10, 20),
    eval_batch_size: int | None = None,
    compute_test: bool = True,
    log_fn: Callable[[int, dict[str, float]], None] | None = None,
    progress: bool | str = True,
    train_sequences: Any = None,
    min_batches_per_epoch: int = 1,
    checkpointer: Any = None,
    on_epoch: Callable[[int, PyTree], None] | None = None,
) -> SequentialFitResult:
    """Trains a sequential model with early stopping on validation nDCG@10.

    Training pairs are `sequences.training_windows(max_len)`; evaluation is
    `evaluate_sequential` (full ranking over all items).

    Args:
      model: `SASRec` or `GRU4Rec` with `num_items == sequences.num_items`.
      sequences: a `Sequences`.
      loss: "ce" (full softmax), "bce" (k sampled negatives) or "gbce".
      num_negatives: k for "bce" / "gbce" (SASRec paper 1; gSASRec 256).
      sampler: the negative sampler of "bce" / "gbce" (`negatives.get_sampler`;
        any but "mixgcf"); uniform by default.
      sampler_options: the sampler's options.
      init_params: start from these parameters (a warm start) instead of a fresh
        initialisation.
      gbce_t: gBCE calibration t (gSASRec 0.75).
      learning_rate: Adam learning rate.
      batch_size: windows per batch.
      max_len: window and history length L (default `model.max_len`).
      max_epochs: at most this many epochs.
      patience: evaluations without improvement before stopping.
      eval_every: evaluate every this many epochs (and after the last).
      seed: base seed; init key = fold_in(base, 0), epoch e key = fold_in(base,
        e + 1).
      mask_history: mask the user's history items when ranking (see
        `evaluate_sequential`).
      ks: cut-offs; must include 10.
      eval_batch_size: users per evaluation batch.
      compute_test: evaluate the best parameters on the test split.
      log_fn: called as log_fn(epoch, record) after every evaluation.
      progress: show a progress bar (and log lines) over epochs; a string names it.
      train_sequences: the `Sequences` whose training windows the model learns
        from (e.g. adapted distilled users, `adapters.sequential.to_sequences`),
        over the same items; default ``sequences``. Validation, early stopping and
        test always use ``sequences``.
      min_batches_per_epoch: repeat the training windows (`repeat_windows`) so an
        epoch has at least this many batches; small training sets (a distilled
        summary, a few real users) then get as many updates per epoch, and per
        early-stopping evaluation, as the full data.
      on_epoch: called as on_epoch(epoch, params) after every training epoch
        (e.g. to keep a trajectory of checkpoints; copy what you keep: the next
        epoch reuses the buffers).
      checkpointer: makes the run resumable: an object with
        ``save(epoch, arrays, meta)`` (called after every evaluation with the
        training state and the best parameters as ``arrays`` and the loop's
        bookkeeping as a JSON-able ``meta``) and ``restore(target)`` returning
        the newest ``(epoch, arrays, meta)`` or None. Epoch keys depend only on
        the seed and the epoch, so a resumed run ends exactly as an
        uninterrupted one.

    Returns:
      `SequentialFitResult`.

    Raises:
      ValueError: bad loss, num_negatives, ks, max_len or item count.
      FloatingPointError: a non-finite training loss.
    """
    start = time.perf_counter()
    max_len = model.max_len if max_len is None else max_len
    _check_fit_options(
        model, sequences, loss=loss, ks=ks, max_len=max_len, num_negatives=num_negatives
    )
    data = sequences.to_interactions()
    train_sequences = sequences if train_sequences is None else train_sequences
    if train_sequences.num_items != sequences.num_items:
        raise ValueError(
            f"train_sequences have {train_sequences.num_items} items, the evaluated "
            f"sequences {sequences.num_items}"
        )
    rows, tokens_per_epoch = _training_rows(
        train_sequences, max_len, batch_size, min_batches_per_epoch
    )
    sampler_obj, sampler_state = _make_sampler(model, sampler, sampler_options, rows)
    epoch_fn = _jitted_epoch(model, loss, num_negatives, sampler_obj, batch_size)
    base_key = jax.random.key(seed)
    state = init_train_state(
        model,
        jax.random.fold_in(base_key, 0),
        learning_rate,
        sampler_state,
        params=init_params,
    )
    gbce_t = jnp.asarray(gbce_t, jnp.float32)
    evaluate = functools.partial(
        evaluate_sequential,
        model,
        sequences=sequences,
        max_len=max_len,
        ks=ks,
        mask_history=mask_history,
        data=data,
        batch_size=eval_batch_size,
    )
    desc = progress if isinstance(progress, str) else f"{model.name}/{loss}"
    stopping, epoch_times, first = loop.EarlyStopping(patience), [], 0
    if checkpointer is not None:
        resumed = _resume(checkpointer, state, patience, desc)
        if resumed is not None:
            state, stopping, epoch_times, first = resumed

    def step(state, epoch):
        key = jax.random.fold_in(base_key, epoch + 1)
        state, stats = epoch_fn(state, key, *rows, gbce_t)
        if on_epoch is not None:
            on_epoch(epoch, state.params)
        return state, stats["loss"]

    def save(epoch, state):
        if checkpointer is not None:
            _save(checkpointer, epoch, state, stopping, epoch_times)

    loop.run_epochs(
        step,
        functools.partial(evaluate, split="val"),
        state,
        stopping,
        max_epochs=max_epochs,
        eval_every=eval_every,
        learning_rate=learning_rate,
        first=first,
        progress=desc if progress else None,
        name=desc,
        log_fn=log_fn,
        after_eval=save,
        times=epoch_times,
    )
    test = evaluate(stopping.params, split="test") if compute_test else None
    return _result(stopping, test, epoch_times, tokens_per_epoch, start, desc)


def _training_rows(train_sequences, max_len, batch_size, min_batches_per_epoch):
    """The padded training windows on device (`pad_windows`, repeated up to
    `min_batches_per_epoch` batches) and the real target tokens per epoch."""
    inputs, targets = train_sequences.training_windows(max_len)
    inputs, targets = repeat_windows(
        inputs, targets, min_rows=min_batches_per_epoch * batch_size
    )
    rows = pad_windows(inputs, targets, multiple=batch_size)
    tokens_per_epoch = int(np.sum((rows[1] > 0) & (rows[2][:, None] > 0)))
    return tuple(jnp.asarray(x) for x in rows), tokens_per_epoch


def _make_sampler(model, sampler: str, sampler_options, rows):
    """The negative sampler and its initial state (item counts of the targets)."""
    sampler_obj = negatives_lib.get_sampler(
        sampler, num_items=model.num_items, **(sampler_options or {})
    )
    if sampler_obj.needs == "layers":
        raise ValueError(f"sampler {sampler!r} needs a graph model, not {model.name}")
    item_counts = np.bincount(
        np.asarray(rows[1]).ravel(), minlength=model.num_items + 1
    )[1:]
    return sampler_obj, negatives_lib.init_sampler_state(
        sampler_obj, item_counts, model
    )


def _result(stopping, test, epoch_times, tokens_per_epoch, start, desc):
    """`fit_sequential`'s result from its loop (compilation out of epoch times)."""
    timed = epoch_times[1:] or epoch_times
    epoch_seconds = float(np.mean(timed))
    tokens_per_second = tokens_per_epoch / max(epoch_seconds, 1e-9)
    logging.info(
        "%s: best epoch %d val ndcg@10 %.3f (%d epochs, %.3fs/epoch, %.0f tokens/s)",
        desc,
        stopping.epoch,
        stopping.value,
        len(epoch_times),
        epoch_seconds,
        tokens_per_second,
    )
    return SequentialFitResult(
        params=stopping.params,
        best_epoch=stopping.epoch,
        val=stopping.val,
        test=test,
        history=stopping.history,
        epochs=len(epoch_times),
        seconds=time.perf_counter() - start,
        epoch_seconds=epoch_seconds,
        tokens_per_second=tokens_per_second,
        tokens_per_epoch=tokens_per_epoch,
    )


def _save(checkpointer, epoch, state, stopping, epoch_times) -> None:
    """One resumable snapshot of `fit_sequential`'s loop after ``epoch``."""
    meta = {**stopping.meta(), "epoch_times": epoch_times}
    params = state.params if stopping.params is None else stopping.params
    checkpointer.save(epoch, {"state": state, "best_params": params}, meta)


def _resume(checkpointer, state, patience: int, desc: str):
    """(state, `loop.EarlyStopping`, epoch_times, next epoch) from the newest
    snapshot, or None."""
    restored = checkpointer.restore({"state": state, "best_params": state.params})
    if restored is None:
        return None
    epoch, arrays, meta = restored
    stopping = loop.EarlyStopping.from_meta(patience, meta, arrays["best_params"])
    logging.info(
        "%s: resumed after epoch %d (best epoch %d)", desc, epoch, stopping.epoch
    )
    return arrays["state"], stopping, list(meta["epoch_times"]), epoch + 1


def _check_fit_options(model, sequences, *, loss, ks, max_len, num_negatives) -> None:
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; valid: {list(LOSSES)}")
    if loss != "ce" and num_negatives < 1:
        raise ValueError(f"loss {loss!r} needs num_negatives >= 1, got {num_negatives}")
    if 10 not in ks:
        raise ValueError(f"ks must include 10 (early stopping on nDCG@10), got {ks}")
    if not 1 <= max_len <= model.max_len:
        raise ValueError(f"max_len must lie in [1, {model.max_len}], got {max_len}")
    if sequences.num_items != model.num_items:
        raise ValueError(
            f"model has {model.num_items} items, sequences {sequences.num_items}"
        )
