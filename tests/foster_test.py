"""FOSTER-style distillation: subsets, losses, regulariser, first-order step, reset."""

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from absl.testing import absltest

from infinite_ae.data import make_markov_sequences
from infinite_ae.foster import distill, objective, step, subset, synthetic
from infinite_ae.trainers import sequential
from infinite_ae.trainers.text_sasrec import ItemText, TextSASRec

I, T, L, M = 11, 6, 5, 3  # noqa: E741  items, text dim, window, synthetic sequences
RTOL = ATOL = 1e-5


def _model():
    text = ItemText(np.random.default_rng(0).normal(size=(I, T)))
    return TextSASRec(
        text, max_len=L, embedding_dim=8, num_blocks=1, num_heads=1, dropout_rate=0.0
    )


def _batch():
    inputs = jnp.array([[0, 0, 3, 7, 1], [4, 2, 8, 9, 5]], jnp.int32)
    targets = jnp.array([[0, 0, 7, 1, 2], [2, 8, 9, 5, 11]], jnp.int32)
    return inputs, targets, jnp.ones(2, jnp.float32)


class SubsetTest(absltest.TestCase):
    def test_required_then_preferred_then_random(self):
        required = jnp.array([3, -1, 7, 3, 0])
        preferred = jnp.array([9, 7, 2])
        chosen = subset.sample_subset(jax.random.key(0), 6, I, required, preferred)
        chosen = np.asarray(chosen)
        self.assertEqual(chosen.tolist(), sorted(set(chosen.tolist())))
        self.assertLen(chosen, 6)
        self.assertContainsSubset({0, 3, 7, 9, 2}, set(chosen.tolist()))
        small = subset.sample_subset(jax.random.key(0), 4, I, required, preferred)
        self.assertEqual(np.asarray(small).tolist(), [0, 3, 7, 9])
        again = subset.sample_subset(jax.random.key(0), 6, I, required, preferred)
        np.testing.assert_array_equal(again, chosen)
        full = subset.sample_subset(jax.random.key(1), I, I, required, preferred)
        np.testing.assert_array_equal(full, np.arange(I))

    def test_coverage_and_size(self):
        required = jnp.array([3, -1, 7, 0, 5])
        small = subset.sample_subset(jax.random.key(0), 3, I, required, required[:0])
        self.assertFalse(bool(subset.covers(small, required)))
        large = subset.sample_subset(jax.random.key(0), 5, I, required, required[:0])
        self.assertTrue(bool(subset.covers(large, required)))
        with self.assertRaisesRegex(ValueError, r"\[1, 11\]"):
            subset.sample_subset(jax.random.key(0), 12, I, jnp.zeros(1), jnp.zeros(1))


class LossTest(absltest.TestCase):
    def setUp(self):
        super().setUp()
        self.model = _model()
        self.params = self.model.init(jax.random.key(1))
        self.logits = jax.random.normal(jax.random.key(2), (M, L, I))

    def test_subset_losses_equal_full_losses_on_the_catalogue(self):
        inputs, targets, weights = _batch()
        full_table = self.model.output_embeddings(self.params)
        expected, _ = sequential.cross_entropy_loss(
            self.model.hidden(self.params, inputs), full_table, targets, weights
        )
        got = jax.jit(functools.partial(objective.real_loss, self.model))(
            self.params, jnp.arange(I), inputs, targets, weights
        )
        np.testing.assert_allclose(got, expected, rtol=RTOL, atol=ATOL)
        # The synthetic loss against a per-position loop over the full table.
        p = np.asarray(jax.nn.softmax(self.logits / 0.5, axis=-1), np.float64)
        hidden = self.model.hidden_from_embeddings(
            self.params,
            jnp.asarray(p, jnp.float32) @ full_table,
            jnp.ones((M, L), bool),
        )
        scores = np.asarray(hidden @ full_table.T, np.float64)
        terms = []
        for m in range(M):
            for pos in range(L - 1):
                log_q = scores[m, pos] - np.log(np.exp(scores[m, pos]).sum())
                terms.append(-np.dot(p[m, pos + 1], log_q))
        got = jax.jit(functools.partial(objective.synthetic_loss, self.model))(
            self.params, self.logits, jnp.arange(I), 0.5
        )
        np.testing.assert_allclose(got, np.mean(terms), rtol=1e-4)

    def test_subset_loss_reads_only_subset_columns(self):
        chosen = jnp.array([1, 4, 6, 9])
        changed = self.logits.at[:, :, 0].add(100.0)
        loss = jax.jit(functools.partial(objective.synthetic_loss, self.model))
        a = loss(self.params, self.logits, chosen, 1.0)
        b = loss(self.params, changed, chosen, 1.0)
        self.assertEqual(float(a), float(b))


