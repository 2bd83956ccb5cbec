"""Tests for infinite_ae.evaluation: protocol vs a slow per-user loop, batching."""

import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.sparse as sp
from absl.testing import absltest, parameterized

from infinite_ae import evaluation, metrics, sharding, solver

RTOL = 1e-5
ATOL = 1e-4  # metrics are ×100
KS = (1, 5, 10)
NUM_USERS, NUM_ITEMS = 23, 31


def _tiny_data(seed=0):
    """Disjoint random train/val/test; user 0 has no val items, user 1 no test."""
    rng = np.random.default_rng(seed)
    split = rng.choice(4, size=(NUM_USERS, NUM_ITEMS), p=[0.55, 0.25, 0.1, 0.1])
    split[0][split[0] == 2] = 0
    split[1][split[1] == 3] = 0
    split[2] = 0  # no interactions at all

    def csr(value):
        return sp.csr_matrix((split == value).astype(np.float32))

    data = types.SimpleNamespace(train=csr(1), val=csr(2), test=csr(3))
    data.item_counts = np.asarray(data.train.sum(0)).ravel().astype(np.float64)
    return data


_ITEM_MIX = np.random.default_rng(42).standard_normal((NUM_ITEMS, NUM_ITEMS))
_USER_BIAS = np.random.default_rng(43).standard_normal((NUM_USERS, NUM_ITEMS))


def _score_fn(query_rows, users):
    """Tie-free scores that depend on the query rows and the user ids."""
    mix = jnp.asarray(_ITEM_MIX, jnp.float32)
    bias = jnp.asarray(_USER_BIAS, jnp.float32)[users]
    return query_rows @ mix + 0.1 * bias


def _reference(data, split, negatives, ks, average):
    """Per-user loop in the style of the ∞-AE `eval.py` (×100, sets)."""
    train = data.train.toarray() > 0
    val = data.val.toarray() > 0
    test = data.test.toarray() > 0
    query = train if split == "val" else train | val
    targets = val if split == "val" else test
    weights = np.asarray(metrics.psp_weights(data.item_counts), np.float64)
    scores = np.asarray(
        _score_fn(jnp.asarray(query, jnp.float32), np.arange(NUM_USERS))
    )
    sums = {
        f"{n}@{k}": 0.0
        for n in metrics.RANKING_METRICS + metrics.PSP_METRICS
        for k in ks
    }
    pooled_pos, pooled_neg, user_aucs, evaluated = [], [], [], 0
    for u in range(NUM_USERS):
        positives = set(np.flatnonzero(targets[u]).tolist())
        if not positives:
            continue
        evaluated += 1
        pos_scores = scores[u, sorted(positives)]
        neg_scores = scores[u, negatives[u][negatives[u] >= 0]]
        pooled_pos += pos_scores.tolist()
        pooled_neg += neg_scores.tolist()
        user_aucs.append(
            np.mean([(p > n) + 0.5 * (p == n) for p in pos_scores for n in neg_scores])
        )
        masked = np.where(query[u], -np.inf, scores[u])
        ranked = np.argsort(-masked, kind="stable")
        for k in ks:
            top = ranked[:k].tolist()
            hits = [i in positives for i in top]
            m = min(len(positives), k)
            dcg = sum(1 / np.log2(j + 2) for j, h in enumerate(hits) if h)
            idcg = sum(1 / np.log2(j + 2) for j in range(m))
            gain = sum(weights[i] for i, h in zip(top, hits, strict=True) if h)
            ideal = sum(sorted(weights[list(positives)], reverse=True)[:m])
            first = [j for j, h in enumerate(hits) if h]
            sums[f"hr@{k}"] += sum(hits) / m
            sums[f"recall@{k}"] += sum(hits) / len(positives)
            sums[f"hit@{k}"] += float(any(hits))
            sums[f"precision@{k}"] += sum(hits) / k
            sums[f"ndcg@{k}"] += dcg / idcg
            sums[f"mrr@{k}"] += 1 / (first[0] + 1) if first else 0.0
            sums[f"psp@{k}"] += gain / m / ideal
            sums[f"psp_norm@{k}"] += gain / ideal
    denominator = NUM_USERS if average == "all" else evaluated
    out = {key: 100.0 * value / denominator for key, value in sums.items()}
    out["auc"] = np.mean(
        [(p > n) + 0.5 * (p == n) for p in pooled_pos for n in pooled_neg]
    )
    out["user_auc"] = np.mean(user_aucs)
    out["num_users_evaluated"] = evaluated
    out["num_users_skipped_empty"] = NUM_USERS - evaluated
    return out


