"""Seconds per FOSTER step against the unrolled second-order step, by subset size.

FOSTER-style (reconstructed from the abstract). On a random catalogue of I items
and a text-based SASRec whose items enter through 384-d text (`--encoder=frozen`:
a frozen text table and an adaptor; `--encoder=tuned`: a MiniLM-shaped BERT's last
block fine-tuned over cached lower-block token states of up to --tokens tokens per
item, random weights and states, `trainers.tuned_text_sasrec`), times (warm,
block until ready, medians of --repeats interleaved calls):

* the first-order step (`foster.step.foster_step`: theta' update, theta update, Z
  update; no second-order terms);
* the unrolled step (`foster.step.unrolled_step`: --unroll SGD steps of the model
  on the synthetic data, differentiated through) at the same subset size;
* the items' embeddings (the step's item encoding: with the tuned encoder the
  BERT block over the items' tokens) for the subset and for the whole catalogue.

Timing only: the real windows are random items, so a small subset need not hold
all of a batch's items (`covered` is not checked; it does not change the cost).

Run:    python benchmarks/foster_step_bench.py [--items=4385 --subsets=256,1024,4385]
        [--encoder=tuned --output=benchmarks/results/foster_step_bench_tuned.json]
Smoke:  python benchmarks/foster_step_bench.py --smoke

Prints one JSON line and a table; writes --output (JSON).
"""

from __future__ import annotations

import functools
import json
import pathlib
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
from absl import app, flags

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from experiments import pipeline  # noqa: E402
from infinite_ae import io  # noqa: E402
from infinite_ae.foster import objective, step, synthetic  # noqa: E402
from infinite_ae.text import bert  # noqa: E402
from infinite_ae.trainers.text_sasrec import ItemText, TextSASRec  # noqa: E402
from infinite_ae.trainers.tuned_text_sasrec import (  # noqa: E402
    ItemTokens,
    TunedTextSASRec,
)

_ITEMS = flags.DEFINE_integer("items", 4385, "Catalogue size I (Scientific's).")
_SUBSETS = flags.DEFINE_list("subsets", ["256", "1024", "4385"], "Subset sizes k.")
_SEQUENCES = flags.DEFINE_integer("sequences", 20, "Synthetic sequences M.")
_LENGTH = flags.DEFINE_integer("length", 20, "Synthetic and real window length L.")
_BATCH = flags.DEFINE_integer("batch", 32, "Real windows per step.")
_UNROLL = flags.DEFINE_integer(
    "unroll", 10, "Inner steps of the unrolled variant (0: not timed)."
)
_INNER = flags.DEFINE_integer(
    "inner_steps", 5, "theta' updates in the first-order step (the FOSTER default)."
)
_REPEATS = flags.DEFINE_integer("repeats", 5, "Timed calls of each.")
_ENCODER = flags.DEFINE_enum(
    "encoder", "frozen", ["frozen", "tuned"], "Item text: frozen table or tuned top."
)
_TOKENS = flags.DEFINE_integer("tokens", 24, "Longest item text (--encoder=tuned).")
_OUTPUT = flags.DEFINE_string(
    "output", None, "JSON path (default: results/foster_step_bench.json; with "
    "--smoke, none)."
)  # fmt: skip
RESULTS = pathlib.Path(__file__).resolve().parent / "results" / "foster_step_bench.json"
_SMOKE = flags.DEFINE_bool("smoke", False, "Tiny sizes.")
_SMOKE_BERT = bert.BertConfig(
    vocab_size=16, hidden_size=32, num_layers=2, num_heads=4, intermediate_size=64
)


def _timed(fn, *args, repeats: int) -> list[float]:
    jax.block_until_ready(fn(*args))  # compile
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - start)
    return times


def _item_tokens(rng, items: int, tokens: int, config) -> ItemTokens:
    """Random token states of 8..`tokens` real tokens per item, a random top."""
    lengths = rng.integers(min(8, tokens), tokens + 1, size=items)
    mask = (np.arange(tokens)[None, :] < lengths[:, None]).astype(np.float32)
    states = rng.normal(size=(items, tokens, config.hidden_size)) * mask[..., None]
    first = config.num_layers - 1
    top = bert.top_params(bert.init_params(jax.random.key(3), config), first)
    return ItemTokens(states, mask, config, first, top)


