"""AutoSample-style sampler search and retraining, reconstructed from the abstract.

Core (pure): `search_epoch`, one epoch of alternating steps over fixed-size batches
(`lax.scan`): every batch draws one negative per row from each of the S samplers,
takes the per-sampler gradients g_s on one forward pass, moves the sampler logits a
along the first-order hypergradient of a validation batch's loss
(`unroll.hypergradient`; `objective="train"` uses the training loss instead,
the degenerate choice kept for comparison), then takes an Adam step on theta with
sum_s alpha_s g_s, alpha = softmax(a / T). Batches holding only padding change
nothing.

Shell: `search` (annealed weighted search: T goes geometrically from T0 to T_min
over the epochs), `search_bandit` (EXP3 over samplers, one sampler per epoch,
rewarded by the validation nDCG@10 gain over its running mean), `select_sampler`
(argmax of the weights averaged over the last part of the search) and `autosample`
(search, then retrain with the chosen sampler from the search's parameters or from
scratch, through `trainers.loop.fit`).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from absl import logging

from infinite_ae import progress as progress_lib
from infinite_ae.autosample import mixture
from infinite_ae.autosample import unroll as unroll_lib
from infinite_ae.trainers import loop
from infinite_ae.trainers import negatives as negatives_lib
from infinite_ae.types import Array, PRNGKey, PyTree

OBJECTIVES = ("validation", "train")
MODES = ("weighted", "bandit")
RETRAIN_INITS = ("search", "scratch")

SamplerSpec = str | tuple[str, dict[str, Any]]
"""A sampler name, or (name, options) for `negatives.get_sampler`."""


class SearchState(NamedTuple):
    """The model's training state and the sampler logits with their Adam state.

    Attributes:
      train: `loop.TrainState`; its `sampler_state` is the tuple of S states.
      logits: [S] float32 sampler logits a.
      arch_opt_state: optax state of `make_arch_optimizer`.
    """

    train: loop.TrainState
    logits: Array
    arch_opt_state: Any


@functools.cache
def make_arch_optimizer() -> optax.GradientTransformation:
    """Adam on the sampler logits, learning rate injected (traced)."""
    return optax.inject_hyperparams(optax.adam)(learning_rate=3e-3)


def spec_parts(spec: SamplerSpec) -> tuple[str, dict[str, Any]]:
    """(name, options) of a sampler spec."""
    if isinstance(spec, str):
        return spec, {}
    name, options = spec
    return name, dict(options)


def spec_label(spec: SamplerSpec) -> str:
    """A readable label with the options: "dns" or "dns(num_candidates=32)".

    >>> spec_label(("popularity", {"gamma": 1.0}))
    'popularity(gamma=1.0)'
    """
    name, options = spec_parts(spec)
    if not options:
        return name
    return f"{name}({', '.join(f'{k}={v}' for k, v in sorted(options.items()))})"


def spec_labels(specs: Sequence[SamplerSpec]) -> tuple[str, ...]:
    """Labels of a candidate set: the bare names when they are unique, else
    `spec_label` (the options tell the variants apart).

    >>> spec_labels([("dns", {"num_candidates": 8}), "uniform"])
    ('dns', 'uniform')
    >>> spec_labels([("dns", {"num_candidates": 8}), "dns"])
    ('dns(num_candidates=8)', 'dns')
    """
    names = [spec_parts(s)[0] for s in specs]
    if len(set(names)) == len(names):
        return tuple(names)
    return tuple(spec_label(s) for s in specs)


def build_samplers(specs: Sequence[SamplerSpec], num_items: int) -> tuple:
    """Samplers from specs; raises ValueError for unknown names, options, repeats."""
    labels = [spec_label(s) for s in specs]
    if len(set(labels)) != len(labels) or not labels:
        raise ValueError(f"samplers must be distinct and non-empty, got {labels}")
    return tuple(
        negatives_lib.get_sampler(name, num_items=num_items, **options)
        for name, options in map(spec_parts, specs)
    )


def temperature_at(epoch: int, epochs: int, t0: float, t_min: float) -> float:
    """Geometric annealing from t0 (first epoch) to t_min (last epoch).

    >>> [round(temperature_at(e, 3, 1.0, 0.25), 3) for e in range(3)]
    [1.0, 0.5, 0.25]
    """
    if epochs <= 1:
        return t0
    return t0 * (t_min / t0) ** (epoch / (epochs - 1))


def mixture_update(
    state: SearchState,
    losses: Array,
    grads: PyTree,
    sampler_states: tuple,
    val_fn,
    temperature: Array,
    xi: Array,
    count: Array,
    *,
    optimizer: optax.GradientTransformation,
    arch_optimizer: optax.GradientTransformation,
):
    """One search step from a batch's per-sampler losses and gradients.

    The sampler logits take an Adam step along the hypergradient of `val_fn`
    (`unroll.hypergradient_of`), or along d L_train / d alpha = the losses when
    `val_fn` is None (the degenerate objective); then theta takes an Adam step
    with sum_s alpha_s g_s under the new weights. A batch without real rows
    (count 0) changes nothing.

    Returns:
      (state, (mixed loss x count, losses x count, validation loss, alpha after the
      step, real, count)), the scan outputs of a search epoch.
    """
    train = state.train
    alpha, to_logits = jax.vjp(
        lambda a: mixture.mixture_weights(a, temperature), state.logits
    )
    if val_fn is None:
        d_alpha, val_loss = losses, jnp.zeros(())
    else:
        d_alpha, val_loss = unroll_lib.hypergradient_of(
            val_fn, train.params, grads, alpha, xi
        )
    (d_logits,) = to_logits(d_alpha)
    arch_updates, arch_opt_state = arch_optimizer.update(
        d_logits, state.arch_opt_state, state.logits
    )
    logits = optax.apply_updates(state.logits, arch_updates)
    alpha = mixture.mixture_weights(logits, temperature)
    updates, opt_state = optimizer.update(
        unroll_lib.combine(alpha, grads), train.opt_state, train.params
    )
    params = optax.apply_updates(train.params, updates)
    new = SearchState(
        loop.TrainState(params, opt_state, train.step + 1, sampler_states),
        logits,
        arch_opt_state,
    )
    real = count > 0
    state = jax.tree.map(lambda a, c: jnp.where(real, a, c), new, state)
    out_alpha = mixture.mixture_weights(state.logits, temperature)
    return state, (
        jnp.dot(alpha, losses) * count,
        losses * count,
        val_loss,
        out_alpha,
        real,
        count,
    )


def search_epoch(
    state: SearchState,
    epoch_key: PRNGKey,
    users: Array,
    items: Array,
    weights: Array,
    excluded_keys: Array,
    val_users: Array,
    val_items: Array,
    temperature: Array,
    xi: Array,
    *,
    model,
    samplers: tuple,
    optimizer: optax.GradientTransformation,
    arch_optimizer: optax.GradientTransformation,
    batch_size: int,
    val_batch_size: int,
    objective: str = "validation",
    val_objective: str = "top_bpr",
) -> tuple[SearchState, dict[str, Array]]:
    """One search epoch: per batch, an update of the sampler logits, then of theta.

    Batches are formed as in `loop.train_epoch` (real rows shuffled first, padding
    after); batch b draws its negatives with `fold_in(neg_key, b)` and
    `val_batch_size` validation rows uniformly with `fold_in(val_key, b)`.

    Args:
      state: `SearchState`.
      epoch_key: key of the epoch.
      users, items, weights: [R] training rows (weight 0 = padding).
      excluded_keys: [N'] sorted flat keys the negatives avoid.
      val_users, val_items: [V] validation rows (user, held-out item).
      temperature: [] T of alpha = softmax(a / T) (traced).
      xi: [] unroll step size (traced).
      model, samplers, optimizer, arch_optimizer: static.
      batch_size, val_batch_size: static sizes.
      objective: "validation" (the hypergradient) or "train" (d L_train / d alpha,
        the degenerate choice).
      val_objective: the validation loss, "softmax" or "top_bpr"
        (`unroll.validation_loss`; the training items are its excluded keys).

    Returns:
      (new state, {"loss": mean mixed loss, "sampler_losses": [S] means,
      "val_loss": mean validation loss, "alpha": [nb, S] weights after each
      batch, "real": [nb] bool, batches with real rows}).
    """
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
    (num_rows,) = users.shape
    weights = weights.astype(jnp.float32)
    nb = loop.num_batches(num_rows, batch_size)
    pad = nb * batch_size - num_rows
    perm_key, neg_key, val_key = jax.random.split(epoch_key, 3)
    order = jnp.argsort(
        jnp.where(weights > 0, jax.random.uniform(perm_key, (num_rows,)), 2.0)
    )

    def batches(x):
        return jnp.pad(x[order], (0, pad)).reshape(nb, batch_size)

    graph = model.make_graph(users, items, weights)
    val_ones = jnp.ones((val_batch_size,), jnp.float32)

    def body(state: SearchState, xs):
        b, u, i, w = xs
        train = state.train
        negs, sampler_states = mixture.draw_negatives(
            jax.random.fold_in(neg_key, b),
            model,
            samplers,
            train.sampler_state,
            train.params,
            graph,
            u,
            i,
            w,
            excluded_keys,
        )
        losses, grads = unroll_lib.sampler_gradients(
            model, train.params, graph, u, i, negs, w
        )
        val_fn = None
        if objective == "validation":
            rows = jax.random.randint(
                jax.random.fold_in(val_key, b),
                (val_batch_size,),
                0,
                val_users.shape[0],
            )
            val_fn = functools.partial(
                unroll_lib.validation_loss,
                model,
                graph=graph,
                users=val_users[rows],
                items=val_items[rows],
                weights=val_ones,
                objective=val_objective,
                excluded_keys=excluded_keys,
            )
        return mixture_update(
            state,
            losses,
            grads,
            sampler_states,
            val_fn,
            temperature,
            xi,
            jnp.sum(w),
            optimizer=optimizer,
            arch_optimizer=arch_optimizer,
        )

    state, outputs = jax.lax.scan(
        body, state, (jnp.arange(nb), batches(users), batches(items), batches(weights))
    )
    return state, epoch_stats(outputs)


def epoch_stats(outputs) -> dict[str, Array]:
    """A search epoch's statistics from the scanned `mixture_update` outputs:
    losses averaged over counted rows (or positions), the validation loss over
    real batches, alpha after every batch."""
    loss_sum, sampler_sums, val_losses, alphas, real, counts = outputs
    rows = jnp.maximum(jnp.sum(counts), 1.0)
    num_real = jnp.maximum(jnp.sum(real), 1)
    return {
        "loss": jnp.sum(loss_sum) / rows,
        "sampler_losses": jnp.sum(sampler_sums, 0) / rows,
        "val_loss": jnp.sum(jnp.where(real, val_losses, 0.0)) / num_real,
        "alpha": alphas,
        "real": real,
    }


@dataclasses.dataclass
class SearchResult:
    """Outcome of a search.

    Attributes:
      labels: the S sampler labels (`spec_labels`).
      specs: the S sampler specs.
      params: the model's parameters at the end of the search.
      trajectory: [E, S] sampler weights per epoch (the epoch's mean alpha for
        the weighted search, the EXP3 probabilities for the bandit).
      weights: [S] weights averaged over the last part of the search.
      selected: index of the chosen sampler.
      history: one dict per epoch (loss, val_loss or val/ndcg@10, temperature).
      seconds: wall time of the search.
      mode: "weighted" or "bandit".
    """

    labels: tuple[str, ...]
    specs: tuple
    params: PyTree
    trajectory: np.ndarray
    weights: np.ndarray
    selected: int
    history: list[dict[str, float]]
    seconds: float
    mode: str

    @property
    def selected_spec(self) -> SamplerSpec:
        return self.specs[self.selected]

    @property
    def selected_label(self) -> str:
        return self.labels[self.selected]


def select_sampler(trajectory: np.ndarray, fraction: float) -> tuple[int, np.ndarray]:
    """argmax of the weights averaged over the last `fraction` of the epochs.

    >>> select_sampler(np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6]]), 0.5)
    (1, array([0.3, 0.7]))
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    trajectory = np.asarray(trajectory, np.float64)
    last = max(1, math.ceil(fraction * trajectory.shape[0]))
    weights = trajectory[-last:].mean(axis=0)
    return int(np.argmax(weights)), weights