def _negatives(data):
    return metrics.sample_auc_negatives(
        data.train, data.test, num=6, rng=np.random.default_rng(0)
    )


class EvaluateTest(parameterized.TestCase):
    @parameterized.product(split=["val", "test"], average=["all", "evaluated"])
    def test_matches_per_user_loop(self, split, average):
        data = _tiny_data()
        negatives = _negatives(data)
        out = evaluation.evaluate(
            _score_fn, data, split=split, ks=KS, batch_size=8, negatives=negatives,
            average=average,
        )  # fmt: skip
        expected = _reference(data, split, negatives, KS, average)
        self.assertEqual(out["num_users"], NUM_USERS)
        for key, value in expected.items():
            np.testing.assert_allclose(
                out[key], value, rtol=RTOL, atol=ATOL, err_msg=key
            )
        self.assertEqual(set(out), set(expected) | {"num_users"})

    def test_skipped_users_counted(self):
        data = _tiny_data()
        val = evaluation.evaluate(_score_fn, data, split="val", ks=KS, psp=False)
        test = evaluation.evaluate(_score_fn, data, split="test", ks=KS, psp=False)
        empty_val = np.flatnonzero(data.val.getnnz(axis=1) == 0)
        empty_test = np.flatnonzero(data.test.getnnz(axis=1) == 0)
        self.assertContainsSubset({0, 2}, set(empty_val.tolist()))
        self.assertContainsSubset({1, 2}, set(empty_test.tolist()))
        self.assertEqual(val["num_users_skipped_empty"], empty_val.size)
        self.assertEqual(test["num_users_skipped_empty"], empty_test.size)
        self.assertEqual(val["num_users_evaluated"], NUM_USERS - empty_val.size)
        self.assertNotIn("psp@1", val)
        self.assertNotIn("auc", val)

    def test_batching_invariance_and_single_compile(self):
        data = _tiny_data(1)
        negatives = _negatives(data)
        results, per_users = [], []
        for batch_size in (1, 7, NUM_USERS, 100):
            before = evaluation._trace_count
            out, per_user = evaluation.evaluate(
                _score_fn, data, split="test", ks=KS, batch_size=batch_size,
                negatives=negatives, return_per_user=True,
            )  # fmt: skip
            # One trace per batch shape at most, never one per batch.
            self.assertLessEqual(evaluation._trace_count - before, 1, batch_size)
            results.append(out)
            per_users.append(per_user)
        for out, per_user in zip(results[1:], per_users[1:], strict=True):
            for key, value in results[0].items():
                np.testing.assert_allclose(
                    out[key], value, rtol=RTOL, atol=ATOL, err_msg=key
                )
            for key, value in per_users[0].items():
                np.testing.assert_allclose(
                    per_user[key], value, rtol=RTOL, atol=ATOL, err_msg=key
                )
        # A second identical evaluation does not trace again.
        before = evaluation._trace_count
        evaluation.evaluate(
            _score_fn, data, split="test", ks=KS, batch_size=7, negatives=negatives
        )
        self.assertEqual(evaluation._trace_count, before)

    def test_score_fn_sees_constant_batch_shape(self):
        data = _tiny_data()
        seen = []

        def score_fn(query_rows, users):
            self.assertIsInstance(query_rows, jax.Array)
            self.assertEqual(query_rows.dtype, jnp.float32)
            self.assertIsInstance(users, np.ndarray)
            seen.append((query_rows.shape, users.shape))
            return _score_fn(query_rows, users)

        evaluation.evaluate(score_fn, data, split="val", ks=KS, batch_size=10)
        self.assertEqual(seen, [((10, NUM_ITEMS), (10,))] * 3)

    def test_query_rows_follow_protocol(self):
        data = _tiny_data()
        for split, expected in (("val", data.train), ("test", data.train + data.val)):
            captured = []

            def score_fn(query_rows, users, captured=captured):
                captured.append((np.asarray(query_rows), users.copy()))
                return _score_fn(query_rows, users)

            evaluation.evaluate(
                score_fn, data, split=split, ks=KS, batch_size=NUM_USERS
            )
            rows, users = captured[0]
            np.testing.assert_array_equal(users, np.arange(NUM_USERS))
            np.testing.assert_array_equal(rows, expected.toarray())

    def test_mask_train_ranks_validation_items_at_test(self):
        # mask="train" (RecBole / DConRec): at the test split the query and mask are
        # the training rows only, so a validation item competes with the test items.
        data = _tiny_data()
        captured = []

        def score_fn(query_rows, users):
            captured.append(np.asarray(query_rows))
            # Validation items score highest, then test items, then the rest.
            return jnp.asarray(
                data.val.toarray()[users] * 2.0 + data.test.toarray()[users],
                jnp.float32,
            )

        kwargs = dict(split="test", ks=(1,), batch_size=NUM_USERS, psp=False)
        masked = evaluation.evaluate(score_fn, data, **kwargs)
        rankable = evaluation.evaluate(score_fn, data, mask="train", **kwargs)
        np.testing.assert_array_equal(captured[1], data.train.toarray())
        test = data.test.toarray() > 0
        has_val = (data.val.toarray() > 0).any(1)
        # With train + val masked every user with test items hits at rank 1; with
        # train only, users with validation items rank one of those first.
        evaluated = test.any(1)
        self.assertAlmostEqual(
            masked["hit@1"], 100.0 * evaluated.sum() / NUM_USERS, places=4
        )
        self.assertAlmostEqual(
            rankable["hit@1"],
            100.0 * (evaluated & ~has_val).sum() / NUM_USERS,
            places=4,
        )
        with self.assertRaisesRegex(ValueError, "mask"):
            evaluation.evaluate(score_fn, data, mask="all", **kwargs)

    def test_mask_none_leaves_seen_items_rankable(self):
        # Seen items score highest: masked they never count; unmasked they fill the
        # top of the list and can never be hits (held-out items are unseen).
        data = _tiny_data()

        def seen_first(query_rows, users):
            return query_rows * 10.0 + jnp.asarray(_USER_BIAS, jnp.float32)[users]

        kwargs = dict(split="test", ks=(1, 5), batch_size=NUM_USERS, psp=False)
        masked = evaluation.evaluate(seen_first, data, **kwargs)
        unmasked = evaluation.evaluate(seen_first, data, mask="none", **kwargs)
        self.assertGreater(masked["hit@5"], 0.0)
        self.assertEqual(unmasked["hit@1"], 0.0)  # every user has seen items
        params = {"mix": jnp.eye(NUM_ITEMS) * 10.0}
        fused = evaluation.evaluate(
            _pure_score, data, params=params, mask="none", **kwargs
        )
        self.assertEqual(fused["hit@1"], 0.0)

    def test_per_user_output_reproduces_averages(self):
        data = _tiny_data()
        negatives = _negatives(data)
        for average in ("all", "evaluated"):
            out, per_user = evaluation.evaluate(
                _score_fn, data, ks=KS, negatives=negatives, average=average,
                return_per_user=True,
            )  # fmt: skip
            valid = per_user["num_targets"] > 0
            for key in ("hr@5", "ndcg@10", "psp@1", "mrr@5"):
                values = per_user[key]
                self.assertTrue(np.all(np.isnan(values[~valid])))
                if average == "all":
                    expected = np.nansum(values) / NUM_USERS
                else:
                    expected = np.mean(values[valid])
                np.testing.assert_allclose(out[key], expected, rtol=RTOL)
            np.testing.assert_allclose(
                out["user_auc"], np.nanmean(per_user["user_auc"]), rtol=RTOL
            )

    def test_users_subset(self):
        data = _tiny_data()
        users = np.array([5, 3, 17, 1])
        out, per_user = evaluation.evaluate(
            _score_fn, data, ks=KS, users=users, return_per_user=True
        )
        _, full = evaluation.evaluate(_score_fn, data, ks=KS, return_per_user=True)
        np.testing.assert_array_equal(per_user["users"], users)
        np.testing.assert_allclose(per_user["ndcg@5"], full["ndcg@5"][users], rtol=RTOL)
        self.assertEqual(out["num_users"], 4)
        empty = int(np.sum(data.test.getnnz(axis=1)[users] == 0))
        self.assertGreaterEqual(empty, 1)  # user 1 has no test items
        self.assertEqual(out["num_users_skipped_empty"], empty)

    def test_evaluate_scores_matches_evaluate(self):
        data = _tiny_data()
        negatives = _negatives(data)
        query = (data.train + data.val).toarray()
        scores = np.asarray(
            _score_fn(jnp.asarray(query, jnp.float32), np.arange(NUM_USERS))
        )
        expected = evaluation.evaluate(
            _score_fn, data, ks=KS, negatives=negatives, batch_size=9
        )
        weights = metrics.psp_weights(data.item_counts)
        for score_array, mask in (
            (scores, query),
            (jnp.asarray(scores), sp.csr_matrix(query)),
        ):
            out = evaluation.evaluate_scores(
                score_array, data.test, mask, ks=KS, weights=weights,
                negatives=negatives, batch_size=9,
            )  # fmt: skip
            for key, value in expected.items():
                np.testing.assert_allclose(
                    out[key], value, rtol=RTOL, atol=ATOL, err_msg=key
                )

    def test_batch_metrics_unjitted_equals_jitted(self):
        data = _tiny_data()
        rows = np.arange(NUM_USERS)
        query = jnp.asarray(data.train.toarray())
        targets = jnp.asarray(data.val.toarray())
        scores = _score_fn(query, rows)
        eager = evaluation.batch_metrics(scores, targets, query, ks=KS)
        jitted = jax.jit(evaluation.batch_metrics, static_argnames="ks")(
            scores, targets, query, ks=KS
        )
        for key, value in eager.items():
            np.testing.assert_allclose(
                jitted[key], value, rtol=RTOL, atol=1e-6, err_msg=key
            )

    def test_pooled_auc_original_ties(self):
        # Popularity-style scores: the same item scores the same for every user, so
        # pooled pairs tie across users and the two tie modes differ.
        data = _tiny_data()
        negatives = _negatives(data)
        popularity = lambda q, u: jnp.tile(
            jnp.asarray(data.item_counts, jnp.float32), (q.shape[0], 1)
        )
        half = evaluation.evaluate(popularity, data, ks=KS, negatives=negatives)
        original = evaluation.evaluate(
            popularity, data, ks=KS, negatives=negatives, auc_ties="original"
        )
        self.assertNotAlmostEqual(half["auc"], original["auc"], places=6)
        self.assertEqual(half["hr@5"], original["hr@5"])

    def test_errors(self):
        data = _tiny_data()
        with self.assertRaisesRegex(ValueError, "split"):
            evaluation.evaluate(_score_fn, data, split="train")
        with self.assertRaisesRegex(ValueError, "average"):
            evaluation.evaluate(_score_fn, data, average="mean")
        with self.assertRaisesRegex(solver.NonFiniteError, "23 users are not finite"):
            evaluation.evaluate(lambda q, u: q * jnp.nan, data, ks=KS, psp=False)
        for bad in (jnp.nan, jnp.inf, -jnp.inf):
            one_bad = lambda q, u, bad=bad: _score_fn(q, u).at[3, 7].set(bad)
            with self.assertRaisesRegex(
                ValueError, r"1 users are not finite .*first user index 3.*ridge"
            ):
                evaluation.evaluate(
                    one_bad, data, ks=KS, psp=False, batch_size=NUM_USERS
                )
        with self.assertRaisesRegex(ValueError, "scores must be"):
            evaluation.evaluate(lambda q, u: q[:, :3], data, ks=KS)
        with self.assertRaisesRegex(ValueError, "negatives"):
            evaluation.evaluate(
                _score_fn, data, ks=KS, negatives=np.zeros((3, 2), np.int32)
            )


