"""Mult-VAE (Liang et al., WWW 2018): a variational autoencoder over item rows.

A user's row x [I] (binary, or continuous weights such as a Distill-CF summary
row) is L2-normalised, passed through input dropout and a tanh MLP encoder
([I] -> hidden -> 2·latent: mean and log-variance), a latent z is drawn with the
reparameterisation trick during training (the mean is used when scoring), and a
tanh MLP decoder (latent -> hidden -> [I]) gives item logits. The loss per row is
the multinomial negative log-likelihood of the row under softmax(logits) plus
β·KL(q(z|x) ‖ N(0, I)), with β annealed linearly to ``anneal_cap`` over
``total_anneal_steps`` updates (the paper's partial regularisation). Defaults are
the paper's: [I] -> 600 -> 200, dropout 0.5, Adam 1e-3, batches of 500, β cap 0.2
over 200,000 steps.

Because the encoder reads any row, the model scores users it never saw (its own
fold-in): trained on a summary, it ranks real users from their training rows.

Core: `loss` (pure), `train_epoch` (a `lax.scan` over fixed-size batches; rows of
weight 0 are padding and real rows are shuffled to the front). Shell: `fit` with
early stopping on a validation metric through the shared evaluator.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from infinite_ae import evaluation
from infinite_ae.trainers import loop
from infinite_ae.types import Array, PRNGKey, PyTree


class MultVAENet(nn.Module):
    """The Mult-VAE network: ``(rows [B, I]) -> (logits [B, I], kl [B])``.

    Attributes:
      num_items: I.
      hidden: width of the encoder's and decoder's hidden layer.
      latent: dimension of z.
      dropout_rate: dropout on the normalised input.
    """

    num_items: int
    hidden: int = 600
    latent: int = 200
    dropout_rate: float = 0.5

    @nn.compact
    def __call__(self, rows: Array, *, train: bool) -> tuple[Array, Array]:
        norm = jnp.sqrt(jnp.sum(rows * rows, axis=-1, keepdims=True))
        x = rows / jnp.maximum(norm, 1e-12)
        x = nn.Dropout(self.dropout_rate, deterministic=not train)(x)
        h = jnp.tanh(nn.Dense(self.hidden, name="encoder_hidden")(x))
        stats = nn.Dense(2 * self.latent, name="encoder_out")(h)
        mean, log_var = jnp.split(stats, 2, axis=-1)
        z = mean
        if train:
            noise = jax.random.normal(self.make_rng("sample"), mean.shape, mean.dtype)
            z = mean + jnp.exp(0.5 * log_var) * noise
        h = jnp.tanh(nn.Dense(self.hidden, name="decoder_hidden")(z))
        logits = nn.Dense(self.num_items, name="decoder_out")(h)
        kl = 0.5 * jnp.sum(jnp.exp(log_var) + mean**2 - 1.0 - log_var, axis=-1)
        return logits, kl


def loss(
    params: PyTree,
    rows: Array,
    weights: Array,
    beta: Array,
    key: PRNGKey,
    *,
    net: MultVAENet,
) -> Array:
    """Weighted mean over rows of −Σ_i x_i log softmax(logits)_i + β·KL.

    Args:
      params: the network's parameters.
      rows: [B, I] non-negative rows.
      weights: [B] row weights (0 = padding).
      beta: [] KL weight.
      key: dropout and sampling key.
      net: the network.
    """
    dropout_key, sample_key = jax.random.split(key)
    logits, kl = net.apply(
        {"params": params},
        rows,
        train=True,
        rngs={"dropout": dropout_key, "sample": sample_key},
    )
    nll = -jnp.sum(jax.nn.log_softmax(logits, axis=-1) * rows, axis=-1)
    return jnp.sum(weights * (nll + beta * kl)) / jnp.maximum(jnp.sum(weights), 1.0)


def beta_at(step: Array, anneal_cap: float, total_anneal_steps: int) -> Array:
    """β after ``step`` updates: min(cap, step / total) (0 → cap linearly)."""
    return jnp.minimum(anneal_cap, step / max(total_anneal_steps, 1)).astype(
        jnp.float32
    )


def train_epoch(
    state: loop.TrainState,
    key: PRNGKey,
    rows: Array,
    weights: Array,
    *,
    net: MultVAENet,
    optimizer: optax.GradientTransformation,
    batch_size: int,
    anneal_cap: float,
    total_anneal_steps: int,
) -> tuple[loop.TrainState, Array]:
    """One epoch over padded rows [N, I] (N a multiple of batch_size); mean loss."""
    shuffle_key, step_key = jax.random.split(key)
    # Real rows in random order first, padding (weight 0) last.
    order = jnp.argsort(jax.random.uniform(shuffle_key, weights.shape) + (weights == 0))
    batches = order.reshape(-1, batch_size)

    def step(state, batch_and_index):
        batch, index = batch_and_index
        beta = beta_at(state.step, anneal_cap, total_anneal_steps)
        value, grads = jax.value_and_grad(loss)(
            state.params,
            rows[batch],
            weights[batch],
            beta,
            jax.random.fold_in(step_key, index),
            net=net,
        )
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        return loop.TrainState(params, opt_state, state.step + 1), value

    state, losses = jax.lax.scan(step, state, (batches, jnp.arange(batches.shape[0])))
    return state, jnp.mean(losses)


def scores(params: PyTree, rows: Array, *, net: MultVAENet) -> Array:
    """[B, I] item logits of the rows (no dropout, z = the posterior mean)."""
    logits, _ = net.apply({"params": params}, rows, train=False)
    return logits


@dataclasses.dataclass(frozen=True)
class MultVAE:
    """Mult-VAE hyper-parameters (the module docstring gives the model)."""

    hidden: int = 600
    latent: int = 200
    dropout_rate: float = 0.5
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    batch_size: int = 500
    anneal_cap: float = 0.2
    total_anneal_steps: int = 200_000
    min_batches_per_epoch: int = 10

    def net(self, num_items: int) -> MultVAENet:
        return MultVAENet(num_items, self.hidden, self.latent, self.dropout_rate)

    def optimizer(self) -> optax.GradientTransformation:
        return optax.adamw(self.learning_rate, weight_decay=self.weight_decay)


@functools.cache
def _jitted(model: MultVAE, num_items: int, batch_size: int):
    """(init, epoch, score) jitted once per (hyper-parameters, I, batch size)."""
    net = model.net(num_items)
    epoch_fn = jax.jit(
        functools.partial(
            train_epoch,
            net=net,
            optimizer=model.optimizer(),
            batch_size=batch_size,
            anneal_cap=model.anneal_cap,
            total_anneal_steps=model.total_anneal_steps,
        ),
        donate_argnums=0,
    )

    def init(key):
        params = net.init(key, jnp.zeros((1, num_items)), train=False)["params"]
        opt_state = model.optimizer().init(params)
        return loop.TrainState(params, opt_state, jnp.zeros((), jnp.int32))

    return jax.jit(init), epoch_fn, jax.jit(functools.partial(scores, net=net))


def pad_to_batches(
    rows: Any, batch_size: int, min_batches: int = 1
) -> tuple[np.ndarray, np.ndarray, int]:
    """Dense float32 rows padded with zero rows to a multiple of the batch size.

    The batch is ``min(batch_size, ceil(N / min_batches))``: a set of N rows gives
    at least `min_batches` updates an epoch when it has that many rows (a 500-row
    summary in batches of 500 would get one update an epoch and stay
    under-trained within any epoch budget).
    Returns (rows [N, I], weights [N], batch size).
    """
    dense = np.asarray(rows.toarray() if hasattr(rows, "toarray") else rows, np.float32)
    if dense.ndim != 2 or dense.shape[0] < 1:
        raise ValueError(f"rows must be [N >= 1, I], got shape {dense.shape}")
    if not np.all(np.isfinite(dense)) or dense.min() < 0:
        raise ValueError("rows must be finite and non-negative")
    batch = min(batch_size, -(-dense.shape[0] // max(min_batches, 1)))
    total = loop.num_batches(dense.shape[0], batch) * batch
    weights = np.zeros(total, np.float32)
    weights[: dense.shape[0]] = 1.0
    return np.pad(dense, ((0, total - dense.shape[0]), (0, 0))), weights, batch


def fit(
    model: MultVAE,
    rows: Any,
    data: Any,
    *,
    max_epochs: int = 200,
    patience: int = 10,
    eval_every: int = 1,
    seed: int = 0,
    metric: str = "ndcg@10",
    ks: tuple[int, ...] = (10, 100),
    compute_test: bool = True,
    negatives: np.ndarray | None = None,
    log_fn: Callable[[int, dict[str, float]], None] | None = None,
    progress: str | None = None,
) -> loop.FitResult:
    """Trains on ``rows``; keeps the parameters best on ``data``'s validation.

    Args:
      model: hyper-parameters.
      rows: [N, I] training rows (CSR or dense; a summary's continuous rows too).
      data: an `Interactions` whose users are validated and tested: each is
        encoded from its training row (its history items are masked).
      max_epochs: at most this many epochs.
      patience: evaluations without improvement before stopping.
      eval_every: evaluate every this many epochs.
      seed: init key fold_in(key(seed), 0); epoch e fold_in(key(seed), e + 1).
      metric: validation metric that selects the parameters.
      ks: cut-offs (must give ``metric``).
      compute_test: evaluate the kept parameters on test.
      negatives: AUC negatives of the test evaluation.
      log_fn: called as log_fn(epoch, scalars) after every evaluation.
      progress: a description to show a progress bar of the epochs under.

    Returns:
      `loop.FitResult` (``epoch_seconds``: mean training time of an epoch,
      compilation excluded).
    """
    start = time.perf_counter()
    padded, weights, batch = pad_to_batches(
        rows, model.batch_size, model.min_batches_per_epoch
    )
    num_items = padded.shape[1]
    if data.train.shape[1] != num_items:
        raise ValueError(f"rows have {num_items} items, data {data.train.shape[1]}")
    init_fn, epoch_fn, score_fn = _jitted(model, num_items, batch)
    base_key = jax.random.key(seed)
    state = init_fn(jax.random.fold_in(base_key, 0))
    padded, weights = jnp.asarray(padded), jnp.asarray(weights)
    # Compiled ahead, so `epoch_seconds` counts training only.
    epoch_fn = epoch_fn.lower(state, base_key, padded, weights).compile()

    def evaluate(params, split, **kwargs):
        return evaluation.evaluate(
            lambda q, users: score_fn(params, q), data, split=split, ks=ks, **kwargs
        )

    def step(state, epoch):
        return epoch_fn(state, jax.random.fold_in(base_key, epoch + 1), padded, weights)

    stopping = loop.EarlyStopping(patience, metric=metric)
    _, times = loop.run_epochs(
        step,
        lambda params: evaluate(params, "val"),
        state,
        stopping,
        max_epochs=max_epochs,
        eval_every=eval_every,
        learning_rate=model.learning_rate,
        progress=progress,
        log_fn=log_fn,
    )
    params = jax.device_get(stopping.params)
    test = evaluate(params, "test", negatives=negatives) if compute_test else None
    return loop.FitResult(
        params=params,
        best_epoch=stopping.epoch,
        val=stopping.val,
        test=test,
        history=stopping.history,
        epochs=len(times),
        seconds=time.perf_counter() - start,
        epoch_seconds=float(np.mean(times or [0.0])),
    )
