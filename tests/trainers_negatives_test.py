"""Negative samplers: exclusion, target distributions, determinism, model use."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats
from absl.testing import absltest, parameterized

from infinite_ae.trainers import bpr_mf, lightgcn, loop, negatives

NUM_USERS, NUM_ITEMS, DIM = 12, 40, 8
# A chi-square p-value below this fails a distribution test (fixed keys: these
# tests are deterministic; the threshold only says how far off is "wrong").
P_MIN = 1e-3


def _positives(seed=0):
    """Random positives; user 0 has all items but 3, user 1 has none."""
    rng = np.random.default_rng(seed)
    users = rng.integers(2, NUM_USERS, 150)
    items = rng.integers(0, NUM_ITEMS, 150)
    full = np.setdiff1d(np.arange(NUM_ITEMS), [5, 17, 30])
    users = np.concatenate([users, np.zeros(full.size, np.int64)])
    items = np.concatenate([items, full])
    return users.astype(np.int32), items.astype(np.int32)


def _inputs(sampler, users, items, batch_users, batch_pos, seed=0):
    """SamplerInputs of a batch under a random BPR-MF or LightGCN."""
    keys = jnp.asarray(negatives.exclusion_keys(users, items, NUM_ITEMS))
    weights = jnp.ones(batch_users.shape, jnp.float32)
    if sampler.needs == "layers":
        model = lightgcn.LightGCN(NUM_USERS, NUM_ITEMS, DIM, backend="segment_sum")
        graph = model.make_graph(
            jnp.asarray(users), jnp.asarray(items), jnp.ones(users.shape)
        )
    else:
        model = bpr_mf.BPRMF(NUM_USERS, NUM_ITEMS, DIM)
        graph = None
    params = model.init(jax.random.key(seed))
    state = negatives.init_sampler_state(
        sampler, np.bincount(items, minlength=NUM_ITEMS), model
    )
    inputs = negatives.sampler_inputs(
        model, sampler, params, graph, batch_users, batch_pos, weights, keys
    )
    return model, params, graph, inputs, state


@functools.cache
def _jit_sample(sampler):
    """The sampler's `sample`, jitted once per (hashable) sampler."""
    return jax.jit(sampler.sample)


def _items_of(neg):
    if isinstance(neg, negatives.MixedNegatives):
        return jnp.take_along_axis(neg.candidates, neg.pick, axis=1)
    return neg


class UniformComplementTest(absltest.TestCase):
    def test_matches_slow_rth_free_item_and_is_uniform(self):
        users, items = _positives()
        keys = jnp.asarray(negatives.exclusion_keys(users, items, NUM_ITEMS))
        draws_per_user = 4000
        query = jnp.repeat(jnp.arange(NUM_USERS, dtype=jnp.int32), draws_per_user)
        draw = jax.jit(negatives.uniform_complement, static_argnums=3)
        got = np.asarray(draw(jax.random.key(1), query, keys, NUM_ITEMS)).reshape(
            NUM_USERS, draws_per_user
        )
        for u in range(NUM_USERS):
            free = np.setdiff1d(np.arange(NUM_ITEMS), items[users == u])
            self.assertTrue(np.isin(got[u], free).all(), f"user {u}")
            counts = np.array([(got[u] == f).sum() for f in free])
            if free.size > 1:
                p = scipy.stats.chisquare(counts).pvalue
                self.assertGreater(p, P_MIN, f"user {u}: {counts}")