def _pure_score(params, query_rows):
    """A pure scorer (no user ids): query rows times an item mixing matrix."""
    return query_rows @ params["mix"]


def _stored_zero_data():
    """_tiny_data with an explicitly stored zero in user 2's empty test row."""
    data = _tiny_data(3)
    test = data.test.tocoo()
    rows = np.concatenate([test.row, [2]])
    cols = np.concatenate([test.col, [4]])
    vals = np.concatenate([test.data, [0.0]]).astype(np.float32)
    data.test = sp.csr_matrix((vals, (rows, cols)), shape=test.shape)
    assert data.test.nnz == test.nnz + 1  # the zero is stored
    return data


@pytest.mark.slow  # every evaluation mode compiled: about 6 s
class ModesAgreeTest(parameterized.TestCase):
    """Batched, budget-tiled, sharded and fused runs give identical metrics."""

    @parameterized.parameters("val", "test")
    def test_all_modes_identical(self, split):
        data = _stored_zero_data()
        negatives = _negatives(data)
        params = {"mix": jnp.asarray(_ITEM_MIX, jnp.float32)}
        host = lambda q, u: _pure_score(params, q)
        common = dict(split=split, ks=KS, negatives=negatives)
        reference = evaluation.evaluate(host, data, batch_size=NUM_USERS, **common)
        # User 2's test row holds only a stored zero: it has no held-out items.
        matrix = getattr(data, split)
        empty = int(np.sum(np.asarray((matrix != 0).sum(axis=1)).ravel() == 0))
        self.assertEqual(reference["num_users_skipped_empty"], empty)
        self.assertEqual(data.test.getnnz(axis=1)[2], 1)
        runs = {
            "batch": evaluation.evaluate(host, data, batch_size=5, **common),
            "fused": evaluation.evaluate(
                _pure_score, data, params=params, batch_size=6, **common
            ),
            "budget": evaluation.evaluate(
                _pure_score, data, params=params, budget_bytes=10_000, **common
            ),
        }
        for devices in sorted({2, len(jax.devices())}):
            mesh = sharding.make_user_mesh(devices)
            runs[f"mesh{devices}"] = evaluation.evaluate(
                _pure_score, data, params=params, mesh=mesh, batch_size=6, **common
            )
            runs[f"mesh{devices}_host"] = evaluation.evaluate(
                host, data, mesh=mesh, batch_size=6, **common
            )
        for name, out in runs.items():
            self.assertEqual(set(out), set(reference), name)
            for key, value in reference.items():
                np.testing.assert_allclose(
                    out[key], value, rtol=1e-6, atol=1e-6, err_msg=f"{name} {key}"
                )

    def test_budget_plans_several_batches(self):
        data = _tiny_data()
        params = {"mix": jnp.asarray(_ITEM_MIX, jnp.float32)}
        seen = []

        def scorer(p, q):
            seen.append(q.shape[0])
            return _pure_score(p, q)

        evaluation.evaluate(
            scorer, data, params=params, budget_bytes=10_000, ks=KS, psp=False
        )
        self.assertLess(seen[0], NUM_USERS)
        with self.assertRaisesRegex(ValueError, "not both"):
            evaluation.evaluate(
                _score_fn, data, batch_size=4, budget_bytes=10_000, ks=KS
            )
        with self.assertRaisesRegex(ValueError, "too small"):
            evaluation.evaluate(
                _pure_score, data, params=params, budget_bytes=10, ks=KS
            )


if __name__ == "__main__":
    absltest.main()