class RegulariserTest(absltest.TestCase):
    def test_neighbours_and_subset_similarity(self):
        emb = np.random.default_rng(3).normal(size=(I, T))
        nbrs, sims = objective.text_neighbours(emb, top_k=3)
        unit = emb / np.linalg.norm(emb, axis=1, keepdims=True)
        cos = unit @ unit.T
        np.fill_diagonal(cos, -np.inf)
        for i in range(I):
            self.assertEqual(set(nbrs[i]), set(np.argsort(-cos[i])[:3]))
        dense = np.zeros((I, I), np.float32)
        np.put_along_axis(dense, nbrs, sims, axis=1)
        chosen = jnp.array([0, 2, 3, 7, 10])
        np.testing.assert_allclose(
            objective.subset_similarity(jnp.asarray(nbrs), jnp.asarray(sims), chosen),
            dense[np.ix_(chosen, chosen)],
            rtol=RTOL,
        )

    def test_matches_a_pair_loop_and_falls_when_similar_items_meet(self):
        rng = np.random.default_rng(4)
        p = rng.dirichlet(np.ones(6), size=(2, 4))
        sim = rng.uniform(size=(6, 6))
        for pairs in ("all", "adjacent"):
            values = []
            for m in range(2):
                terms = [
                    p[m, a] @ sim @ p[m, b]
                    for a in range(4)
                    for b in range(4)
                    if (a != b if pairs == "all" else b == a + 1)
                ]
                values.append(-np.mean(terms))
            got = objective.cooccurrence(jnp.asarray(p), jnp.asarray(sim), pairs)
            np.testing.assert_allclose(got, np.mean(values), rtol=1e-5)
        # Items 0 and 1 are similar, 2 is not: a sequence holding 0 and 1 scores lower.
        sim = jnp.zeros((3, 3)).at[0, 1].set(1.0).at[1, 0].set(1.0)
        together = jax.nn.one_hot(jnp.array([[0, 1]]), 3)
        apart = jax.nn.one_hot(jnp.array([[0, 2]]), 3)
        self.assertLess(
            float(objective.cooccurrence(together, sim)),
            float(objective.cooccurrence(apart, sim)),
        )