class SamplerTest(parameterized.TestCase):
    @parameterized.parameters(*sorted(negatives.SAMPLERS))
    def test_never_a_positive_and_same_key_same_negatives(self, name):
        sampler = negatives.get_sampler(name, num_items=NUM_ITEMS)
        users, items = _positives()
        batch_users = jnp.asarray(np.repeat(np.arange(NUM_USERS), 30), jnp.int32)
        batch_pos = jnp.asarray(np.resize(items, batch_users.shape[0]), jnp.int32)
        _, _, _, inputs, state = _inputs(sampler, users, items, batch_users, batch_pos)
        sample = _jit_sample(sampler)
        # A pure function of (key, state): the same pair gives the same draw.
        a, state_a = sample(jax.random.key(7), inputs, state)
        b, state_b = sample(jax.random.key(7), inputs, state)
        c, _ = sample(jax.random.key(8), inputs, state)
        leaves_a = jax.tree.leaves((a, state_a))
        leaves_b = jax.tree.leaves((b, state_b))
        for x, y in zip(leaves_a, leaves_b, strict=True):
            np.testing.assert_array_equal(x, y)
        self.assertFalse(np.array_equal(_items_of(a), _items_of(c)))
        pos = set(zip(users.tolist(), items.tolist(), strict=True))
        for step in range(3):
            neg, state = sample(jax.random.key(step), inputs, state)
            got = np.asarray(_items_of(neg))
            if got.ndim == 2:  # MixGCF: one chosen item per layer
                rows = np.repeat(np.asarray(batch_users)[:, None], got.shape[1], 1)
            else:
                rows = np.asarray(batch_users)
            bad = [
                (u, j)
                for u, j in zip(rows.ravel(), got.ravel(), strict=True)
                if (u, j) in pos
            ]
            self.assertEmpty(bad)
            self.assertTrue(((got >= 0) & (got < NUM_ITEMS)).all())

    def test_popularity_matches_target_distribution(self):
        users, items = _positives()
        sampler = negatives.get_sampler("popularity", num_items=NUM_ITEMS, gamma=0.75)
        counts = np.bincount(items, minlength=NUM_ITEMS) + 1  # every item drawable
        state = sampler.init_state(counts)
        user = 3
        batch_users = jnp.full((20000,), user, jnp.int32)
        inputs = negatives.SamplerInputs(
            batch_users,
            batch_users,
            jnp.ones(batch_users.shape),
            jnp.asarray(negatives.exclusion_keys(users, items, NUM_ITEMS)),
        )
        neg, _ = _jit_sample(sampler)(jax.random.key(0), inputs, state)
        free = np.setdiff1d(np.arange(NUM_ITEMS), items[users == user])
        target = counts[free] ** 0.75
        target = target / target.sum() * batch_users.shape[0]
        observed = np.array([(np.asarray(neg) == f).sum() for f in free])
        self.assertEqual(observed.sum(), batch_users.shape[0])
        self.assertGreater(scipy.stats.chisquare(observed, target).pvalue, P_MIN)

    def test_dns_returns_the_highest_scored_candidate(self):
        users, items = _positives()
        sampler = negatives.get_sampler("dns", num_items=NUM_ITEMS, num_candidates=6)
        batch_users = jnp.asarray(np.arange(NUM_USERS), jnp.int32)
        _, _, _, inputs, state = _inputs(
            sampler, users, items, batch_users, batch_users
        )
        key = jax.random.key(3)
        neg, _ = _jit_sample(sampler)(key, inputs, state)
        candidates = negatives._complement_candidates(key, inputs, 6, NUM_ITEMS)
        scores = np.einsum(
            "bd,bmd->bm", inputs.user_emb, np.asarray(inputs.item_emb)[candidates]
        )
        expected = np.asarray(candidates)[np.arange(NUM_USERS), scores.argmax(1)]
        np.testing.assert_array_equal(neg, expected)
        # Softmax DNS at a vanishing temperature is DNS (same candidates).
        soft = negatives.get_sampler(
            "softmax_dns", num_items=NUM_ITEMS, num_candidates=6, temperature=1e-6
        )
        cand_key, _ = jax.random.split(key)
        soft_neg, _ = _jit_sample(soft)(key, inputs, state)
        candidates = negatives._complement_candidates(cand_key, inputs, 6, NUM_ITEMS)
        scores = np.einsum(
            "bd,bmd->bm", inputs.user_emb, np.asarray(inputs.item_emb)[candidates]
        )
        expected = np.asarray(candidates)[np.arange(NUM_USERS), scores.argmax(1)]
        np.testing.assert_array_equal(soft_neg, expected)

    @pytest.mark.slow  # trains a model, then samples with four samplers: about 5 s
    def test_hard_samplers_pick_higher_scored_items_than_uniform(self):
        users, items = _positives()
        batch_users = jnp.asarray(np.repeat(np.arange(2, NUM_USERS), 200), jnp.int32)
        mean_score = {}
        for name in ("uniform", "dns", "softmax_dns", "aobpr"):
            sampler = negatives.get_sampler(name, num_items=NUM_ITEMS)
            _, params, _, inputs, state = _inputs(
                sampler, users, items, batch_users, batch_users
            )
            neg, _ = _jit_sample(sampler)(jax.random.key(0), inputs, state)
            scores = jnp.sum(params["user"][batch_users] * params["item"][neg], -1)
            mean_score[name] = float(jnp.mean(scores))
        for name in ("dns", "softmax_dns", "aobpr"):
            self.assertGreater(mean_score[name], mean_score["uniform"], mean_score)

    def test_in_batch_draws_other_real_rows_positives(self):
        batch_users = jnp.asarray([2, 3, 4, 5, 6], jnp.int32)
        batch_pos = jnp.asarray([10, 11, 12, 13, 39], jnp.int32)
        weights = jnp.asarray([1, 1, 1, 1, 0], jnp.float32)  # the last is padding
        keys = jnp.asarray(negatives.exclusion_keys([2, 3, 4, 5], [10, 11, 12, 13], 40))
        sampler = negatives.get_sampler("in_batch", num_items=NUM_ITEMS, num_tries=16)
        inputs = negatives.SamplerInputs(batch_users, batch_pos, weights, keys)
        for step in range(20):
            neg, _ = _jit_sample(sampler)(jax.random.key(step), inputs, ())
            neg = np.asarray(neg)[:4]
            self.assertTrue(np.isin(neg, [10, 11, 12, 13]).all(), neg)
            self.assertTrue((neg != np.asarray(batch_pos)[:4]).all(), neg)

    def test_aobpr_refreshes_its_ranking_on_schedule(self):
        users, items = _positives()
        sampler = negatives.get_sampler("aobpr", num_items=NUM_ITEMS, refresh_every=2)
        batch_users = jnp.asarray(np.arange(NUM_USERS), jnp.int32)
        _, _, _, inputs, state = _inputs(
            sampler, users, items, batch_users, batch_users
        )
        _, state = _jit_sample(sampler)(jax.random.key(0), inputs, state)
        expected = np.argsort(-np.asarray(inputs.item_emb).T, axis=1, kind="stable")
        np.testing.assert_array_equal(state.order, expected)
        moved = inputs._replace(item_emb=-inputs.item_emb)
        _, state = _jit_sample(sampler)(
            jax.random.key(1), moved, state
        )  # count 1: kept
        np.testing.assert_array_equal(state.order, expected)
        _, state = _jit_sample(sampler)(
            jax.random.key(2), moved, state
        )  # count 2: refresh
        np.testing.assert_array_equal(state.order, expected[:, ::-1])
        self.assertEqual(int(state.count), 3)

    def test_unknown_names_and_options(self):
        with self.assertRaisesRegex(ValueError, "aobpr.*dns.*uniform"):
            negatives.get_sampler("irgan", num_items=3)
        with self.assertRaisesRegex(ValueError, "num_candidates"):
            negatives.get_sampler("dns", num_items=3, gamma=1.0)


