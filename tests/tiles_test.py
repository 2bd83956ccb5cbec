"""Tests for `infinite_ae.tiles`: memory-budget tile planning.

(Evaluation over planned tiles is tested in `tests/evaluation_test.py`.)
"""

from __future__ import annotations

from absl.testing import absltest, parameterized

from infinite_ae import tiles


class PlanTilesTest(parameterized.TestCase):
    @parameterized.parameters(
        (10_000, 1_000, 3_000_000, 0, 1),
        (480_189, 408_000, 1 << 30, 73_080_000, 8),
        (7, 100, 10_000, 0, 4),
        (1_000, 10, 1 << 30, 0, 3),
    )
    def test_fits_budget_and_covers_rows(self, rows, row_bytes, budget, fixed, mult):
        plan = tiles.plan_tiles(
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
            tiles.plan_tiles(100, 1 << 20, 1 << 20, fixed_bytes=1 << 19)

    def test_max_tile(self):
        plan = tiles.plan_tiles(1000, 1, 1 << 30, max_tile=128, multiple_of=8)
        self.assertLessEqual(plan.tile_size, 128)

    def test_netflix_row_estimate(self):
        # 17,770 items, 500 support users: ≈ 0.41 MB per user, ≈ 2,400 per GiB.
        plan = tiles.plan_tiles(
            480_189,
            tiles.evaluation_row_bytes(17_770, 500),
            1 << 30,
            fixed_bytes=tiles.support_bytes(500, 17_770),
        )
        self.assertBetween(plan.tile_size, 2_000, 2_700)


if __name__ == "__main__":
    absltest.main()
