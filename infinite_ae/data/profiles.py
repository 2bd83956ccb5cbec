"""Dataset shapes: synthetic data with a real dataset's size and degree distributions.

A `DatasetShape` fixes U, I, every user's target degree and every item's popularity
weight; `make_shaped` feeds them to `synthetic.make_synthetic` (``degree_profile``,
``item_weights``), which adds the latent cluster structure, draws the interactions in
user chunks and applies the ∞-AE split. Scale runs therefore need no download.

`netflix_shape()` is the default target: the Netflix Prize training set (480,189
users, 17,770 movies, 100,480,507 ratings). Its target statistics are the standard,
widely quoted Netflix Prize figures (approximate; not re-measured here because the
data is not redistributable):

  users:  mean 209.25 (= 100,480,507 / 480,189), median ≈ 96, min 1, max 17,653
  movies: mean 5,654.5 (= 100,480,507 / 17,770), median ≈ 561, min 3, max 232,944

Both marginals are modelled as log-normal (median fixed, σ solved so that the mean of
the clipped distribution is the target mean), discretised deterministically at the
quantiles ``(j + 0.5) / n`` and randomly permuted, so the sample statistics hit the
targets almost exactly at any size. The user total is then corrected by ±1 on random
users to the exact interaction count. Realised item counts differ from the weights:
a user holds an item at most once, so the heaviest users saturate the popular items
and flatten the head somewhat (`profiles_test` states the measured bands).

Users given fewer than 3 interactions (≈ 0.2 % in the Netflix shape) keep empty rows
because the ∞-AE split drops them (as `make_synthetic` documents).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy import special

from infinite_ae.data.interactions import Interactions
from infinite_ae.data.synthetic import make_synthetic

NETFLIX_USERS = 480_189
NETFLIX_ITEMS = 17_770
NETFLIX_INTERACTIONS = 100_480_507
NETFLIX_USER_STATS = {"mean": 209.25, "median": 96, "min": 1, "max": 17_653}
NETFLIX_ITEM_STATS = {"mean": 5_654.5, "median": 561, "min": 3, "max": 232_944}
NETFLIX_SOURCE = (
    "Netflix Prize training set, standard published statistics (approximate): "
    "480,189 users, 17,770 movies, 100,480,507 ratings; ratings per user mean "
    "209.25, median ~96, min 1, max 17,653; ratings per movie mean 5,654.5, median "
    "~561, min 3, max 232,944."
)


@dataclasses.dataclass(frozen=True, eq=False)
class DatasetShape:
    """Size and degree marginals of a dataset to imitate.

    Attributes:
        name: short name ("netflix", "like-ml-1m", ...).
        user_degrees: [U] int64 target interactions per user.
        item_weights: [I] float64 non-negative popularity weights (expected counts).
        source: where the target statistics come from.
    """

    name: str
    user_degrees: np.ndarray
    item_weights: np.ndarray
    source: str = ""

    @property
    def num_users(self) -> int:
        """U."""
        return int(self.user_degrees.size)

    @property
    def num_items(self) -> int:
        """I."""
        return int(self.item_weights.size)

    @property
    def num_interactions(self) -> int:
        """Σ target degrees (before the split drops users with < 3)."""
        return int(self.user_degrees.sum())

    def summary(self) -> dict[str, Any]:
        """Sizes and the degree / weight statistics (`degree_stats`)."""
        return {
            "name": self.name,
            "num_users": self.num_users,
            "num_items": self.num_items,
            "num_interactions": self.num_interactions,
            "user_degrees": degree_stats(self.user_degrees),
            "item_weights": degree_stats(self.item_weights),
            "source": self.source,
        }


def degree_stats(counts: np.ndarray) -> dict[str, float]:
    """Mean, median, min, max and the 90/99 % quantiles of a count vector.

    >>> degree_stats(np.array([1, 2, 3, 10]))["median"]
    2.5
    """
    counts = np.asarray(counts, np.float64)
    if counts.size == 0:
        return {k: float("nan") for k in ("mean", "median", "min", "max", "p90", "p99")}
    p90, p99 = np.quantile(counts, [0.9, 0.99])
    return {
        "mean": float(counts.mean()),
        "median": float(np.median(counts)),
        "min": float(counts.min()),
        "max": float(counts.max()),
        "p90": float(p90),
        "p99": float(p99),
    }


def lognormal_quantile_counts(
    n: int, *, mean: float, median: float, low: float, high: float
) -> np.ndarray:
    """[n] sorted log-normal quantiles with a given median and clipped mean.

    Values are ``clip(median · exp(σ z_j), low, high)`` at the normal quantiles
    ``z_j = Φ⁻¹((j + 0.5) / n)``, with σ found by bisection so that their mean is
    ``mean`` (possible when low ≤ median ≤ mean < high).

    Args:
        n: number of values.
        mean: target mean of the clipped values.
        median: target median.
        low: smallest value (clip).
        high: largest value (clip).

    Returns:
        [n] float64, ascending.

    >>> v = lognormal_quantile_counts(1001, mean=20.0, median=10.0, low=1, high=1e4)
    >>> round(float(v.mean()), 3), float(np.median(v))
    (20.0, 10.0)
    """
    if not low <= median <= mean < high:
        raise ValueError(
            f"need low <= median <= mean < high, got {low}, {median}, {mean}, {high}"
        )
    z = special.ndtri((np.arange(n) + 0.5) / n)

    def values(sigma: float) -> np.ndarray:
        return np.clip(median * np.exp(sigma * z), low, high)

    lo, hi = 0.0, 1.0
    while values(hi).mean() < mean and hi < 64:
        hi *= 2
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        if values(mid).mean() < mean:
            lo = mid
        else:
            hi = mid
    return values(hi)


def _integer_degrees(
    values: np.ndarray,
    total: int | None,
    low: int,
    high: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Rounds to integers in [low, high], fixes the sum to `total`, permutes."""
    degrees = np.clip(np.round(values), low, high).astype(np.int64)
    if total is not None:
        diff = int(total - degrees.sum())
        step = 1 if diff > 0 else -1
        # ±1 on random users that stay inside [low, high]; repeat for large gaps.
        while diff:
            room = degrees < high if step > 0 else degrees > low
            candidates = np.flatnonzero(room)
            if candidates.size == 0:
                break
            take = rng.choice(
                candidates, min(abs(diff), candidates.size), replace=False
            )
            degrees[take] += step
            diff -= step * take.size
    return rng.permutation(degrees)