class SequenceNegativesTest(parameterized.TestCase):
    @parameterized.parameters("popularity", "dns", "softmax_dns", "in_batch", "aobpr")
    def test_never_the_target_and_dns_scores_highest(self, name):
        rng = np.random.default_rng(0)
        batch, length, k, dim = 4, 6, 3, DIM
        targets = jnp.asarray(rng.integers(0, NUM_ITEMS + 1, (batch, length)))
        hidden = jnp.asarray(rng.normal(size=(batch, length, dim)), jnp.float32)
        item_emb = jnp.asarray(rng.normal(size=(NUM_ITEMS, dim)), jnp.float32)
        sampler = negatives.get_sampler(name, num_items=NUM_ITEMS)
        state = negatives.init_sampler_state(
            sampler, np.ones(NUM_ITEMS), bpr_mf.BPRMF(1, NUM_ITEMS, dim)
        )
        draw = jax.jit(
            functools.partial(
                negatives.draw_sequence_negatives, sampler=sampler, num_negatives=k
            )
        )
        negs, _ = draw(
            jax.random.key(0),
            targets=targets,
            state=state,
            hidden=hidden,
            item_emb=item_emb,
        )
        negs = np.asarray(negs)
        self.assertEqual(negs.shape, (batch, length, k))
        self.assertTrue(((negs >= 1) & (negs <= NUM_ITEMS)).all())
        real = np.asarray(targets) > 0
        self.assertFalse((negs == np.asarray(targets)[..., None])[real].any())
        if name == "dns":
            # The chosen negative scores at least the median of all items.
            scores = np.einsum(
                "bld,bldk->blk",
                hidden,
                np.asarray(item_emb)[negs - 1].transpose(0, 1, 3, 2),
            )
            all_scores = np.einsum("bld,id->bli", hidden, item_emb)
            median = np.median(all_scores, axis=-1)[..., None]
            self.assertGreater(np.mean(scores > median), 0.9)

    def test_graph_samplers_are_refused(self):
        sampler = negatives.get_sampler("mixgcf", num_items=NUM_ITEMS)
        with self.assertRaisesRegex(ValueError, "graph model"):
            negatives.draw_sequence_negatives(
                jax.random.key(0),
                sampler,
                jnp.ones((2, 3), jnp.int32),
                num_negatives=1,
            )