@functools.cache
def _jitted_search_epoch(
    model, samplers, batch_size, val_batch_size, objective, val_objective
):
    return jax.jit(
        functools.partial(
            search_epoch,
            model=model,
            samplers=samplers,
            optimizer=loop.make_optimizer(),
            arch_optimizer=make_arch_optimizer(),
            batch_size=batch_size,
            val_batch_size=val_batch_size,
            objective=objective,
            val_objective=val_objective,
        ),
        donate_argnums=0,
    )


def _rows_of(matrix) -> tuple[np.ndarray, np.ndarray]:
    coo = matrix.tocoo()
    return coo.row.astype(np.int32), coo.col.astype(np.int32)


def _setup(model, users, items, data, specs, seed, learning_rate, batch_size):
    """Samplers, their states, padded rows, exclusion keys and the initial state."""
    num_items = data.train.shape[1]
    samplers = build_samplers(specs, num_items)
    counts = np.bincount(np.asarray(items, np.int64), minlength=num_items)
    states = tuple(negatives_lib.init_sampler_state(s, counts, model) for s in samplers)
    rows = tuple(
        jnp.asarray(x) for x in loop.pad_rows(users, items, multiple=batch_size)
    )
    excluded = jnp.asarray(negatives_lib.exclusion_keys(users, items, num_items))
    base_key = jax.random.key(seed)
    train = loop.init_state(
        model,
        loop.make_optimizer(),
        jax.random.fold_in(base_key, 0),
        learning_rate,
        states,
    )
    return samplers, rows, excluded, base_key, train


