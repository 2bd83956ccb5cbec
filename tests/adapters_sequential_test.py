"""Tests for the sequential adapter and the first-order Markov model."""

import dataclasses

import numpy as np
import scipy.sparse as sp
from absl.testing import absltest, parameterized

from infinite_ae import evaluation
from infinite_ae.adapters import sequential
from infinite_ae.data import make_markov_sequences, markov_oracle_scores
from infinite_ae.data.sequences import Sequences
from infinite_ae.models.markov import MarkovChain, transition_counts


def _real(prefixes, num_items):
    lengths = [len(p) for p in prefixes]
    return Sequences(
        train_indptr=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
        train_items=np.concatenate(prefixes).astype(np.int32),
        val_items=np.full(len(prefixes), -1, np.int32),
        test_items=np.full(len(prefixes), -1, np.int32),
        user_ids=np.arange(len(prefixes)),
        item_ids=np.arange(num_items),
    )


class StatsTest(absltest.TestCase):
    def test_stats_against_slow_loops(self):
        rng = np.random.default_rng(0)
        prefixes = [rng.permutation(9)[: rng.integers(1, 9)] for _ in range(30)]
        real = _real(prefixes, 9)
        stats = sequential.sequence_stats(real)
        first = np.zeros(9)
        positions = [[] for _ in range(9)]
        follows = np.zeros((9, 9))
        for p in prefixes:
            first[p[0]] += 1
            for k, item in enumerate(p):
                positions[item].append(k / (len(p) - 1) if len(p) > 1 else 0.5)
            for a, b in zip(p[:-1], p[1:], strict=True):
                follows[a, b] += 1
        np.testing.assert_array_equal(stats.first_counts, first)
        mean = [np.mean(v) if v else 0.5 for v in positions]
        np.testing.assert_allclose(stats.mean_position, mean, rtol=1e-12)
        np.testing.assert_array_equal(stats.transitions.toarray(), follows)
        np.testing.assert_array_equal(transition_counts(real).toarray(), follows)