def netflix_shape(
    *, num_users: int = NETFLIX_USERS, num_items: int = NETFLIX_ITEMS, seed: int = 0
) -> DatasetShape:
    """The Netflix Prize shape (module docstring), optionally with fewer users.

    With ``num_users < 480,189`` the per-user degree distribution is the same (so the
    interaction count scales with U); the item weights keep Netflix's distribution
    over ``num_items`` items.

    Args:
        num_users: U (default: all 480,189 Netflix users).
        num_items: I (default 17,770).
        seed: seed of the permutations and the ±1 total correction.

    Returns:
        A `DatasetShape` with Σ degrees = round(100,480,507 · U / 480,189).

    >>> s = netflix_shape(num_users=4801)
    >>> s.num_items, s.summary()["user_degrees"]["median"]
    (17770, 96.0)
    """
    if num_users < 1 or num_items < 1:
        raise ValueError(f"need positive sizes, got {num_users}, {num_items}")
    rng = np.random.default_rng(seed)
    user_stats, item_stats = NETFLIX_USER_STATS, NETFLIX_ITEM_STATS
    max_degree = min(user_stats["max"], num_items)
    user_values = lognormal_quantile_counts(
        num_users,
        mean=user_stats["mean"],
        median=user_stats["median"],
        low=user_stats["min"],
        high=max_degree,
    )
    total = round(NETFLIX_INTERACTIONS * num_users / NETFLIX_USERS)
    degrees = _integer_degrees(user_values, total, user_stats["min"], max_degree, rng)
    item_values = lognormal_quantile_counts(
        num_items,
        mean=item_stats["mean"],
        median=item_stats["median"],
        low=item_stats["min"],
        high=item_stats["max"],
    )
    weights = rng.permutation(item_values)
    return DatasetShape("netflix", degrees, weights, source=NETFLIX_SOURCE)


