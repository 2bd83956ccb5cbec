"""Tests for infinite_ae.metrics: slow NumPy references, hand cases, edge cases."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse as sp
from absl.testing import absltest, parameterized

from infinite_ae import metrics

RTOL = 1e-5
ATOL = 1e-6
KS = (1, 3, 10, 40, 55)  # 40 = I, 55 > I and > the unmasked items of every row.
NAMES = metrics.RANKING_METRICS + metrics.PSP_METRICS


def _random_case(seed, num_users=12, num_items=40):
    """Random tie-free scores, disjoint targets/mask, plus special rows."""
    rng = np.random.default_rng(seed)
    scores = rng.permutation(num_users * num_items).reshape(num_users, num_items)
    scores = (scores / (num_users * num_items) - 0.5).astype(np.float32)
    mask = rng.random((num_users, num_items)) < 0.3
    targets = (rng.random((num_users, num_items)) < 0.15) & ~mask
    targets[0] = False  # no positives
    mask[1] = True  # everything masked (targets stay: they can never be hit)
    targets[1, :3] = True
    mask[2] = False  # nothing masked, many positives
    targets[2] = rng.random(num_items) < 0.6
    targets[3] = False
    targets[3, np.argmax(np.where(mask[3], -np.inf, scores[3]))] = True  # top-1 hit
    weights = (1.0 + 10.0 * rng.random(num_items)).astype(np.float32)
    return scores, targets, mask, weights


def _reference(scores, targets, mask, weights, k):
    """The ∞-AE `eval.py` loop (sets, sorted lists), one user at a time, float64."""
    out = {name: [] for name in NAMES}
    for s, t, m in zip(scores, targets, mask, strict=True):
        positives = set(np.flatnonzero(t).tolist())
        if not positives:
            for name in NAMES:
                out[name].append(np.nan)
            continue
        masked = np.where(m, -np.inf, s.astype(np.float64))
        ranked = np.argsort(-masked, kind="stable")[:k].tolist()
        hits = [item in positives and not m[item] for item in ranked]
        num_hits = sum(hits)
        cutoff = min(len(positives), k)
        dcg = sum(1 / np.log2(j + 2) for j, hit in enumerate(hits) if hit)
        idcg = sum(1 / np.log2(j + 2) for j in range(cutoff))
        gain = sum(
            float(weights[i]) for i, hit in zip(ranked, hits, strict=True) if hit
        )
        ideal = sum(
            sorted((float(weights[i]) for i in positives), reverse=True)[:cutoff]
        )
        first = [j for j, hit in enumerate(hits) if hit]
        out["hr"].append(num_hits / cutoff)
        out["recall"].append(num_hits / len(positives))
        out["hit"].append(float(num_hits > 0))
        out["precision"].append(num_hits / k)
        out["ndcg"].append(dcg / idcg)
        out["mrr"].append(1 / (first[0] + 1) if first else 0.0)
        out["psp"].append(gain / cutoff / ideal)
        out["psp_norm"].append(gain / ideal)
    return {name: np.array(values) for name, values in out.items()}


def _standard(scores, targets, mask, k):
    """Rank-based standard nDCG / recall (binary gain, IDCG over min(k, |T|)).

    Independent of top-k: the rank of a positive is 1 + the number of unmasked items
    with a higher score.
    """
    ndcg, recall = [], []
    for s, t, m in zip(scores, targets, mask, strict=True):
        positives = np.flatnonzero(t)
        if positives.size == 0:
            ndcg.append(np.nan)
            recall.append(np.nan)
            continue
        candidates = s[~m]
        ranks = np.array([1 + np.sum(candidates > s[p]) for p in positives if not m[p]])
        in_top = ranks[ranks <= k] if ranks.size else ranks
        dcg = np.sum(1.0 / np.log2(in_top + 1.0))
        idcg = np.sum(1.0 / np.log2(np.arange(1, min(k, positives.size) + 1) + 1.0))
        ndcg.append(dcg / idcg)
        recall.append(in_top.size / positives.size)
    return np.array(ndcg), np.array(recall)


def _brute_auc(pos, neg):
    pairs = [(p > n) + 0.5 * (p == n) for p in pos for n in neg]
    return np.mean(pairs) if pairs else np.nan


# Shared across tests so that equal shapes compile once.
_jitted_ranking_metrics = jax.jit(metrics.ranking_metrics, static_argnames=("ks",))


class RankingMetricsTest(parameterized.TestCase):
    @parameterized.parameters((0, False), (0, True), (1, True), (2, True), (3, True))
    def test_matches_per_user_reference(self, seed, jit):
        scores, targets, mask, weights = _random_case(seed)
        fn = _jitted_ranking_metrics if jit else metrics.ranking_metrics
        out = fn(scores, targets, mask, ks=KS, weights=weights)
        self.assertEqual(set(out), {f"{n}@{k}" for n in NAMES for k in KS})
        for k in KS:
            expected = _reference(scores, targets, mask, weights, k)
            for name in NAMES:
                np.testing.assert_allclose(
                    out[f"{name}@{k}"], expected[name], rtol=RTOL, atol=ATOL,
                    err_msg=f"{name}@{k}",
                )  # fmt: skip

    @parameterized.parameters(0, 1, 2)
    def test_agrees_with_standard_rank_based_definition(self, seed):
        scores, targets, mask, _ = _random_case(seed, num_users=20, num_items=60)
        out = _jitted_ranking_metrics(scores, targets, mask, ks=(5, 10, 20))
        for k in (5, 10, 20):
            ndcg, recall = _standard(scores, targets, mask, k)
            np.testing.assert_allclose(out[f"ndcg@{k}"], ndcg, rtol=RTOL, atol=ATOL)
            np.testing.assert_allclose(out[f"recall@{k}"], recall, rtol=RTOL, atol=ATOL)

    def test_psp_ideal_precomputed_equals_dense(self):
        scores, targets, mask, weights = _random_case(5)
        ideal = metrics.psp_ideal_weights(sp.csr_matrix(targets), weights, ks=KS)
        dense = _jitted_ranking_metrics(scores, targets, mask, ks=KS, weights=weights)
        fast = _jitted_ranking_metrics(
            scores, targets, mask, ks=KS, weights=weights, psp_ideal=ideal
        )
        for key in dense:
            np.testing.assert_allclose(fast[key], dense[key], rtol=RTOL, atol=ATOL)

    @parameterized.parameters(False, True)
    def test_single_metric_functions(self, jit):
        scores, targets, mask, weights = _random_case(7)
        everything = metrics.ranking_metrics(
            scores, targets, mask, ks=(3,), weights=weights
        )
        functions = {
            "hr": metrics.hr_at_k,
            "recall": metrics.recall_at_k,
            "hit": metrics.hit_at_k,
            "precision": metrics.precision_at_k,
            "ndcg": metrics.ndcg_at_k,
            "mrr": metrics.mrr_at_k,
        }
        for name, fn in functions.items():
            call = lambda s, t, m, fn=fn: fn(s, t, m, k=3)
            if jit:
                call = jax.jit(call)
            np.testing.assert_allclose(
                call(scores, targets, mask),
                everything[f"{name}@3"],
                rtol=RTOL,
                atol=ATOL,
                err_msg=name,
            )
        for compat, name in ((True, "psp"), (False, "psp_norm")):
            call = lambda s, t, m, w, c=compat: metrics.psp_at_k(
                s, t, m, w, k=3, inf_ae_compat=c
            )
            if jit:
                call = jax.jit(call)
            np.testing.assert_allclose(
                call(scores, targets, mask, weights),
                everything[f"{name}@3"],
                rtol=RTOL,
                atol=ATOL,
            )


class HandComputedTest(absltest.TestCase):
    def test_ndcg_hits_at_ranks_1_and_3(self):
        # k = 3, |T| = 2, hits at ranks 1 and 3: (1 + 1/log2 4) / (1 + 1/log2 3).
        scores = jnp.array([[0.9, 0.8, 0.7, 0.1]])
        targets = jnp.array([[1, 0, 1, 0]])
        expected = (1 + 1 / 2) / (1 + 1 / math.log2(3))
        np.testing.assert_allclose(
            metrics.ndcg_at_k(scores, targets, k=3), [expected], rtol=RTOL
        )
        # k = 1: IDCG over min(2, 1) = 1 position.
        np.testing.assert_allclose(metrics.ndcg_at_k(scores, targets, k=1), [1.0])

    def test_truncated_recall_vs_recall_vs_hit(self):
        # Ranking (item 0 masked): items 5, 4, 3, 2, 1, 6, 7; T = {1, 2, 4, 6, 7}.
        # At k = 3 the only hit is item 4 (rank 2); at k = 5: ranks 2, 4 and 5.
        scores = jnp.array([[9.0, 1.0, 2.0, 3.0, 4.0, 5.0, -1.0, -2.0]])
        mask = jnp.array([[1, 0, 0, 0, 0, 0, 0, 0]], bool)
        targets = jnp.array([[0, 1, 1, 0, 1, 0, 1, 1]])
        out = metrics.ranking_metrics(scores, targets, mask, ks=(3, 5))
        np.testing.assert_allclose(out["hr@3"], [1 / 3], rtol=RTOL)
        np.testing.assert_allclose(out["recall@3"], [1 / 5], rtol=RTOL)
        np.testing.assert_allclose(out["precision@3"], [1 / 3], rtol=RTOL)
        np.testing.assert_allclose(out["hit@3"], [1.0])
        np.testing.assert_allclose(out["mrr@3"], [1 / 2], rtol=RTOL)
        np.testing.assert_allclose(out["hr@5"], [3 / 5], rtol=RTOL)
        np.testing.assert_allclose(out["recall@5"], [3 / 5], rtol=RTOL)
        np.testing.assert_allclose(out["precision@5"], [3 / 5], rtol=RTOL)
        dcg = 1 / math.log2(3) + 1 / math.log2(5) + 1 / math.log2(6)
        idcg = sum(1 / math.log2(j + 2) for j in range(5))
        np.testing.assert_allclose(out["ndcg@5"], [dcg / idcg], rtol=RTOL)

    def test_psp_quirk_vs_normalised(self):
        # The ∞-AE PSP divides only the numerator by m (quirk 2 in
        # docs/original_code.md). w = (1, 2, 4, 8), T = {1, 2, 3}, ranking 0, 1, 2, 3
        # (nothing masked).
        scores = jnp.array([[4.0, 3.0, 2.0, 1.0]])
        targets = jnp.array([[0, 1, 1, 1]])
        weights = jnp.array([1.0, 2.0, 4.0, 8.0])
        # k = 2: hits {1}, m = 2, ideal = 8 + 4.
        norm = metrics.psp_at_k(
            scores, targets, None, weights, k=2, inf_ae_compat=False
        )
        compat = metrics.psp_at_k(scores, targets, None, weights, k=2)
        np.testing.assert_allclose(norm, [2 / 12], rtol=RTOL)
        np.testing.assert_allclose(compat, [(2 / 2) / 12], rtol=RTOL)
        # k = 4: hits {1, 2, 3}, m = 3, ideal = 14: normalised PSP is 1, quirk 1/3.
        norm = metrics.psp_at_k(
            scores, targets, None, weights, k=4, inf_ae_compat=False
        )
        compat = metrics.psp_at_k(scores, targets, None, weights, k=4)
        np.testing.assert_allclose(norm, [1.0], rtol=RTOL)
        np.testing.assert_allclose(compat, [1 / 3], rtol=RTOL)

    def test_psp_compat_is_normalised_over_m(self):
        scores, targets, mask, weights = _random_case(11)
        out = _jitted_ranking_metrics(scores, targets, mask, ks=KS, weights=weights)
        num_targets = targets.sum(1)
        for k in KS:
            cutoff = np.minimum(num_targets, k).astype(np.float64)
            with np.errstate(invalid="ignore", divide="ignore"):
                expected = np.asarray(out[f"psp_norm@{k}"]) / cutoff
            np.testing.assert_allclose(out[f"psp@{k}"], expected, rtol=RTOL)
            self.assertTrue(
                np.all(np.asarray(out[f"psp_norm@{k}"])[num_targets > 0] <= 1 + ATOL)
            )

    def test_psp_weights_formula(self):
        counts = np.array([0, 1, 5, 100, 2500], np.float64)
        total = 10_000.0
        c = (np.log(total) - 1) * np.power(2.5, 0.55)
        expected = 1.0 + c * np.power(counts + 1.5, -0.55)
        np.testing.assert_allclose(
            metrics.psp_weights(counts, total), expected, rtol=RTOL
        )
        np.testing.assert_allclose(
            metrics.psp_weights(counts),
            metrics.psp_weights(counts, counts.sum()),
            rtol=RTOL,
        )
        self.assertTrue(np.all(np.diff(np.asarray(metrics.psp_weights(counts))) < 0))


class EdgeCaseTest(parameterized.TestCase):
    def test_no_positives_is_nan(self):
        scores = jnp.array([[1.0, 2.0, 3.0]])
        out = metrics.ranking_metrics(
            scores, jnp.zeros((1, 3)), ks=(1, 2), weights=jnp.ones(3)
        )
        for value in out.values():
            self.assertTrue(np.isnan(value[0]))

    def test_everything_masked_gives_zero(self):
        scores = jnp.array([[1.0, 2.0, 3.0]])
        targets = jnp.array([[0, 1, 1]])
        mask = jnp.ones((1, 3), bool)
        out = metrics.ranking_metrics(
            scores, targets, mask, ks=(1, 3), weights=jnp.ones(3)
        )
        for key, value in out.items():
            self.assertEqual(float(value[0]), 0.0, key)

    @parameterized.parameters(4, 5, 9)
    def test_k_at_least_number_of_items(self, k):
        scores = jnp.array([[0.1, 0.4, 0.3, 0.2]])
        targets = jnp.array([[1, 0, 1, 0]])
        out = metrics.ranking_metrics(scores, targets, ks=(k,))
        np.testing.assert_allclose(out[f"hr@{k}"], [1.0])
        np.testing.assert_allclose(out[f"recall@{k}"], [1.0])
        np.testing.assert_allclose(out[f"precision@{k}"], [2 / k], rtol=RTOL)
        # Ranking 1, 2, 3, 0: hits at ranks 2 and 4.
        dcg = 1 / math.log2(3) + 1 / math.log2(5)
        idcg = 1 + 1 / math.log2(3)
        np.testing.assert_allclose(out[f"ndcg@{k}"], [dcg / idcg], rtol=RTOL)

    def test_k_larger_than_unmasked_items_never_hits_masked(self):
        # Two unmasked items; k = 4 pulls masked items into the list, one of them a
        # target: it must not count.
        scores = jnp.array([[5.0, 4.0, 3.0, 2.0]])
        mask = jnp.array([[1, 1, 0, 0]], bool)
        targets = jnp.array([[1, 0, 0, 1]])
        out = metrics.ranking_metrics(scores, targets, mask, ks=(4,))
        np.testing.assert_allclose(out["hr@4"], [1 / 2])
        np.testing.assert_allclose(out["mrr@4"], [1 / 2])

    def test_masked_item_with_top_score_is_skipped(self):
        scores = jnp.array([[10.0, 1.0, 2.0]])
        mask = jnp.array([[1, 0, 0]], bool)
        targets = jnp.array([[0, 1, 0]])
        np.testing.assert_allclose(
            metrics.mrr_at_k(scores, targets, mask, k=3), [1 / 2]
        )

    def test_shape_errors(self):
        with self.assertRaisesRegex(ValueError, "targets"):
            metrics.ranking_metrics(jnp.zeros((2, 3)), jnp.zeros((2, 4)))
        with self.assertRaisesRegex(ValueError, "mask"):
            metrics.ranking_metrics(
                jnp.zeros((2, 3)), jnp.zeros((2, 3)), jnp.zeros((3, 3))
            )
        with self.assertRaisesRegex(ValueError, "weights"):
            metrics.ranking_metrics(
                jnp.zeros((2, 3)), jnp.zeros((2, 3)), weights=jnp.ones(4)
            )
        with self.assertRaisesRegex(ValueError, "cut-offs"):
            metrics.ranking_metrics(jnp.zeros((2, 3)), jnp.zeros((2, 3)), ks=(0,))


class AucTest(parameterized.TestCase):
    @parameterized.product(seed=[0, 1], jit=[False, True])
    def test_user_auc_all_items_vs_brute_force(self, seed, jit):
        rng = np.random.default_rng(seed)
        scores = rng.integers(0, 6, (9, 25)).astype(np.float32)  # many ties
        mask = rng.random((9, 25)) < 0.3
        targets = (rng.random((9, 25)) < 0.2) & ~mask
        targets[0] = False
        mask[1] = ~targets[1]  # no negatives left
        fn = jax.jit(metrics.user_auc) if jit else metrics.user_auc
        out = np.asarray(fn(scores, targets, mask))
        for u in range(9):
            pos = scores[u][targets[u]]
            neg = scores[u][~targets[u] & ~mask[u]]
            expected = _brute_auc(pos, neg)
            if np.isnan(expected):
                self.assertTrue(np.isnan(out[u]), u)
            else:
                np.testing.assert_allclose(out[u], expected, rtol=RTOL, err_msg=str(u))

    @parameterized.parameters(False, True)
    def test_user_auc_sampled_negatives_and_paired_auc(self, jit):
        rng = np.random.default_rng(3)
        scores = rng.integers(0, 5, (7, 30)).astype(np.float32)
        targets = rng.random((7, 30)) < 0.2
        targets[2] = False
        negatives = np.stack(
            [rng.choice(np.flatnonzero(~t), 6, replace=False) for t in targets]
        )
        negatives[1, 3:] = -1  # padding
        negatives[4] = -1  # no negatives at all
        fn = jax.jit(metrics.user_auc) if jit else metrics.user_auc
        out = np.asarray(fn(scores, targets, negatives=negatives))
        # The same pairs through paired_auc (gathered, padded) and grouped_auc.
        width = int(targets.sum(1).max())
        positives = np.full((7, width), -1)
        for u in range(7):
            items = np.flatnonzero(targets[u])
            positives[u, : items.size] = items
        pos_scores = np.take_along_axis(scores, np.maximum(positives, 0), 1)
        neg_scores = np.take_along_axis(scores, np.maximum(negatives, 0), 1)
        paired = np.asarray(
            metrics.paired_auc(
                pos_scores,
                neg_scores,
                pos_valid=positives >= 0,
                neg_valid=negatives >= 0,
            )
        )
        pooled_scores = np.concatenate([pos_scores, neg_scores], 1)
        labels = np.concatenate([np.ones_like(positives), np.zeros_like(negatives)], 1)
        valid = np.concatenate([positives >= 0, negatives >= 0], 1)
        groups = np.broadcast_to(np.arange(7)[:, None], valid.shape)
        grouped = metrics.grouped_auc(
            pooled_scores[valid], labels[valid], groups[valid], num_groups=7
        )
        for u in range(7):
            neg = scores[u][negatives[u][negatives[u] >= 0]]
            expected = _brute_auc(scores[u][targets[u]], neg)
            for name, got in (("user", out), ("paired", paired), ("grouped", grouped)):
                if np.isnan(expected):
                    self.assertTrue(np.isnan(got[u]), (name, u))
                else:
                    np.testing.assert_allclose(
                        got[u], expected, rtol=RTOL, err_msg=name
                    )

    @parameterized.parameters(0, 1, 2)
    def test_global_auc_vs_pair_count(self, seed):
        rng = np.random.default_rng(seed)
        scores = rng.integers(0, 8, 120).astype(np.float64)  # heavy ties
        labels = rng.random(120) < 0.3
        pos, neg = scores[labels], scores[~labels]
        self.assertAlmostEqual(
            metrics.global_auc(scores, labels), _brute_auc(pos, neg), places=12
        )
        # "original": a tied pair counts iff the negative comes first in the input.
        index = np.arange(120)
        wins = sum(
            (scores[p] > scores[n]) or (scores[p] == scores[n] and n < p)
            for p in index[labels]
            for n in index[~labels]
        )
        self.assertAlmostEqual(
            metrics.global_auc(scores, labels, ties="original"),
            wins / (labels.sum() * (~labels).sum()),
            places=12,
        )

    def test_global_auc_modes_agree_without_ties(self):
        rng = np.random.default_rng(4)
        scores = rng.standard_normal(500)
        labels = rng.random(500) < 0.2
        self.assertAlmostEqual(
            metrics.global_auc(scores, labels),
            metrics.global_auc(scores, labels, ties="original"),
            places=12,
        )

    def test_global_auc_original_loop(self):
        # The ∞-AE fast_auc loop on tie-free scores.
        rng = np.random.default_rng(5)
        scores = rng.standard_normal(300)
        labels = (rng.random(300) < 0.4).astype(np.float64)
        y = labels[np.argsort(scores)]
        nfalse = auc = 0.0
        for value in y:
            nfalse += 1 - value
            auc += value * nfalse
        expected = auc / (nfalse * (len(y) - nfalse))
        self.assertAlmostEqual(
            metrics.global_auc(scores, labels, ties="original"), expected, places=12
        )

    def test_global_auc_degenerate(self):
        self.assertTrue(np.isnan(metrics.global_auc([1.0, 2.0], [1, 1])))
        with self.assertRaisesRegex(ValueError, "ties"):
            metrics.global_auc([1.0], [1], ties="average")


class SampleNegativesTest(parameterized.TestCase):
    @parameterized.parameters(1, 4)  # chunk of 1 user and several users per chunk
    def test_negatives_are_valid(self, chunk_users):
        rng = np.random.default_rng(0)
        num_users, num_items = 30, 80
        train = sp.csr_matrix(
            rng.random((num_users, num_items)) < 0.3, dtype=np.float32
        )
        test = sp.csr_matrix(
            (rng.random((num_users, num_items)) < 0.1) & (train.toarray() == 0),
            dtype=np.float32,
        )
        dense = train.toarray() + test.toarray()
        dense[5, :-3] = 1  # only 3 candidates: padded with -1
        dense[6] = 1  # no candidates
        train = sp.csr_matrix(dense > 0, dtype=np.float32)
        negatives = metrics.sample_auc_negatives(
            train, test, num=10, rng=np.random.default_rng(1), chunk_users=chunk_users
        )
        self.assertEqual(negatives.shape, (num_users, 10))
        self.assertEqual(negatives.dtype, np.int32)
        seen = (train + test).toarray() > 0
        for u in range(num_users):
            row = negatives[u][negatives[u] >= 0]
            self.assertEqual(len(set(row.tolist())), row.size)
            self.assertFalse(seen[u, row].any())
            self.assertEqual(row.size, min(10, int((~seen[u]).sum())))
            self.assertTrue(np.all(negatives[u][row.size :] == -1))
        np.testing.assert_array_equal(
            negatives,
            metrics.sample_auc_negatives(
                train,
                test,
                num=10,
                rng=np.random.default_rng(1),
                chunk_users=chunk_users,
            ),
        )

    def test_uniform_over_candidates(self):
        train = sp.csr_matrix(np.eye(1, 12, dtype=np.float32))
        test = sp.csr_matrix(np.eye(1, 12, 1, dtype=np.float32))
        counts = np.zeros(12)
        rng = np.random.default_rng(2)
        for _ in range(300):
            counts[metrics.sample_auc_negatives(train, test, num=5, rng=rng)[0]] += 1
        self.assertEqual(counts[0] + counts[1], 0)
        # Each of the 10 candidates is drawn with probability 1/2: 150 ± ~4.3 sd.
        self.assertTrue(np.all(np.abs(counts[2:] - 150) < 40), counts)


if __name__ == "__main__":
    absltest.main()
