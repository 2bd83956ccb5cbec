"""Coreset selection on embeddings: greedy K-center and herding.

Both pick `count` rows of a point set [N, d] (e.g. sequence embeddings, one row
per user) as an equal-budget baseline for distillation:

* K-center (greedy farthest point, Sener & Savarese, ICLR 2018): start from the
  point nearest the mean, then repeatedly add the point farthest from the chosen
  ones; a 2-approximation of the smallest covering radius.
* Herding (Welling, ICML 2009; as iCaRL selects exemplars): repeatedly add the
  point that brings the mean of the chosen points closest to the mean of all.

Deterministic (ties go to the lower index); float64 NumPy, O(count · N · d).
"""

from __future__ import annotations

import numpy as np


def _points(points, count: int) -> np.ndarray:
    x = np.asarray(points, np.float64)
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"points must be [N >= 1, d], got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("points must be finite")
    if not 1 <= count <= x.shape[0]:
        raise ValueError(f"count {count} must lie in [1, {x.shape[0]}]")
    return x


def k_center(points, count: int) -> np.ndarray:
    """[count] indices chosen by greedy K-center (module docstring), in order.

    >>> k_center(np.array([[0.0], [1.0], [10.0], [0.4]]), 2).tolist()
    [1, 2]
    """
    x = _points(points, count)
    first = int(np.argmin(((x - x.mean(0)) ** 2).sum(1)))
    chosen = [first]
    nearest = ((x - x[first]) ** 2).sum(1)
    for _ in range(count - 1):
        nearest[chosen[-1]] = -1.0  # never again (distances are >= 0)
        pick = int(np.argmax(nearest))
        chosen.append(pick)
        nearest = np.minimum(nearest, ((x - x[pick]) ** 2).sum(1))
    return np.asarray(chosen, np.int64)


def herding(points, count: int) -> np.ndarray:
    """[count] indices chosen by herding (module docstring), in order.

    >>> herding(np.array([[0.0], [1.0], [10.0], [4.0]]), 2).tolist()
    [3, 1]
    """
    x = _points(points, count)
    mean = x.mean(0)
    total = np.zeros_like(mean)
    taken = np.zeros(x.shape[0], bool)
    chosen = []
    for k in range(1, count + 1):
        gap = (((total + x) / k - mean) ** 2).sum(1)
        gap[taken] = np.inf
        pick = int(np.argmin(gap))
        chosen.append(pick)
        taken[pick] = True
        total += x[pick]
    return np.asarray(chosen, np.int64)