class OrderingTest(parameterized.TestCase):
    def setUp(self):
        super().setUp()
        # Real histories always follow the chain 0 -> 1 -> ... -> 7.
        self.real = _real([np.arange(8)] * 5 + [np.arange(2, 8)] * 3, 8)
        self.stats = sequential.sequence_stats(self.real)

    def test_greedy_chain_recovers_the_chain(self):
        rng = np.random.default_rng(1)
        items = np.array([5, 1, 7, 3, 2])
        ordered = sequential.order_items(
            items, ordering="greedy_chain", stats=self.stats, rng=rng
        )
        # 1 -> 2 -> 3 follow each other; 5 and 7 are reached by mean position.
        self.assertEqual(ordered.tolist(), [1, 2, 3, 5, 7])

    def test_mean_position_order(self):
        ordered = sequential.order_items(
            np.array([7, 0, 4]),
            ordering="mean_position",
            stats=self.stats,
            rng=np.random.default_rng(0),
        )
        self.assertEqual(ordered.tolist(), [0, 4, 7])

    @parameterized.parameters(*sequential.ORDERINGS)
    def test_adapter_keeps_each_users_item_set(self, ordering):
        rng = np.random.default_rng(2)
        rows = sp.csr_matrix((rng.random((6, 8)) < 0.5).astype(np.float32))
        out = sequential.to_sequences(
            rows, self.real, ordering=ordering, rng=np.random.default_rng(3)
        )
        self.assertEqual(out.num_users, 6)
        self.assertEqual(out.num_items, 8)
        for s in range(6):
            want = sorted(rows[s].indices.tolist())
            self.assertEqual(sorted(out.prefix(s).tolist()), want, s)
        np.testing.assert_array_equal(out.val_items, -1)

    def test_sampled_sets_come_from_the_rows(self):
        rng = np.random.default_rng(4)
        weights = rng.random((4, 8)) * (rng.random((4, 8)) < 0.7)
        out = sequential.to_sequences(
            weights,
            self.real,
            num_sequences=3,
            rng=np.random.default_rng(5),
        )
        self.assertEqual(out.num_users, 12)
        for k in range(12):
            row = weights[k // 3]
            items = out.prefix(k)
            self.assertTrue(np.all(row[items] > 0))
            self.assertEqual(len(set(items.tolist())), len(items))
            self.assertEqual(len(items), min(round(row.sum()), np.sum(row > 0)))

    def test_sampled_chain_draws_the_transition_distribution(self):
        # 0 starts every history and is followed by 1 three times, by 2 once.
        real = _real([np.array([0, 1])] * 3 + [np.array([0, 2])], 3)
        stats = sequential.sequence_stats(real)
        rng = np.random.default_rng(6)
        seconds = [
            sequential.order_items(
                np.array([0, 1, 2]), ordering="sampled_chain", stats=stats, rng=rng
            )[1]
            for _ in range(4000)
        ]
        # Binomial(4000, 0.75): standard deviation 0.007, so 0.03 is 4 deviations.
        self.assertAlmostEqual(np.mean(np.array(seconds) == 1), 0.75, delta=0.03)

    def test_kept_sets_are_reordered_not_redrawn(self):
        rng = np.random.default_rng(8)
        rows = sp.csr_matrix((rng.random((4, 8)) < 0.6).astype(np.float32))
        out = sequential.to_sequences(
            rows,
            self.real,
            ordering="random",
            num_sequences=3,
            sets="kept",
            rng=np.random.default_rng(9),
        )
        self.assertEqual(out.num_users, 12)
        orders = set()
        for k in range(12):
            want = sorted(rows[k // 3].indices.tolist())
            self.assertEqual(sorted(out.prefix(k).tolist()), want, k)
            orders.add(tuple(out.prefix(k).tolist()))
        self.assertGreater(len(orders), 4)  # the copies are ordered independently

    def test_errors(self):
        with self.assertRaisesRegex(ValueError, "ordering='time'"):
            sequential.to_sequences(
                np.eye(8), self.real, ordering="time", rng=np.random.default_rng(0)
            )
        with self.assertRaisesRegex(ValueError, "rows have 5 items"):
            sequential.to_sequences(np.eye(5), self.real, rng=np.random.default_rng(0))
        with self.assertRaisesRegex(ValueError, "sets='all'"):
            sequential.to_sequences(
                np.eye(8), self.real, sets="all", rng=np.random.default_rng(0)
            )


class TopItemsTest(absltest.TestCase):
    def test_each_row_keeps_its_largest_weights(self):
        rng = np.random.default_rng(7)
        weights = rng.random((5, 12))
        lengths = np.array([1, 3, 12, 20, 4])
        rows = sequential.top_items(weights, lengths)
        for s in range(5):
            k = min(lengths[s], 12)
            want = set(np.argsort(-weights[s])[:k].tolist())
            self.assertEqual(set(rows[s].indices.tolist()), want, s)


class BaselineUsersTest(absltest.TestCase):
    def test_each_kind_against_a_slow_reference(self):
        prefixes = [np.arange(n) for n in (5, 1, 8, 3, 8, 2)]
        real = dataclasses.replace(
            _real(prefixes, 8), last_train_times=np.array([5.0, 9, 1, 7, 3, 2])
        )
        pick = lambda kind, n: sequential.baseline_users(
            real, n, kind=kind, rng=np.random.default_rng(0)
        ).tolist()
        # User 1 (one training item) is never eligible.
        self.assertEqual(pick("longest", 3), [0, 2, 4])
        self.assertEqual(pick("most_recent", 2), [0, 3])
        random_users = pick("random_users", 4)
        self.assertLen(set(random_users), 4)
        self.assertNotIn(1, random_users)
        with self.assertRaisesRegex(ValueError, r"budget 6 must lie in \[1, 5\]"):
            pick("longest", 6)
        with self.assertRaisesRegex(ValueError, "most_recent needs timestamps"):
            sequential.baseline_users(
                _real(prefixes, 8), 2, kind="most_recent", rng=None
            )

    def test_coresets_select_on_sequence_embeddings(self):
        # Items 0-3 point one way, 4-7 another; user 1 is never eligible.
        vectors = np.repeat(np.eye(4)[:2], 4, axis=0) + 0.01 * np.eye(8, 4)
        prefixes = [[0, 1], [4], [0, 2, 3], [4, 5], [5, 6, 7], [1, 2]]
        real = _real([np.array(p) for p in prefixes], 8)
        embeddings = sequential.sequence_embeddings(real, vectors)
        np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0)
        mean = vectors[[0, 2, 3]] / np.linalg.norm(vectors[[0, 2, 3]], axis=1)[:, None]
        want = mean.mean(0) / np.linalg.norm(mean.mean(0))
        np.testing.assert_allclose(embeddings[2], want, atol=1e-12)
        for kind in ("k_center", "herding"):
            users = sequential.baseline_users(
                real, 2, kind=kind, rng=None, embeddings=embeddings
            )
            # One user of each direction, never the ineligible one.
            self.assertEqual(sorted(set(users.tolist()) & {3, 4}).__len__(), 1, kind)
            self.assertNotIn(1, users.tolist())
            with self.assertRaisesRegex(ValueError, f"{kind} selects on sequence"):
                sequential.baseline_users(real, 2, kind=kind, rng=None)


class MarkovChainTest(absltest.TestCase):
    def test_recovers_a_planted_chain(self):
        # On planted Markov sequences the fitted chain ranks like the true one.
        data, transition = make_markov_sequences(400, 30, mean_length=25, seed=0)
        model = MarkovChain(smoothing=0.1).fit(data)
        users = np.arange(data.num_users)
        oracle = markov_oracle_scores(data, transition, users, split="test")
        interactions = data.to_interactions()
        common = dict(split="test", ks=(10,), psp=False, mask="none")
        got = evaluation.evaluate(
            model.scorer(data, split="test"), interactions, **common
        )
        want = evaluation.evaluate(lambda q, u: oracle[u], interactions, **common)
        # Stated tolerance: within 2 nDCG@10 points (×100) of the true chain.
        self.assertGreater(got["ndcg@10"], want["ndcg@10"] - 2.0)

    def test_smoothing_falls_back_to_popularity(self):
        real = _real([np.array([0, 1]), np.array([2, 1])], 3)
        model = MarkovChain(smoothing=1.0).fit(real)
        rows = np.asarray(model.transition_)
        np.testing.assert_allclose(rows.sum(axis=1), 1.0, rtol=1e-6)
        # Item 1 never precedes anything: its row is the popularity prior.
        np.testing.assert_allclose(rows[1], [0.25, 0.5, 0.25], rtol=1e-6)
        np.testing.assert_allclose(rows[0], [0.125, 0.75, 0.125], rtol=1e-6)
        np.testing.assert_array_equal(np.asarray(model.scores(np.array([-1])))[0], 0)


if __name__ == "__main__":
    absltest.main()
