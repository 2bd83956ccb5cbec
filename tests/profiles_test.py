"""Tests for `infinite_ae.data.profiles`: Netflix-shaped targets and `shape_like`.

Target statistics are exact for the target degrees (deterministic quantiles); the
realised item counts of a generated dataset only follow the weights in rank
(Spearman ≥ 0.8), because a user holds an item at most once.
"""

from __future__ import annotations

import numpy as np
from absl.testing import absltest
from scipy import stats

from infinite_ae.data import make_synthetic, profiles


class NetflixShapeTest(absltest.TestCase):
    def test_full_netflix_targets(self):
        shape = profiles.netflix_shape()
        self.assertEqual((shape.num_users, shape.num_items), (480_189, 17_770))
        self.assertEqual(shape.num_interactions, 100_480_507)
        users = profiles.degree_stats(shape.user_degrees)
        self.assertAlmostEqual(users["mean"], 209.25, delta=0.01)
        self.assertEqual(users["median"], 96)
        self.assertEqual(users["min"], 1)
        self.assertEqual(users["max"], 17_653)
        items = profiles.degree_stats(shape.item_weights)
        self.assertAlmostEqual(items["mean"], 5_654.5, delta=0.5)
        self.assertAlmostEqual(items["median"], 561, delta=1)
        self.assertEqual(items["min"], 3)
        self.assertEqual(items["max"], 232_944)

    def test_fewer_users_keeps_distribution(self):
        shape = profiles.netflix_shape(num_users=48_019)
        self.assertEqual(shape.num_interactions, round(100_480_507 * 48_019 / 480_189))
        self.assertEqual(np.median(shape.user_degrees), 96)

    def test_generated_small_netflix_shape(self):
        shape = profiles.netflix_shape(num_users=3_000, num_items=2_000, seed=1)
        data = profiles.make_shaped(shape, seed=2, chunk_size=1_000)
        self.assertEqual(data.shape, (3_000, 2_000))
        degrees = (
            np.diff(data.train.indptr)
            + np.diff(data.val.indptr)
            + np.diff(data.test.indptr)
        )
        kept = shape.user_degrees >= 3
        # Every kept user gets exactly its target degree; the split drops < 3.
        np.testing.assert_array_equal(degrees[kept], shape.user_degrees[kept])
        np.testing.assert_array_equal(degrees[~kept], 0)
        counts = sum(
            np.bincount(m.indices, minlength=2_000)
            for m in (data.train, data.val, data.test)
        )
        rho = stats.spearmanr(counts, shape.item_weights).statistic
        self.assertGreater(rho, 0.8)
        self.assertIn("shape", data.info)

    def test_lognormal_quantiles_reject_bad_order(self):
        with self.assertRaises(ValueError):
            profiles.lognormal_quantile_counts(10, mean=5, median=10, low=1, high=100)


class ShapeLikeTest(absltest.TestCase):
    def test_reproduces_degrees(self):
        source = make_synthetic(400, 150, mean_degree=12, seed=3)
        shape = profiles.shape_like(source)
        self.assertEqual((shape.num_users, shape.num_items), source.shape)
        degrees = (
            np.diff(source.train.indptr)
            + np.diff(source.val.indptr)
            + np.diff(source.test.indptr)
        )
        np.testing.assert_array_equal(np.sort(shape.user_degrees), np.sort(degrees))
        copy = profiles.make_shaped(shape, seed=4)
        copy_degrees = (
            np.diff(copy.train.indptr)
            + np.diff(copy.val.indptr)
            + np.diff(copy.test.indptr)
        )
        np.testing.assert_array_equal(np.sort(copy_degrees), np.sort(degrees))
        self.assertEqual(shape.name, f"like-{source.name}")

    def test_resampled_size(self):
        source = make_synthetic(200, 80, mean_degree=10, seed=5)
        shape = profiles.shape_like(source, num_users=1_000, seed=1)
        self.assertEqual(shape.num_users, 1_000)
        self.assertEqual(shape.num_items, 80)


if __name__ == "__main__":
    absltest.main()
