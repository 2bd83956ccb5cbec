"""The text-based SASRec with a fine-tuned BERT top over cached lower states."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from absl.testing import absltest

from infinite_ae import text
from infinite_ae.data import make_markov_sequences
from infinite_ae.trainers import sequential
from infinite_ae.trainers.text_sasrec import ItemText, TextSASRec
from infinite_ae.trainers.tuned_text_sasrec import ItemTokens, TunedTextSASRec
from tests.tiny_bert import CONFIG

RTOL = ATOL = 1e-5  # float32 outputs
WORDS = "red green blue glass steel beaker bottle glue tape roll grit pack".split()
TEXTS = [
    "red glass",
    "blue steel beaker",
    "glue",
    "tape roll red",
    "green bottle",
    "beaker grit pack",
    "steel tape",
    "blue glue roll",
]
OPTIONS = dict(max_len=5, embedding_dim=8, num_blocks=1, num_heads=2, dropout_rate=0.0)

try:
    import tokenizers  # noqa: F401

    HAS_TOKENIZERS = True
except ModuleNotFoundError:
    HAS_TOKENIZERS = False


@functools.cache
def _encoder():
    return text.random_bert_encoder(jax.random.key(0), CONFIG, WORDS, max_length=16)


@functools.cache
def _tuned():
    tokens = ItemTokens.from_encoder(_encoder(), TEXTS, 1)
    model = TunedTextSASRec(tokens, **OPTIONS)
    return tokens, model, jax.jit(model.init)(jax.random.key(1))


@pytest.mark.skipif(not HAS_TOKENIZERS, reason="needs the tokenizers package")
class TunedTextSASRecTest(absltest.TestCase):
    def setUp(self):
        super().setUp()
        self.tokens, self.model, self.params = _tuned()
        self.inputs = jnp.array([[0, 1, 3, 2, 8], [4, 4, 6, 5, 7]], jnp.int32)

    @pytest.mark.slow  # builds and compiles both models cold: about 15 s
    def test_starts_as_the_frozen_model_on_the_full_encoder(self):
        frozen = TextSASRec(ItemText(_encoder().encode(TEXTS)), **OPTIONS)
        want = frozen.scores(frozen.init(jax.random.key(1)), self.inputs)
        got = self.model.scores(self.params, self.inputs)
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)

    @pytest.mark.slow  # builds and compiles the model cold: about 4 s
    def test_subset_items_equal_table_rows_and_tokens_hash_by_content(self):
        items = jnp.array([[6, 0], [3, 6]])
        np.testing.assert_allclose(
            self.model.item_embeddings(self.params, items),
            self.model.output_embeddings(self.params)[items],
            rtol=RTOL,
            atol=ATOL,
        )
        again = ItemTokens.from_encoder(_encoder(), TEXTS, 1)
        self.assertEqual(again, self.tokens)
        self.assertEqual(TunedTextSASRec(again, **OPTIONS), self.model)
        self.assertNotEqual(ItemTokens.from_encoder(_encoder(), TEXTS, 0), self.tokens)
        with self.assertRaisesRegex(ValueError, r"\[I, T, D\]"):
            ItemTokens(np.zeros((2, 3)), np.zeros((2, 3)), CONFIG, 1, self.tokens.top)

    @pytest.mark.slow  # compiles the gradient of the whole model: about 8 s
    def test_gradients_reach_the_top_but_not_the_cached_states(self):
        def loss(params):
            hidden = self.model.hidden(params, self.inputs)
            return jnp.sum(self.model.logits(params, hidden) ** 2)

        grads = jax.grad(loss)(self.params)["params"]
        self.assertGreater(
            max(float(jnp.abs(g).max()) for g in jax.tree.leaves(grads["encoder_top"])),
            0.0,
        )
        np.testing.assert_array_equal(grads["text_states"], 0.0)
        np.testing.assert_array_equal(grads["text_mask"], 0.0)

    @pytest.mark.slow  # trains the model a few epochs: about 10 s
    def test_training_tunes_the_top_and_keeps_the_states(self):
        seqs, _ = make_markov_sequences(200, len(TEXTS), mean_length=6, seed=3)
        result = sequential.fit_sequential(
            self.model,
            seqs,
            loss="ce",
            learning_rate=1e-2,
            batch_size=32,
            max_epochs=3,
            eval_every=3,
            progress=False,
        )
        inner = result.params["params"]
        np.testing.assert_array_equal(inner["text_states"], self.tokens.states)
        moved = jax.tree.map(
            lambda a, b: bool(np.any(np.asarray(a) != b)),
            inner["encoder_top"],
            self.tokens.top["params"],
        )
        self.assertTrue(all(jax.tree.leaves(moved)))
        self.assertTrue(np.isfinite(result.test["ndcg@10"]))


if __name__ == "__main__":
    absltest.main()