def _setup(items: int, length: int, batch: int, sequences: int):
    rng = np.random.default_rng(0)
    options = dict(max_len=length, embedding_dim=64, num_blocks=2, dropout_rate=0.0)
    if _ENCODER.value == "tuned":
        config = bert.BertConfig() if not _SMOKE.value else _SMOKE_BERT
        tokens = _item_tokens(rng, items, _TOKENS.value, config)
        model = TunedTextSASRec(tokens, **options)
        vectors = tokens.pretrained_vectors()
    else:
        model = TextSASRec(ItemText(rng.normal(size=(items, 384))), **options)
        vectors = model.text.embeddings
    anchor = model.init(jax.random.key(0))
    logits = synthetic.init_logits(jax.random.key(1), sequences, length, items)
    windows = rng.integers(1, items + 1, size=(batch, length)).astype(np.int32)
    real = (jnp.asarray(windows), jnp.asarray(np.roll(windows, -1, axis=1)))
    neighbours = tuple(map(jnp.asarray, objective.text_neighbours(vectors, 20)))
    return model, anchor, logits, real, neighbours


def _row(model, anchor, logits, real, neighbours, k: int, repeats: int) -> dict:
    hyper = step.Hyper.make(
        lam=1.0, beta=0.01, temperature=1.0, lr_theta=1e-3, lr_prime=1e-3,
        lr_logits=0.03,
    )  # fmt: skip
    weights = jnp.ones(real[0].shape[0], jnp.float32)
    first = jax.jit(
        functools.partial(
            step.foster_step, model=model, subset_size=k, inner_steps=_INNER.value
        )
    )
    unrolled = jax.jit(
        functools.partial(
            step.unrolled_step, model=model, subset_size=k, unroll=_UNROLL.value
        )
    )
    state = step.init_state(logits, anchor, model=model)
    key = jax.random.key(2)
    first_times = _timed(
        first, state, key, *real, weights, *neighbours, hyper, repeats=repeats
    )
    second_times = None
    try:
        if _UNROLL.value > 0:
            second_times = _timed(
                unrolled, logits, state.logits_opt, anchor, key, *real, weights,
                hyper, repeats=repeats,
            )  # fmt: skip
    except jax.errors.JaxRuntimeError as error:  # the unroll's activations
        if "RESOURCE_EXHAUSTED" not in str(error):
            raise
        second_times = None
    subset = jnp.arange(k)
    encode = jax.jit(model.item_embeddings)
    encode_times = _timed(encode, anchor, subset, repeats=repeats)
    first_s = float(np.median(first_times))
    second_s = None if second_times is None else float(np.median(second_times))
    return {
        "subset_size": k,
        "first_order_s": first_s,
        "unrolled_s": second_s,
        # None: the unrolled step ran out of memory (or was not timed).
        "first_over_unrolled": None if second_s is None else first_s / second_s,
        "encode_subset_s": float(np.median(encode_times)),
    }


def main(argv):
    del argv
    items, subsets = _ITEMS.value, [int(k) for k in _SUBSETS.value]
    length, batch, sequences = _LENGTH.value, _BATCH.value, _SEQUENCES.value
    if _SMOKE.value:
        items, subsets, length, batch, sequences = 60, [20, 60], 6, 4, 3
    model, anchor, logits, real, neighbours = _setup(items, length, batch, sequences)
    rows = [
        _row(model, anchor, logits, real, neighbours, min(k, items), _REPEATS.value)
        for k in subsets
    ]
    full = jax.jit(model.item_embeddings)
    full_encode = float(
        np.median(_timed(full, anchor, jnp.arange(items), repeats=_REPEATS.value))
    )
    for row in rows:
        row["encode_over_catalogue"] = row["encode_subset_s"] / full_encode
    record = {
        "benchmark": "foster_step",
        "smoke": _SMOKE.value,
        "items": items,
        "sequences": sequences,
        "length": length,
        "batch": batch,
        "unroll": _UNROLL.value,
        "inner_steps": _INNER.value,
        "encoder": _ENCODER.value,
        "tokens": _TOKENS.value if _ENCODER.value == "tuned" else None,
        "rows": rows,
        **pipeline.environment(),
    }
    output = _OUTPUT.value or (None if _SMOKE.value else RESULTS)
    if output:
        io.atomic_write_json(pathlib.Path(output), record)
    print(json.dumps({k: record[k] for k in ("benchmark", "items", "encoder", "rows")}))
    print(f"\n{'k':>6}{'first-order s':>15}{'unrolled s':>12}{'ratio':>8}{'encode':>9}")
    for row in rows:
        unrolled = row["unrolled_s"]
        ratio = row["first_over_unrolled"]
        print(
            f"{row['subset_size']:>6}{row['first_order_s']:>15.4f}"
            + (f"{unrolled:>12.4f}{ratio:>8.3f}" if unrolled else f"{'-':>12}{'-':>8}")
            + f"{row['encode_over_catalogue']:>9.3f}"
        )


if __name__ == "__main__":
    app.run(main)