class StepTest(absltest.TestCase):
    def setUp(self):
        super().setUp()
        self.model = _model()
        self.anchor = self.model.init(jax.random.key(5))
        self.logits = synthetic.init_logits(jax.random.key(6), M, L, I)
        emb = self.model.text.embeddings
        self.nbrs, self.sims = map(jnp.asarray, objective.text_neighbours(emb, 3))
        self.hyper = step.Hyper.make(
            lam=1.0, beta=0.1, temperature=1.0, lr_theta=1e-2, lr_prime=1e-2,
            lr_logits=1e-1,
        )  # fmt: skip

    def test_penalty_gradient_is_zero_when_the_copies_agree(self):
        chosen = jnp.arange(I)

        def penalty(z, theta, prime):
            return objective.synthetic_loss(
                self.model, theta, z, chosen, 1.0
            ) - objective.synthetic_loss(self.model, prime, z, chosen, 1.0)

        grad = jax.jit(jax.grad(penalty))  # one compilation for both calls
        np.testing.assert_array_equal(grad(self.logits, self.anchor, self.anchor), 0.0)
        other = self.model.init(jax.random.key(7))
        self.assertGreater(
            float(jnp.abs(grad(self.logits, self.anchor, other)).max()), 0
        )

    @pytest.mark.slow  # compiles the whole step: about 12 s
    def test_step_updates_subset_columns_and_reset_restores_the_anchor(self):
        inputs, targets, weights = _batch()
        state = step.init_state(self.logits, self.anchor, model=self.model)
        fn = jax.jit(
            functools.partial(
                step.foster_step, model=self.model, subset_size=10, inner_steps=2
            )
        )
        new, stats = fn(
            state, jax.random.key(8), inputs, targets, weights, self.nbrs, self.sims,
            self.hyper,
        )  # fmt: skip
        self.assertEqual(int(new.step), 1)
        self.assertTrue(bool(stats.pop("covered")))
        self.assertTrue(all(np.isfinite(float(v)) for v in stats.values()))
        moved = np.any(np.asarray(new.logits != self.logits), axis=(0, 1))
        chosen, _ = step.step_subset(
            jax.random.key(8), self.logits, inputs, targets, 10, 1
        )
        chosen = np.asarray(chosen)
        self.assertTrue(moved.any())
        self.assertEqual(set(np.flatnonzero(moved)) - set(chosen.tolist()), set())
        leaves = jax.tree.leaves(jax.tree.map(jnp.array_equal, new.theta, self.anchor))
        self.assertFalse(all(leaves))
        back = step.reset(new, self.anchor, model=self.model)
        for copy in (back.theta, back.prime):
            for a, b in zip(
                jax.tree.leaves(copy), jax.tree.leaves(self.anchor), strict=True
            ):
                np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(back.logits, new.logits)
        # Another set of continuous hyper-parameters reuses the compilation.
        fn(
            back, jax.random.key(9), inputs, targets, weights, self.nbrs, self.sims,
            step.Hyper.make(lam=0.5, beta=0.0, temperature=0.7, lr_theta=1e-3,
                            lr_prime=1e-3, lr_logits=1e-2),
        )  # fmt: skip
        self.assertEqual(fn._cache_size(), 1)
        # The gap is a value-function gap: theta' takes theta when theta fits the
        # synthetic data better, and then the penalty moves no logit (beta 0).
        frozen = step.Hyper.make(lam=1.0, beta=0.0, temperature=1.0, lr_theta=0.0,
                                 lr_prime=0.0, lr_logits=1e-1)  # fmt: skip
        other = self.model.init(jax.random.key(7))
        for theta, prime in ((self.anchor, other), (other, self.anchor)):
            start = state._replace(theta=theta, prime=prime)
            new, stats = fn(start, jax.random.key(8), inputs, targets, weights,
                            self.nbrs, self.sims, frozen)  # fmt: skip
            gap = float(stats["syn"]) - float(stats["syn_prime"])
            self.assertAlmostEqual(float(stats["penalty"]), max(gap, 0.0), places=5)
            theta_better = gap < 0
            kept = theta if theta_better else prime
            for a, b in zip(jax.tree.leaves(new.prime), jax.tree.leaves(kept),
                            strict=True):  # fmt: skip
                np.testing.assert_array_equal(a, b)
            moved = bool(jnp.any(new.logits != self.logits))
            self.assertEqual(moved, not theta_better)

    @pytest.mark.slow
    def test_unrolled_step_differentiates_through_the_inner_training(self):
        inputs, targets, weights = _batch()
        opt_state = step.adam().init(self.logits)
        logits, _, loss = jax.jit(
            functools.partial(
                step.unrolled_step, model=self.model, subset_size=I, unroll=3
            )
        )(
            self.logits, opt_state, self.anchor, jax.random.key(10), inputs, targets,
            weights, self.hyper,
        )  # fmt: skip
        self.assertTrue(np.isfinite(float(loss)))
        self.assertGreater(float(jnp.abs(logits - self.logits).max()), 0.0)