class MixGCFTest(absltest.TestCase):
    @pytest.mark.slow  # compiles LightGCN's loss both ways: about 8 s
    def test_mixed_loss_with_pure_candidate_equals_item_loss(self):
        users, items = _positives()
        model = lightgcn.LightGCN(NUM_USERS, NUM_ITEMS, DIM, backend="segment_sum")
        graph = model.make_graph(
            jnp.asarray(users), jnp.asarray(items), jnp.ones(users.shape)
        )
        params = model.init(jax.random.key(0))
        batch_users = jnp.asarray([2, 3, 4], jnp.int32)
        pos = jnp.asarray([1, 2, 3], jnp.int32)
        neg = jnp.asarray([7, 8, 9], jnp.int32)
        weights = jnp.ones(3)
        layers = model.num_layers + 1
        mixed = negatives.MixedNegatives(
            candidates=jnp.stack([jnp.zeros(3, jnp.int32), neg], 1),
            pick=jnp.ones((3, layers), jnp.int32),
            alpha=jnp.zeros((3, layers)),
        )
        expected = model.loss(params, graph, batch_users, pos, neg, weights)[0]
        got = model.loss(params, graph, batch_users, pos, mixed, weights)[0]
        np.testing.assert_allclose(got, expected, rtol=1e-6)
        grad = jax.grad(
            lambda p: model.loss(p, graph, batch_users, pos, mixed, weights)[0]
        )
        self.assertGreater(float(jnp.abs(grad(params)["item"][neg]).sum()), 0.0)

    def test_bprmf_refuses_mixed_negatives(self):
        sampler = negatives.get_sampler("mixgcf", num_items=NUM_ITEMS)
        model = bpr_mf.BPRMF(NUM_USERS, NUM_ITEMS, DIM)
        with self.assertRaisesRegex(ValueError, "lightgcn"):
            negatives.sampler_inputs(
                model,
                sampler,
                model.init(jax.random.key(0)),
                None,
                jnp.zeros(2, jnp.int32),
                jnp.zeros(2, jnp.int32),
                jnp.ones(2),
                jnp.asarray([-1]),
            )


@pytest.mark.slow
class TrainEpochTest(parameterized.TestCase):
    # One sampler per input kind (ids, scores, layers) and a stateful one; every
    # sampler's draws are checked above.
    @parameterized.parameters(
        ("bprmf", "popularity"),
        ("bprmf", "aobpr"),
        ("lightgcn", "mixgcf"),
    )
    def test_every_sampler_trains(self, kind, name):
        users, items = _positives()
        if kind == "bprmf":
            model = bpr_mf.BPRMF(NUM_USERS, NUM_ITEMS, DIM)
        else:
            model = lightgcn.LightGCN(NUM_USERS, NUM_ITEMS, DIM, backend="segment_sum")
        sampler = negatives.get_sampler(name, num_items=NUM_ITEMS)
        opt = loop.make_optimizer()
        counts = np.bincount(items, minlength=NUM_ITEMS)
        state = loop.init_state(
            model,
            opt,
            jax.random.key(0),
            0.05,
            negatives.init_sampler_state(sampler, counts, model),
        )
        epoch = jax.jit(
            functools.partial(
                loop.train_epoch,
                model=model,
                optimizer=opt,
                sampler=sampler,
                batch_size=64,
            )
        )
        keys = jnp.asarray(negatives.exclusion_keys(users, items, NUM_ITEMS))
        w = jnp.ones(users.shape, jnp.float32)
        losses = []
        for e in range(15):
            state, stats = epoch(state, jax.random.key(e), users, items, w, keys)
            losses.append(float(stats["loss"]))
        self.assertTrue(np.all(np.isfinite(losses)))
        self.assertLess(losses[-1], losses[0])


if __name__ == "__main__":
    absltest.main()