def search(
    model,
    users,
    items,
    data,
    *,
    samplers: Sequence[SamplerSpec],
    epochs: int = 10,
    learning_rate: float = 1e-3,
    arch_learning_rate: float = 3e-3,
    temperature: tuple[float, float] = (1.0, 0.2),
    xi: float | None = None,
    batch_size: int = 4096,
    val_batch_size: int = 1024,
    objective: str = "validation",
    val_objective: str = "top_bpr",
    select_fraction: float = 0.3,
    seed: int = 0,
    progress: str | None = None,
    log_fn: Callable[[int, dict[str, float]], None] | None = None,
) -> SearchResult:
    """The annealed weighted search (see the module docstring).

    Args:
      model: a trainers model (BPRMF, LightGCN).
      users, items: [N] int training rows.
      data: `Interactions` (its `val` split drives the weights).
      samplers: S candidate sampler specs.
      epochs: search epochs.
      learning_rate: Adam learning rate of theta.
      arch_learning_rate: Adam learning rate of the sampler logits.
      temperature: (T0, T_min) of the geometric annealing.
      xi: unroll step size; default `learning_rate`.
      batch_size, val_batch_size: rows per training / validation batch.
      objective: "validation" or "train" (degenerate, for comparison).
      val_objective: the validation loss, "top_bpr" (top-heavy, like the
        ranking metrics; the default) or "softmax" (the whole catalogue's
        likelihood, which favours uniform negatives: on ML-100K it chose uniform
        for BPR-MF and LightGCN where top_bpr chose DNS, nearer the oracle).
      select_fraction: the last fraction of epochs whose weights are averaged.
      seed: init key fold_in(seed, 0), epoch e key fold_in(seed, e + 1).
      progress: a description to show a progress bar under.
      log_fn: called as log_fn(epoch, record) after every epoch.

    Raises:
      ValueError: bad samplers or sizes, or no validation rows.
    """
    start = time.perf_counter()
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    val_users, val_items = _rows_of(data.val)
    if val_users.size == 0:
        raise ValueError("the search needs validation rows (data.val is empty)")
    sampler_objs, rows, excluded, base_key, train = _setup(
        model, users, items, data, samplers, seed, learning_rate, batch_size
    )
    state = init_search_state(train, len(sampler_objs), arch_learning_rate)
    epoch_fn = _jitted_search_epoch(
        model, sampler_objs, batch_size, val_batch_size, objective, val_objective
    )
    val = (jnp.asarray(val_users), jnp.asarray(val_items))

    def run_epoch(state, epoch, t):
        return epoch_fn(
            state,
            jax.random.fold_in(base_key, epoch + 1),
            *rows,
            excluded,
            *val,
            jnp.float32(t),
            jnp.float32(learning_rate if xi is None else xi),
        )

    return weighted_search_loop(
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


def init_search_state(
    train: loop.TrainState, num_samplers: int, arch_learning_rate: float
) -> SearchState:
    """Uniform sampler weights (zero logits) and their Adam state."""
    logits = jnp.zeros((num_samplers,), jnp.float32)
    arch_state = make_arch_optimizer().init(logits)
    arch_state.hyperparams["learning_rate"] = jnp.asarray(
        arch_learning_rate, jnp.float32
    )
    return SearchState(train, logits, arch_state)


def weighted_search_loop(
    run_epoch,
    state: SearchState,
    samplers: Sequence[SamplerSpec],
    *,
    epochs: int,
    temperature: tuple[float, float],
    select_fraction: float,
    progress: str | None,
    log_fn,
    start: float,
) -> SearchResult:
    """The shell of a weighted search: annealing, trajectory, logging, selection.

    Args:
      run_epoch: (state, epoch, temperature) -> (state, stats of a search epoch).
      state: the initial `SearchState`.
      samplers: the S sampler specs.
      epochs, temperature, select_fraction, progress, log_fn: as `search`.
      start: `time.perf_counter()` at the start of the search.
    """
    labels = spec_labels(samplers)
    trajectory, history = [], []
    bar = progress_lib.Progress(epochs, progress, unit="epoch") if progress else None
    for epoch in range(epochs):
        t = temperature_at(epoch, epochs, *temperature)
        state, stats = run_epoch(state, epoch, t)
        real = np.asarray(stats["real"])
        trajectory.append(np.asarray(stats["alpha"])[real].mean(axis=0))
        record = {
            "epoch": epoch,
            "temperature": t,
            "loss": float(stats["loss"]),
            "val_loss": float(stats["val_loss"]),
        }
        record.update(
            {
                f"alpha/{label}": float(a)
                for label, a in zip(labels, trajectory[-1], strict=True)
            }
        )
        if not np.isfinite(record["loss"]):
            raise FloatingPointError(
                f"non-finite search loss at epoch {epoch}; lower the learning rate"
            )
        history.append(record)
        if log_fn is not None:
            log_fn(epoch, record)
        if bar is not None:
            bar.update(loss=record["loss"])
    if bar is not None:
        bar.close()
    trajectory = np.stack(trajectory)
    selected, weights = select_sampler(trajectory, select_fraction)
    logging.info(
        "autosample search: weights %s -> %s",
        np.round(weights, 3).tolist(),
        labels[selected],
    )
    return SearchResult(
        labels=labels,
        specs=tuple(samplers),
        params=state.train.params,
        trajectory=trajectory,
        weights=weights,
        selected=selected,
        history=history,
        seconds=time.perf_counter() - start,
        mode="weighted",
    )


def exp3_probabilities(log_weights: np.ndarray, gamma: float) -> np.ndarray:
    """EXP3 arm probabilities (1 - gamma) softmax(log w) + gamma / S.

    >>> exp3_probabilities(np.zeros(4), 0.2).tolist()
    [0.25, 0.25, 0.25, 0.25]
    """
    log_weights = np.asarray(log_weights, np.float64)
    w = np.exp(log_weights - log_weights.max())
    return (1.0 - gamma) * w / w.sum() + gamma / log_weights.size


def exp3_update(
    log_weights: np.ndarray, arm: int, reward: float, probs: np.ndarray, gamma: float
) -> np.ndarray:
    """log w_arm += gamma * reward / (p_arm * S); reward in [0, 1]."""
    out = np.array(log_weights, np.float64)
    out[arm] += gamma * reward / (probs[arm] * out.size)
    return out


def search_bandit(
    model,
    users,
    items,
    data,
    *,
    samplers: Sequence[SamplerSpec],
    epochs: int = 10,
    learning_rate: float = 1e-3,
    batch_size: int = 4096,
    gamma: float = 0.2,
    reward_scale: float = 1.0,
    select_fraction: float = 0.3,
    seed: int = 0,
    progress: str | None = None,
    log_fn: Callable[[int, dict[str, float]], None] | None = None,
) -> SearchResult:
    """EXP3 over samplers: each epoch trains with one sampler, drawn by EXP3.

    The first S epochs visit every sampler once (no update; they seed the
    baseline). Reward of an epoch: clip(0.5 + (gain - baseline) / reward_scale,
    0, 1), with gain the epoch's validation nDCG@10 gain (x100) and baseline the
    running mean (EMA, 0.7) of past gains, since gains shrink as training goes on
    whatever the sampler. Arms are drawn with a NumPy generator of `seed`.

    Args: as `search`, plus
      gamma: EXP3 exploration rate.
      reward_scale: nDCG@10 points that move the reward from 0.5 to 1.

    Returns:
      `SearchResult` whose trajectory holds the EXP3 probabilities per epoch.
    """
    start = time.perf_counter()
    sampler_objs, rows, excluded, base_key, train = _setup(
        model, users, items, data, samplers, seed, learning_rate, batch_size
    )
    num = len(sampler_objs)
    if epochs <= num:
        raise ValueError(f"the bandit needs more than S={num} epochs, got {epochs}")
    rng = np.random.default_rng([seed, 0xB4D17])
    states = list(train.sampler_state)
    train = train._replace(sampler_state=())
    _, graph_fn, embed_fn = loop.compiled(model, sampler_objs[0], batch_size)
    graph = graph_fn(*rows)

    def val_ndcg(params):
        return loop.ranking_metrics(*embed_fn(params, graph), data, split="val")[
            "ndcg@10"
        ]

    prev, baseline = val_ndcg(train.params), None
    log_w = np.zeros(num)
    trajectory, history = [], []
    bar = progress_lib.Progress(epochs, progress, unit="epoch") if progress else None
    for epoch in range(epochs):
        probs = exp3_probabilities(log_w, gamma)
        arm = epoch if epoch < num else int(rng.choice(num, p=probs))
        epoch_fn = loop.compiled(model, sampler_objs[arm], batch_size)[0]
        state, stats = epoch_fn(
            train._replace(sampler_state=states[arm]),
            jax.random.fold_in(base_key, epoch + 1),
            *rows,
            excluded,
        )
        states[arm], train = state.sampler_state, state._replace(sampler_state=())
        val = val_ndcg(train.params)
        gain, prev = val - prev, val
        reward = None
        if baseline is not None and epoch >= num:
            reward = float(np.clip(0.5 + (gain - baseline) / reward_scale, 0, 1))
            log_w = exp3_update(log_w, arm, reward, probs, gamma)
        baseline = gain if baseline is None else 0.7 * baseline + 0.3 * gain
        trajectory.append(probs)
        record = {
            "epoch": epoch,
            "arm": arm,
            "loss": float(stats["loss"]),
            "val/ndcg@10": val,
            "reward": reward,
        }
        history.append(record)
        if log_fn is not None:
            log_fn(epoch, record)
        if bar is not None:
            bar.update(loss=record["loss"], val=val)
    if bar is not None:
        bar.close()
    trajectory = np.stack(trajectory)
    selected, weights = select_sampler(trajectory[num:], select_fraction)
    return SearchResult(
        labels=spec_labels(samplers),
        specs=tuple(samplers),
        params=train.params,
        trajectory=trajectory,
        weights=weights,
        selected=selected,
        history=history,
        seconds=time.perf_counter() - start,
        mode="bandit",
    )


@dataclasses.dataclass
class AutoSampleResult:
    """Search, then retraining with the chosen sampler.

    Attributes:
      search: the `SearchResult`.
      retrain: `loop.FitResult` of the retraining (`retrain_init`).
      scratch: `loop.FitResult` of a from-scratch retraining, when asked.
      retrain_init: "search" (warm start) or "scratch".
    """

    search: SearchResult
    retrain: loop.FitResult
    scratch: loop.FitResult | None
    retrain_init: str

    @property
    def seconds(self) -> float:
        """Search plus retraining wall time (the scratch comparison excluded)."""
        return self.search.seconds + self.retrain.seconds


def autosample(
    model,
    users,
    items,
    data,
    *,
    samplers: Sequence[SamplerSpec],
    mode: str = "weighted",
    retrain_init: str = "search",
    compare_scratch: bool = False,
    search_options: dict[str, Any] | None = None,
    fit_options: dict[str, Any] | None = None,
    seed: int = 0,
    progress: str | None = None,
    log_fn: Callable[[str, int, dict[str, float]], None] | None = None,
) -> AutoSampleResult:
    """AutoSample: search over `samplers`, then retrain with the chosen one.

    Args:
      model: a trainers model (BPRMF, LightGCN).
      users, items: [N] int training rows.
      data: `Interactions` (validation drives the search and early stopping).
      samplers: candidate sampler specs.
      mode: "weighted" (`search`) or "bandit" (`search_bandit`).
      retrain_init: "search" (start from the search's parameters) or "scratch".
      compare_scratch: also retrain from scratch (when `retrain_init` is
        "search"), for the comparison.
      search_options: keyword options of the search function.
      fit_options: keyword options of `loop.fit` (learning rate, epochs, ...).
      seed: seed of the search and the retraining.
      progress: a description prefix for progress bars.
      log_fn: called as log_fn(stage, epoch, record), stage "search" / "retrain".

    Raises:
      ValueError: unknown `mode` or `retrain_init`.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if retrain_init not in RETRAIN_INITS:
        raise ValueError(
            f"retrain_init must be one of {RETRAIN_INITS}, got {retrain_init!r}"
        )
    search_fn = search if mode == "weighted" else search_bandit
    stage_log = (
        (lambda stage: None)
        if log_fn is None
        else (lambda stage: functools.partial(log_fn, stage))
    )
    result = search_fn(
        model,
        users,
        items,
        data,
        samplers=samplers,
        seed=seed,
        progress=progress and f"{progress}/search",
        log_fn=stage_log("search"),
        **(search_options or {}),
    )
    name, options = spec_parts(result.selected_spec)

    def fit(init_params, tag):
        return loop.fit(
            model,
            users,
            items,
            data,
            sampler=name,
            sampler_options=options,
            init_params=init_params,
            seed=seed,
            progress=progress and f"{progress}/{tag}",
            log_fn=stage_log(tag),
            **(fit_options or {}),
        )

    warm = result.params if retrain_init == "search" else None
    retrain = fit(warm, "retrain")
    scratch = None
    if compare_scratch and retrain_init == "search":
        scratch = fit(None, "scratch")
    return AutoSampleResult(result, retrain, scratch, retrain_init)