class SyntheticTest(absltest.TestCase):
    def test_discretise_gives_valid_unique_ids(self):
        z = np.random.default_rng(11).normal(size=(4, 6, 8))
        z[0, :, 3] += 10.0  # every position of sequence 0 prefers item 3
        ids = synthetic.discretise(z)
        self.assertEqual(ids.shape, (4, 6))
        self.assertTrue(((ids >= 0) & (ids < 8)).all())
        for row in ids:
            self.assertLen(set(row.tolist()), 6)
        self.assertIn(3, ids[0].tolist())
        np.testing.assert_array_equal(
            synthetic.discretise(z, unique=False), z.argmax(-1)
        )
        with self.assertRaisesRegex(ValueError, "unique"):
            synthetic.discretise(np.zeros((1, 9, 8)))

    def test_real_init_fills_every_position_with_real_histories(self):
        # Histories of 1-4 items, shorter than the 9 positions to fill.
        real, _ = make_markov_sequences(30, I, mean_length=4, seed=3, min_length=3)
        rows = distill.real_init(real, 5, 9, np.random.default_rng(0))
        self.assertEqual(rows.shape, (5, 9))
        self.assertTrue(((rows >= 0) & (rows < I)).all())
        prefixes = {
            tuple(real.train_items[a:b])
            for a, b in zip(real.train_indptr[:-1], real.train_indptr[1:], strict=True)
            if b - a >= 2
        }
        for row in rows:  # each row ends with a whole real prefix
            self.assertTrue(any(row[-len(p) :].tolist() == list(p) for p in prefixes))

    def test_init_from_real_gives_the_real_items_most_of_the_mass(self):
        for num_items in (I, 5000):  # a fixed logit would fade at 5,000 items
            ids = np.array([[1, 2, 3, 4, 5]])
            z = synthetic.init_logits(jax.random.key(2), 1, L, num_items, real=ids)
            p = np.asarray(jax.nn.softmax(z, axis=-1))
            mass = np.take_along_axis(p, ids[..., None], -1)
            np.testing.assert_allclose(mass, np.exp(2) / (np.exp(2) + 1), atol=0.03)

    def test_init_from_real_and_to_sequences(self):
        real, _ = make_markov_sequences(20, I, mean_length=6, seed=0)
        ids = np.array([[1, 2, 3, 4, 5], [0, 6, 7, 8, 9]])
        z = synthetic.init_logits(jax.random.key(12), 2, L, I, real=ids)
        np.testing.assert_array_equal(synthetic.discretise(z), ids)
        seqs = synthetic.to_sequences(ids, real)
        self.assertEqual(seqs.num_items, real.num_items)
        inputs, targets = seqs.training_windows(L)
        self.assertEqual(inputs.shape[0], 2)
        np.testing.assert_array_equal(targets[:, -1], ids[:, -1] + 1)


if __name__ == "__main__":
    absltest.main()