def _user_item_counts(data: Any) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(data, Interactions):
        matrices = [data.train, data.val, data.test]
    elif sp.issparse(data):
        matrices = [data]
    else:
        raise TypeError(f"expected Interactions or a sparse matrix, got {type(data)}")
    users = sum(np.diff(sp.csr_matrix(m).indptr) for m in matrices)
    items = sum(
        np.bincount(sp.csr_matrix(m).indices, minlength=m.shape[1]) for m in matrices
    )
    return np.asarray(users, np.int64), np.asarray(items, np.float64)


def shape_like(
    data: Any, *, num_users: int | None = None, seed: int = 0, name: str | None = None
) -> DatasetShape:
    """The shape of a real dataset: its user degrees and item counts.

    With ``num_users`` None (or equal to U) the degrees are the dataset's own
    (permuted); otherwise they are resampled with replacement from them. Item
    weights are the item counts (items with 0 interactions get weight 0.5 so they
    can still be drawn rarely).

    Args:
        data: an `Interactions` (train + val + test are counted) or a [U, I] sparse
            matrix.
        num_users: users of the imitation (default: the same U).
        seed: seed of the permutation / resampling.
        name: name of the shape (default ``"like-" + data.name``).

    Returns:
        A `DatasetShape`.

    >>> m = sp.csr_matrix(np.array([[1, 1, 0], [1, 0, 1]], np.float32))
    >>> shape_like(m).user_degrees.tolist(), shape_like(m).item_weights.tolist()
    ([2, 2], [2.0, 1.0, 1.0])
    """
    degrees, item_counts = _user_item_counts(data)
    rng = np.random.default_rng(seed)
    if num_users is None or num_users == degrees.size:
        target = rng.permutation(degrees)
    else:
        if num_users < 1:
            raise ValueError(f"num_users must be positive, got {num_users}")
        target = rng.choice(degrees, size=num_users, replace=True)
    weights = np.where(item_counts > 0, item_counts, 0.5)
    base_name = getattr(data, "name", "matrix")
    source = f"degree marginals of {base_name} ({degrees.size} users, "
    source += f"{int(degrees.sum())} interactions)"
    return DatasetShape(name or f"like-{base_name}", target, weights, source=source)


def make_shaped(
    shape: DatasetShape,
    *,
    seed: int = 0,
    num_clusters: int = 20,
    cluster_affinity: float = 0.8,
    chunk_size: int = 20_000,
    name: str | None = None,
) -> Interactions:
    """Generates an ∞-AE-split dataset with the given shape (`make_synthetic`).

    Memory: the output CSR matrices (≈ 4 bytes per interaction for the int32 item
    indices plus 4 for the float32 ones, ≈ 0.8 GB at Netflix size) plus one chunk of
    draws (≈ 0.1 KB per interaction of the chunk; 20k Netflix users ≈ 0.5 GB).
    Measured at the full Netflix shape: see docs/scaling.md.

    Args:
        shape: the target shape.
        seed: generator seed.
        num_clusters: planted latent clusters (collaborative signal).
        cluster_affinity: probability an interaction is drawn inside the cluster.
        chunk_size: users generated at a time.
        name: dataset name (default: the shape's name).

    Returns:
        `Interactions` [U, I] with ``info["shape"]`` holding `DatasetShape.summary`.

    >>> d = make_shaped(netflix_shape(num_users=300, num_items=500), seed=1)
    >>> d.shape
    (300, 500)
    """
    data = make_synthetic(
        shape.num_users,
        shape.num_items,
        num_clusters=num_clusters,
        cluster_affinity=cluster_affinity,
        degree_profile=shape.user_degrees,
        item_weights=shape.item_weights,
        seed=seed,
        chunk_size=chunk_size,
        name=name or shape.name,
    )
    summary = shape.summary()
    summary.pop("source")
    data.info["shape"] = summary
    data.info["shape_source"] = shape.source
    return data
