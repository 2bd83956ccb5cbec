"""Tests for `infinite_ae.streaming`: tile planning and streamed == batched evaluation.

Tolerances (float32): streamed metrics vs `evaluation.evaluate` relative 1e-5 (per
tile the metrics are summed on the device in float32 instead of per user on the
host); AUCs 1e-6 absolute (the same gathered scores).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from absl.testing import absltest, parameterized

from infinite_ae import evaluation, kernels, metrics, streaming
from infinite_ae.data import make_synthetic
from infinite_ae.models.infinite_ae import InfiniteAE

METRIC_RTOL = 1e-5
AUC_ATOL = 1e-6
SCORE_RTOL = 1e-5


def _data():
    return make_synthetic(500, 240, mean_degree=18, seed=7)


def _assert_metrics_close(test, got, ref):
    for key, value in ref.items():
        if key in ("auc", "user_auc"):
            test.assertAlmostEqual(got[key], value, delta=AUC_ATOL, msg=key)
        else:
            test.assertLessEqual(
                abs(got[key] - value), METRIC_RTOL * max(1.0, abs(value)), msg=key
            )


class PlanTilesTest(parameterized.TestCase):
    @parameterized.parameters(
        (10_000, 1_000, 3_000_000, 0, 1),
        (480_189, 408_000, 1 << 30, 73_080_000, 8),
        (7, 100, 10_000, 0, 4),
        (1_000, 10, 1 << 30, 0, 3),
    )
    def test_fits_budget_and_covers_rows(self, rows, row_bytes, budget, fixed, mult):
        plan = streaming.plan_tiles(
            rows, row_bytes, budget, fixed_bytes=fixed, multiple_of=mult
        )
        self.assertEqual(plan.tile_size % mult, 0)
        self.assertLessEqual(plan.peak_bytes, budget)
        self.assertGreaterEqual(plan.padded_rows, rows)
        # Balanced: padding is less than one multiple per tile.
        self.assertLess(plan.padded_rows - rows, plan.num_tiles * mult)
        covered = sum(stop - start for start, stop in plan.slices())
        self.assertEqual(covered, rows)

    def test_too_small_budget_raises_with_minimum(self):
        with self.assertRaisesRegex(ValueError, "needs at least"):
            streaming.plan_tiles(100, 1 << 20, 1 << 20, fixed_bytes=1 << 19)

    def test_max_tile(self):
        plan = streaming.plan_tiles(1000, 1, 1 << 30, max_tile=128, multiple_of=8)
        self.assertLessEqual(plan.tile_size, 128)

    def test_netflix_row_estimate(self):
        # 17,770 items, 500 support users: ≈ 0.41 MB per user, ≈ 2,400 per GiB.
        plan = streaming.plan_tiles(
            480_189,
            streaming.evaluation_row_bytes(17_770, 500),
            1 << 30,
            fixed_bytes=streaming.support_bytes(500, 17_770),
        )
        self.assertBetween(plan.tile_size, 2_000, 2_700)


class StreamedEvaluationTest(parameterized.TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.data = _data()
        cls.spec = kernels.KernelSpec()
        rng = np.random.default_rng(0)
        rows = np.sort(rng.choice(cls.data.num_users, 60, replace=False))
        cls.params = streaming.fit_support(cls.spec, cls.data.train[rows], 5.0)
        cls.score = staticmethod(streaming.krr_score_fn(cls.spec))
        cls.negatives = metrics.sample_auc_negatives(
            cls.data.train, cls.data.test, num=20, rng=np.random.default_rng(1)
        )

    def _reference(self, **kwargs):
        return evaluation.evaluate(
            lambda q, u: self.score(self.params, q), self.data, **kwargs
        )

    @parameterized.product(split=("val", "test"), tile_size=(64, 100, 500))
    def test_matches_evaluate(self, split, tile_size):
        ref = self._reference(split=split, batch_size=128, negatives=self.negatives)
        got = streaming.evaluate_streamed(
            self.score,
            self.params,
            self.data,
            split=split,
            tile_size=tile_size,
            negatives=self.negatives,
        )
        _assert_metrics_close(self, got, ref)
        self.assertEqual(got["num_tiles"], -(-self.data.num_users // tile_size))

    def test_budget_planned_tiles_match(self):
        ref = self._reference(split="test")
        got = streaming.evaluate_streamed(
            self.score, self.params, self.data, split="test", budget_bytes=2_000_000
        )
        self.assertGreater(got["num_tiles"], 1)
        _assert_metrics_close(self, got, ref)

    def test_user_subset_and_evaluated_average(self):
        users = np.arange(3, 400, 7)
        ref = self._reference(split="val", users=users, average="evaluated", psp=False)
        got = streaming.evaluate_streamed(
            self.score,
            self.params,
            self.data,
            split="val",
            users=users,
            average="evaluated",
            psp=False,
            tile_size=16,
        )
        _assert_metrics_close(self, got, ref)

    def test_scores_match_infinite_ae_model(self):
        support = self.data.train[:60].toarray()
        model = InfiniteAE(reg=5.0).fit(support)
        params = streaming.fit_support(self.spec, support, 5.0)
        queries = self.data.train[100:140].toarray()
        np.testing.assert_allclose(
            np.asarray(self.score(params, jnp.asarray(queries))),
            np.asarray(model.predict(queries)),
            rtol=SCORE_RTOL,
            atol=SCORE_RTOL * 1e-2,
        )

    def test_nan_scores_raise(self):
        def nan_score(params, rows):
            del params
            return jnp.full(rows.shape, jnp.nan)

        with self.assertRaisesRegex(ValueError, "NaN"):
            streaming.evaluate_streamed(nan_score, {}, self.data, tile_size=128)


if __name__ == "__main__":
    absltest.main()