class FactorisedTest(absltest.TestCase):
    def setUp(self):
        super().setUp()
        self.real = np.array([[3, 1, 4, 0, 9], [2, -1, 6, 5, 8], [10, 7, 0, 1, 2]])
        self.z = synthetic.init_logits(
            jax.random.key(0), M, L, I, real=self.real, rank=32
        )

    def test_columns_and_dense_equal_the_product(self):
        self.assertEqual(self.z.shape, (M, L, I))
        want = np.einsum("mlr,ir->mli", *map(np.asarray, self.z))
        np.testing.assert_allclose(synthetic.dense(self.z), want, rtol=RTOL, atol=ATOL)
        chosen = jnp.array([1, 4, 9])
        np.testing.assert_allclose(
            synthetic.columns(self.z, chosen), want[:, :, [1, 4, 9]], rtol=RTOL
        )
        dense = jnp.asarray(want)
        np.testing.assert_array_equal(
            synthetic.columns(dense, chosen), want[..., [1, 4, 9]]
        )

    def test_init_from_real_discretises_back_to_the_real_items(self):
        logits = np.asarray(synthetic.dense(self.z))
        known = self.real >= 0
        np.testing.assert_allclose(
            np.take_along_axis(logits, np.maximum(self.real, 0)[..., None], -1)[known][
                :, 0
            ],
            synthetic.init_scale(I),
            rtol=1e-5,
        )
        ids = synthetic.discretise(self.z)
        np.testing.assert_array_equal(ids[known], self.real[known])
        np.testing.assert_array_equal(ids, synthetic.discretise(logits))
        with self.assertRaisesRegex(ValueError, "rank must be >= 0"):
            synthetic.init_logits(jax.random.key(0), M, L, I, rank=-1)

    @pytest.mark.slow  # compiles the whole step for factorised logits: about 10 s
    def test_step_on_factorised_logits_moves_only_subset_item_rows(self):
        model = _model()
        anchor = model.init(jax.random.key(5))
        nbrs, sims = map(
            jnp.asarray, objective.text_neighbours(model.text.embeddings, 3)
        )
        hyper = step.Hyper.make(
            lam=1.0, beta=0.1, temperature=1.0, lr_theta=1e-2, lr_prime=1e-2,
            lr_logits=1e-1,
        )  # fmt: skip
        inputs, targets, weights = _batch()
        state = step.init_state(self.z, anchor, model=model)
        fn = jax.jit(functools.partial(step.foster_step, model=model, subset_size=10))
        new, stats = fn(
            state, jax.random.key(8), inputs, targets, weights, nbrs, sims, hyper
        )
        self.assertTrue(bool(stats["covered"]))
        self.assertIsInstance(new.logits, synthetic.Factorised)
        chosen, _ = step.step_subset(jax.random.key(8), self.z, inputs, targets, 10, 1)
        moved = np.any(np.asarray(new.logits.items != self.z.items), axis=1)
        self.assertTrue(moved.any())
        self.assertEqual(set(np.flatnonzero(moved)) - set(np.asarray(chosen)), set())


class DistillTest(absltest.TestCase):
    @pytest.mark.slow  # an expert training and three distillations: about 25 s
    def test_loop_is_deterministic_and_refuses_a_subset_without_the_batch(self):
        from infinite_ae.foster import distill

        seqs, _ = make_markov_sequences(60, I, mean_length=6, seed=2)
        model = _model()
        anchors = distill.expert_trajectory(
            model, seqs, epochs=2, loss="ce", batch_size=32, progress=False
        )
        self.assertLen(anchors, 2)
        nbrs, sims = objective.text_neighbours(model.text.embeddings, 3)
        options = distill.FosterOptions(
            num_sequences=4, length=L, steps=6, batch_size=4, subset_size=I,
            reset_every=3,
        )  # fmt: skip
        runs = [
            distill.distill(model, seqs, anchors, nbrs, sims, options, progress=False)
            for _ in range(2)
        ]
        np.testing.assert_array_equal(runs[0].ids, runs[1].ids)
        ids = runs[0].ids
        self.assertEqual(ids.shape, (4, L))
        self.assertTrue(all(len(set(row)) == L for row in ids.tolist()))
        self.assertEqual([h["step"] for h in runs[0].history], [0, 5])
        small = dataclasses.replace(options, subset_size=3)
        with self.assertRaisesRegex(ValueError, "raise subset_size"):
            distill.distill(model, seqs, anchors, nbrs, sims, small, progress=False)
        with self.assertRaisesRegex(ValueError, "length"):
            distill.FosterOptions(length=1)
        factorised = distill.distill(
            model,
            seqs,
            anchors,
            nbrs,
            sims,
            dataclasses.replace(options, rank=8),
            progress=False,
        )
        self.assertIsInstance(factorised.logits, synthetic.Factorised)
        self.assertEqual(factorised.logits.rows.shape, (4, L, 8))
        np.testing.assert_array_equal(
            factorised.ids, synthetic.discretise(factorised.logits)
        )
        with self.assertRaisesRegex(ValueError, "rank must be >= 0"):
            distill.FosterOptions(rank=-1)
