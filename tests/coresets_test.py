"""K-center and herding against slow references on random points."""

import itertools

import numpy as np
from absl.testing import absltest, parameterized

from infinite_ae.distill import coresets


def _slow_k_center(x, count):
    chosen = [min(range(len(x)), key=lambda i: np.sum((x[i] - x.mean(0)) ** 2))]
    while len(chosen) < count:

        def gap(i):
            return min(np.sum((x[i] - x[j]) ** 2) for j in chosen)

        rest = [i for i in range(len(x)) if i not in chosen]
        chosen.append(max(rest, key=gap))
    return chosen


def _slow_herding(x, count):
    chosen = []
    while len(chosen) < count:
        rest = [i for i in range(len(x)) if i not in chosen]
        chosen.append(
            min(rest, key=lambda i: np.sum((x[chosen + [i]].mean(0) - x.mean(0)) ** 2))
        )
    return chosen


def _radius(x, chosen):
    return max(min(np.linalg.norm(x[i] - x[j]) for j in chosen) for i in range(len(x)))


class CoresetsTest(parameterized.TestCase):
    @parameterized.parameters(0, 1, 2)
    def test_against_slow_references(self, seed):
        x = np.random.default_rng(seed).normal(size=(40, 3))
        for count in (1, 5, 12, 40):
            self.assertEqual(
                coresets.k_center(x, count).tolist(), _slow_k_center(x, count)
            )
            self.assertEqual(
                coresets.herding(x, count).tolist(), _slow_herding(x, count)
            )

    def test_k_center_is_a_two_approximation(self):
        x = np.random.default_rng(3).normal(size=(12, 2))
        optimum = min(
            _radius(x, list(c)) for c in itertools.combinations(range(len(x)), 3)
        )
        self.assertLessEqual(_radius(x, coresets.k_center(x, 3)), 2 * optimum + 1e-12)

    def test_herding_mean_beats_random_subsets(self):
        rng = np.random.default_rng(4)
        x = rng.normal(size=(200, 8))
        gap = lambda c: np.linalg.norm(x[c].mean(0) - x.mean(0))
        herded = gap(coresets.herding(x, 10))
        random = [gap(rng.choice(200, 10, replace=False)) for _ in range(200)]
        self.assertLess(herded, min(random))

    def test_bad_input_is_refused(self):
        with self.assertRaisesRegex(ValueError, r"count 5 must lie in \[1, 4\]"):
            coresets.k_center(np.zeros((4, 2)), 5)
        with self.assertRaisesRegex(ValueError, "finite"):
            coresets.herding(np.full((3, 2), np.nan), 1)
        with self.assertRaisesRegex(ValueError, r"\[N >= 1, d\]"):
            coresets.herding(np.zeros(3), 1)


if __name__ == "__main__":
    absltest.main()
