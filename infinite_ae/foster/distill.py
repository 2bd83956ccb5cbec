"""The FOSTER distillation loop: expert trajectory, first-order steps, resets.

FOSTER-style, reconstructed from the abstract (see `infinite_ae.foster`):
1. `expert_trajectory`: the text-based model trained on the full real data, its
   parameters kept after every epoch (the anchors);
2. `distill`: synthetic logits initialised from real sequences (or noise), both
   model copies on an anchor; `steps` first-order steps (`step.foster_step`) on
   real mini-batches, each on its item subset, the copies reset to a random anchor
   every `reset_every` steps; the result discretised to real item ids.

Keys: init = fold_in(key(seed), 0); step t uses fold_in(key(seed), t + 1) split
into its batch, subset and reset keys. Every component can be switched off for the
ablation (`FosterOptions`: subset_sampling, reset, cooc).
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
from absl import logging

from infinite_ae import progress as progress_lib
from infinite_ae.foster import objective, synthetic
from infinite_ae.foster import step as step_lib
from infinite_ae.trainers import sequential as sequential_lib
from infinite_ae.types import PyTree

INITS = ("real", "random")


@dataclasses.dataclass(frozen=True)
class FosterOptions:
    """Distillation options (defaults: the library's; see the config section).

    Attributes:
      num_sequences: M synthetic sequences (the budget).
      length: L synthetic positions per sequence (<= the model's max_len).
      steps: distillation steps.
      batch_size: real windows per step.
      subset_size: k items per step (capped at the catalogue).
      top_c: each synthetic position's c most likely items join the subset.
      inner_steps: theta' updates per step.
      reset_every: steps between anchor resets.
      lam, beta: penalty and co-occurrence weights.
      temperature: T of the synthetic distributions.
      lr_theta, lr_prime, lr_logits: Adam learning rates.
      cooc_top_k: text neighbours per item of the regulariser.
      pairs: "all" or "adjacent" position pairs of the regulariser.
      init: "real" (`real_init`: random users' prefixes filling every position)
        or "random".
      rank: 0 for dense logits Z [M, L, I]; r > 0 factorises Z = A B^T with
        A [M, L, r] and B [I, r] (`synthetic.Factorised`; large catalogues).
      subset_sampling, reset, cooc: the three components (False = ablated: the
        whole catalogue every step / no reset after the first anchor / beta 0).
    """

    num_sequences: int = 20
    length: int = 20
    steps: int = 300
    batch_size: int = 64
    subset_size: int = 1024
    top_c: int = 1
    inner_steps: int = 5
    reset_every: int = 50
    lam: float = 1.0
    beta: float = 0.1
    temperature: float = 1.0
    lr_theta: float = 1e-3
    lr_prime: float = 1e-3
    lr_logits: float = 0.03
    cooc_top_k: int = 20
    pairs: str = "all"
    init: str = "real"
    rank: int = 0
    subset_sampling: bool = True
    reset: bool = True
    cooc: bool = True

    def __post_init__(self):
        if self.init not in INITS:
            raise ValueError(f"init must be one of {INITS}, got {self.init!r}")
        if self.pairs not in objective.PAIRS:
            raise ValueError(f"pairs must be one of {objective.PAIRS}")
        for name in ("num_sequences", "steps", "batch_size", "subset_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1")
        if self.length < 2:
            raise ValueError("length must be >= 2 (a next item to predict)")
        if self.rank < 0:
            raise ValueError(f"rank must be >= 0 (0 = dense logits), got {self.rank}")


@dataclasses.dataclass
class FosterResult:
    """Outcome of `distill`.

    Attributes:
      ids: [M, L] int32 synthetic sequences (item indices, unique per sequence).
      logits: the final synthetic logits: [M, L, I], or a `synthetic.Factorised`
        of NumPy arrays (A [M, L, r], B [I, r]) when `FosterOptions.rank` > 0.
      history: one record per logged step ({"step", "real", "syn", ...}).
      seconds: wall time of the distillation (compilation included).
      step_seconds: median wall time of a step after the first.
    """

    ids: np.ndarray
    logits: np.ndarray | synthetic.Factorised
    history: list[dict[str, float]]
    seconds: float
    step_seconds: float


def expert_trajectory(
    model, sequences, *, epochs: int, seed: int = 0, **fit_options: Any
) -> list[PyTree]:
    """The model's parameters after each of `epochs` epochs of training on the
    full data (`fit_sequential`, no early stopping), on the host."""
    anchors: list[PyTree] = []
    sequential_lib.fit_sequential(
        model,
        sequences,
        max_epochs=epochs,
        patience=epochs,
        eval_every=epochs,
        seed=seed,
        compute_test=False,
        on_epoch=lambda epoch, params: anchors.append(jax.device_get(params)),
        **fit_options,
    )
    return anchors


def real_init(sequences, num_sequences: int, length: int, rng) -> np.ndarray:
    """[M, L] item indices of real histories: each row the training prefixes of
    random users with at least two items, one after another until they fill L
    positions, the last L of them. Real histories are often shorter than L
    (Scientific's mean 5 against L = 20); a row of one user padded with unset,
    noise-initialised positions would start the distillation from mostly random
    items."""
    users = np.flatnonzero(np.diff(sequences.train_indptr) >= 2)
    if users.size == 0:
        raise ValueError("init='real' needs users with at least two items")
    rows = np.empty((num_sequences, length), np.int64)
    for m in range(num_sequences):
        items: list[int] = []
        while len(items) < length:
            user = rng.choice(users, 1)
            history = sequences.history(user, split="val", max_len=length)[0]
            items += (history[history > 0] - 1).tolist()
        rows[m] = items[-length:]
    return rows


def _initial_logits(key, sequences, options: FosterOptions, rng) -> jax.Array:
    real = None
    if options.init == "real":
        real = real_init(sequences, options.num_sequences, options.length, rng)
    return synthetic.init_logits(
        key,
        options.num_sequences,
        options.length,
        sequences.num_items,
        real=real,
        rank=options.rank,
    )


def distill(
    model,
    sequences,
    anchors: list[PyTree],
    neighbours: np.ndarray,
    sims: np.ndarray,
    options: FosterOptions,
    *,
    seed: int = 0,
    progress: bool | str = True,
    log_every: int = 10,
    log_fn: Callable[[int, dict[str, float]], None] | None = None,
) -> FosterResult:
    """FOSTER-style distillation of `sequences` into `options.num_sequences`
    synthetic sequences for `model` (a `TextSASRec`; module docstring).

    Raises:
      ValueError: a step's subset could not hold its real batch's items (raise
        subset_size or lower batch_size), or options the model cannot take.
    """
    start = time.perf_counter()
    if options.length > model.max_len:
        raise ValueError(f"length {options.length} > the model's {model.max_len}")
    if not anchors:
        raise ValueError("distill needs at least one expert anchor")
    rng = np.random.default_rng(seed)
    base = jax.random.key(seed)
    inputs, targets = sequences.training_windows(model.max_len)
    size = min(options.subset_size if options.subset_sampling else np.inf,
               sequences.num_items)  # fmt: skip
    step_fn = _jitted_step(model, int(size), options.top_c, options.inner_steps,
                           options.pairs)  # fmt: skip
    hyper = step_lib.Hyper.make(
        lam=options.lam,
        beta=options.beta if options.cooc else 0.0,
        temperature=options.temperature,
        lr_theta=options.lr_theta,
        lr_prime=options.lr_prime,
        lr_logits=options.lr_logits,
    )
    nbrs, sims = jnp.asarray(neighbours), jnp.asarray(sims)
    logits = _initial_logits(jax.random.fold_in(base, 0), sequences, options, rng)
    state = step_lib.init_state(
        logits, jax.tree.map(jnp.asarray, anchors[0]), model=model
    )
    history, times = [], []
    bar = None
    if progress:
        name = progress if isinstance(progress, str) else "foster"
        bar = progress_lib.Progress(options.steps, name, unit="step")
    for t in range(options.steps):
        if options.reset and t and t % options.reset_every == 0:
            anchor = anchors[int(rng.integers(len(anchors)))]
            state = step_lib.reset(
                state, jax.tree.map(jnp.asarray, anchor), model=model
            )
        rows = rng.integers(inputs.shape[0], size=options.batch_size)
        t0 = time.perf_counter()
        state, stats = step_fn(
            state,
            jax.random.fold_in(base, t + 1),
            jnp.asarray(inputs[rows]),
            jnp.asarray(targets[rows]),
            jnp.ones(options.batch_size, jnp.float32),
            nbrs,
            sims,
            hyper,
        )
        if not bool(stats["covered"]):
            raise ValueError(
                f"step {t}: the item subset of {size} cannot hold the real batch's "
                f"items; raise subset_size or lower batch_size ({options.batch_size})"
            )
        times.append(time.perf_counter() - t0)
        if t % log_every == 0 or t == options.steps - 1:
            record = {"step": t, **{k: float(v) for k, v in stats.items()
                                    if k != "covered"}}  # fmt: skip
            history.append(record)
            if log_fn is not None:
                log_fn(t, record)
        if bar is not None:
            bar.update(real=float(stats["real"]))
    if bar is not None:
        bar.close()
    final = jax.tree.map(np.asarray, state.logits)
    result = FosterResult(
        ids=synthetic.discretise(final),
        logits=final,
        history=history,
        seconds=time.perf_counter() - start,
        step_seconds=float(np.median(times[1:] or times)),
    )
    logging.info(
        "foster: %d sequences x %d in %d steps, %.1f s (%.4f s/step)",
        options.num_sequences,
        options.length,
        options.steps,
        result.seconds,
        result.step_seconds,
    )
    return result


@functools.cache
def _jitted_step(model, subset_size: int, top_c: int, inner_steps: int, pairs: str):
    return jax.jit(
        functools.partial(
            step_lib.foster_step,
            model=model,
            subset_size=subset_size,
            top_c=top_c,
            inner_steps=inner_steps,
            pairs=pairs,
        )
    )
