"""Mult-VAE: forward pass and loss against NumPy, padding, annealing, training."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from absl.testing import absltest

from infinite_ae import evaluation, models
from infinite_ae.data import make_synthetic
from infinite_ae.trainers import multvae


def _numpy_forward(params, rows):
    """float64 encoder mean / log-variance and decoder logits at z = mean."""
    p = jax.tree.map(lambda a: np.asarray(a, np.float64), params)

    def dense(name, x):
        return x @ p[name]["kernel"] + p[name]["bias"]

    x = rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)
    stats = dense("encoder_out", np.tanh(dense("encoder_hidden", x)))
    mean, log_var = np.split(stats, 2, axis=1)
    logits = dense("decoder_out", np.tanh(dense("decoder_hidden", mean)))
    kl = 0.5 * np.sum(np.exp(log_var) + mean**2 - 1 - log_var, axis=1)
    return logits, kl


class MultVAETest(absltest.TestCase):
    def setUp(self):
        super().setUp()
        rng = np.random.default_rng(0)
        self.rows = (rng.random((6, 20)) < 0.3).astype(np.float32)
        self.rows[0, :3] = 1.0
        self.net = multvae.MultVAENet(20, hidden=8, latent=4, dropout_rate=0.0)
        self.params = self.net.init(jax.random.key(1), jnp.zeros((1, 20)), train=False)[
            "params"
        ]

    def test_scores_and_kl_match_numpy(self):
        logits, kl = self.net.apply({"params": self.params}, self.rows, train=False)
        want_logits, want_kl = _numpy_forward(self.params, self.rows.astype(np.float64))
        np.testing.assert_allclose(logits, want_logits, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(kl, want_kl, rtol=1e-5, atol=1e-6)
        scores = multvae.scores(self.params, self.rows, net=self.net)
        np.testing.assert_allclose(scores, want_logits, rtol=1e-5, atol=1e-5)

    def test_loss_is_the_weighted_multinomial_elbo(self):
        key = jax.random.key(2)
        weights = np.array([1, 1, 0, 1, 1, 0], np.float32)
        beta = jnp.float32(0.3)
        got = multvae.loss(self.params, self.rows, weights, beta, key, net=self.net)
        dropout_key, sample_key = jax.random.split(key)
        logits, kl = self.net.apply(
            {"params": self.params},
            self.rows,
            train=True,
            rngs={"dropout": dropout_key, "sample": sample_key},
        )
        logits = np.asarray(logits, np.float64)
        log_softmax = logits - np.log(np.exp(logits).sum(1, keepdims=True))
        per_row = -(log_softmax * self.rows).sum(1) + 0.3 * np.asarray(kl)
        want = (weights * per_row).sum() / weights.sum()
        self.assertAlmostEqual(float(got), want, places=4)

    @pytest.mark.slow  # several Mult-VAE epochs: about 8 s
    def test_padding_rows_change_nothing(self):
        # A near-zero posterior variance makes z = mean, so the sampled noise
        # (whose draw depends on the batch shape) cannot differ between the two.
        params = jax.tree.map(np.array, self.params)
        params["encoder_out"]["kernel"][:, 4:] = 0.0
        params["encoder_out"]["bias"][4:] = -50.0
        key = jax.random.key(3)
        beta = jnp.float32(0.2)
        grad = jax.value_and_grad(multvae.loss)
        kept = grad(
            params, self.rows[:4], np.ones(4, np.float32), beta, key, net=self.net
        )
        padded_rows = np.concatenate([self.rows[:4], np.ones((3, 20), np.float32)])
        weights = np.array([1, 1, 1, 1, 0, 0, 0], np.float32)
        padded = grad(params, padded_rows, weights, beta, key, net=self.net)
        jax.tree.map(
            lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6),
            kept,
            padded,
        )

    def test_beta_anneals_linearly_to_the_cap(self):
        steps = jnp.array([0, 50, 100, 1000])
        np.testing.assert_allclose(
            multvae.beta_at(steps, 0.2, 500), [0.0, 0.1, 0.2, 0.2], atol=1e-7
        )

    @pytest.mark.slow  # compiles Mult-VAE's loss: about 3 s
    def test_bad_rows_are_refused(self):
        with self.assertRaisesRegex(ValueError, "non-negative"):
            multvae.pad_to_batches(-self.rows, 4)
        with self.assertRaisesRegex(ValueError, "finite"):
            multvae.pad_to_batches(np.full((2, 3), np.nan), 4)
        rows, weights, batch = multvae.pad_to_batches(self.rows, 4)
        self.assertEqual((rows.shape, batch), ((8, 20), 4))
        np.testing.assert_array_equal(weights, [1] * 6 + [0] * 2)

    def test_small_sets_get_at_least_min_batches_per_epoch(self):
        rows = np.ones((500, 3), np.float32)
        for batch_size, min_batches, want in (
            (500, 10, 50),  # a 500-row summary: 10 updates an epoch
            (500, 1, 500),
            (64, 10, 50),  # the configured batch is an upper bound
            (500, 1000, 1),  # never below one row
        ):
            padded, weights, batch = multvae.pad_to_batches(
                rows, batch_size, min_batches
            )
            self.assertEqual(batch, want)
            self.assertEqual(padded.shape[0] % batch, 0)
            self.assertEqual(weights.sum(), 500)
        # Large sets keep the configured batch.
        self.assertEqual(multvae.pad_to_batches(np.ones((6040, 2)), 500, 10)[2], 500)


class MultVAETrainingTest(absltest.TestCase):
    @pytest.mark.slow  # a full training: about 6 s
    def test_learns_more_than_popularity(self):
        data = make_synthetic(400, 120, mean_degree=15.0, seed=0)
        model = multvae.MultVAE(
            hidden=64, latent=16, batch_size=100, total_anneal_steps=200
        )
        result = multvae.fit(
            model, data.train, data, max_epochs=40, patience=4, eval_every=2, seed=0
        )
        popularity = models.Popularity().fit(data.train)
        floor = evaluation.evaluate(popularity.score, data, split="test", ks=(10,))
        self.assertGreater(result.test["ndcg@10"], floor["ndcg@10"] + 2.0)
        self.assertGreater(result.best_epoch, 0)
        # The same seed gives the same model.
        again = multvae.fit(model, data.train, data, max_epochs=4, eval_every=2, seed=0)
        twice = multvae.fit(model, data.train, data, max_epochs=4, eval_every=2, seed=0)
        self.assertEqual(again.val, twice.val)


if __name__ == "__main__":
    absltest.main()
