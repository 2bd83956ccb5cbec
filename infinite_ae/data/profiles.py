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
users to the exact interaction count.

Item calibration (`make_shaped`, default on). A user holds an item at most once, so
drawing with weights equal to the target counts saturates the popular items (heavy
users cannot take the top movie twice) and the in-cluster draws renormalise
popularity per cluster, so uncalibrated the realised popularity is much flatter than
the targets. `make_shaped` therefore deals the items to clusters by popularity stratum
(`balanced_clusters`), solves the weights whose modelled realised counts equal the
targets (`calibrate_item_weights`: a without-replacement inclusion model, solved in
seconds, deterministic), and generates with ``exact_sampling`` (the law the model
describes). At full size the realised mean, median, p90, p99 and maximum item counts
match the targets to within 0.3 %; only the minimum cannot: about 450 of the rarest
items (targets below 8) cannot go lower than the ≈ 4-8 interactions the users holding
almost every movie give them (13 users have 15,000+ of the 17,770). Measured
realised-vs-target counts: benchmarks/README.md, "Netflix-shaped synthetic data: item
calibration". At 10,000 users (targets scaled by U / 480,189) `profiles_test` checks
the median within 10 %, max within 5 %, p90 / p99 and the head sums within 3 %.
``calibrate=False`` uses the weights as given, without calibration.

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
    over ``num_items`` items, so generated item counts are the targets scaled by
    U / 480,189. Keep ``num_items`` near 17,770 when the realised popularity matters:
    the top movie's target (41x the mean) must stay below U, which needs about
    I >= 17,000 (`make_shaped` reports ``converged=False`` otherwise).

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


def balanced_clusters(
    values: np.ndarray, num_clusters: int, rng: np.random.Generator
) -> np.ndarray:
    """[n] cluster ids with equal sizes (±1) and nearly equal sums of `values`.

    Items are ranked by value (ties in random order) and every run of `num_clusters`
    consecutive ranks is dealt to the clusters in a random order, so every cluster
    gets one item per popularity stratum.

    >>> values = np.arange(10.0)
    >>> c = balanced_clusters(values, 5, np.random.default_rng(0))
    >>> np.bincount(c).tolist(), bool(np.bincount(c, weights=values).max() < 13)
    ([2, 2, 2, 2, 2], True)
    """
    values = np.asarray(values, np.float64)
    num_clusters = int(max(1, min(num_clusters, values.size)))
    order = np.lexsort((rng.random(values.size), -values))
    deal = np.argsort(rng.random((-(-values.size // num_clusters), num_clusters)), 1)
    clusters = np.empty(values.size, np.int64)
    clusters[order] = deal.reshape(-1)[: values.size]
    return clusters


def _cluster_slices(sorted_ids: np.ndarray, num_clusters: int) -> list[slice]:
    ends = np.searchsorted(sorted_ids, np.arange(num_clusters), "right")
    starts = np.concatenate([[0], ends[:-1]])
    return [slice(int(a), int(b)) for a, b in zip(starts, ends, strict=True)]


def _inclusion_model(
    weights: np.ndarray,
    item_cluster: np.ndarray,
    groups: tuple[np.ndarray, np.ndarray, np.ndarray],
    num_clusters: int,
    affinity: float,
    grid_size: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Modelled count E_i and its elasticity d log E_i / d log w_i (τ, W fixed).

    See `calibrate_item_weights`. ``groups`` are (cluster, degree, number of users),
    sorted by cluster; ``weights`` sum to 1.
    """
    num_items = weights.size
    positive = weights > 0
    cluster_mass = np.bincount(item_cluster, weights=weights, minlength=num_clusters)
    beta_out = 1.0 - affinity
    beta_in = beta_out + np.divide(
        affinity,
        cluster_mass,
        out=np.zeros(num_clusters),
        where=cluster_mass > 0,
    )
    q_in = beta_in[item_cluster] * weights
    q_out = beta_out * weights
    q_all = np.concatenate([q_in[positive], q_out[positive]])
    q_min, q_max = q_all[q_all > 0].min(), q_all.max()
    # D_c(τ) = Σ_i 1 - exp(-τ q_ci) on a log grid of τ (D(τ) <= τ, so τ >= d >= 1).
    log_tau = np.linspace(np.log(0.5), np.log(50.0 / q_min), grid_size)
    tau = np.exp(log_tau)
    by_cluster = np.argsort(item_cluster, kind="stable")
    item_slices = _cluster_slices(item_cluster[by_cluster], num_clusters)
    starts = np.array([s.start for s in item_slices])
    nonempty = np.array([s.stop > s.start for s in item_slices])
    drawn = np.zeros((grid_size, num_clusters))
    for begin in range(0, grid_size, 32):
        t = tau[begin : begin + 32, None]
        inside = -np.expm1(-t * q_in[by_cluster])
        outside = -np.expm1(-t * q_out[by_cluster])
        per_cluster = np.zeros((t.shape[0], num_clusters))
        per_cluster[:, nonempty] = np.add.reduceat(
            inside - outside, starts[nonempty], axis=1
        )
        drawn[begin : begin + 32] = per_cluster + outside.sum(1, keepdims=True)
    # τ of every (cluster, degree) group; H_c(x) = Σ_users-in-c 1 - exp(-τ_u x).
    group_cluster, group_degree, group_count = groups
    log_x = np.linspace(np.log(0.5 * q_min), np.log(2.0 * q_max), grid_size)
    x = np.exp(log_x)
    held = np.zeros((num_clusters, grid_size))
    for c, rows in enumerate(_cluster_slices(group_cluster, num_clusters)):
        if rows.stop == rows.start:
            continue
        group_tau = np.exp(np.interp(group_degree[rows], drawn[:, c], log_tau))
        held[c] = group_count[rows] @ -np.expm1(-group_tau[:, None] * x[None, :])
    log_held = np.log(np.maximum(held, 1e-300))
    slope = np.gradient(log_held, log_x, axis=1)
    log_all = np.log(np.maximum(held.sum(0), 1e-300))
    slope_all = np.gradient(log_all, log_x)

    def at(log_values, slopes, q):
        lq = np.log(q)
        value = np.exp(np.interp(lq, log_x, log_values))
        return value, value * np.interp(lq, log_x, slopes)

    counts = np.zeros(num_items)
    derivative = np.zeros(num_items)
    for c, items in enumerate(item_slices):
        items = by_cluster[items]
        items = items[positive[items]]
        if items.size == 0:
            continue
        value, deriv = at(log_held[c], slope[c], q_in[items])
        counts[items] += value
        derivative[items] += deriv
        if beta_out > 0:
            value, deriv = at(log_all, slope_all, q_out[items])
            counts[items] += value
            derivative[items] += deriv
            value, deriv = at(log_held[c], slope[c], q_out[items])
            counts[items] -= value
            derivative[items] -= deriv
    elasticity = np.divide(derivative, counts, out=np.ones(num_items), where=counts > 0)
    return counts, elasticity


def calibrate_item_weights(
    targets: np.ndarray,
    user_degrees: np.ndarray,
    item_cluster: np.ndarray,
    user_cluster: np.ndarray,
    *,
    num_clusters: int,
    cluster_affinity: float,
    tolerance: float = 0.005,
    max_iterations: int = 60,
    grid_size: int = 512,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Item weights whose REALISED counts match `targets` under `make_synthetic`.

    A user holds an item at most once, so drawing with weights ∝ targets saturates
    the popular items (a heavy user cannot take the top movie twice) and the
    realised popularity is flatter than the weights. With ``exact_sampling`` a user
    u of cluster c and degree d draws d distinct items one at a time from the
    mixture ``p_ci = a w_i [c_i = c] / W_c + (1 - a) w_i / W`` (successive
    sampling). Its inclusion probabilities are modelled by Rosén's approximation
    ``π_ui = 1 - exp(-τ_u p_ci)`` with τ_u solving ``Σ_i π_ui = d`` (successive
    sampling keeps the d items of smallest ``e_i / p_ci``, e_i exponential; the
    approximation replaces the d-th smallest by τ_u), so the expected count of item
    i is ``E_i(w) = Σ_u π_ui``. Users sharing (cluster, degree) share
    τ, and both Σ_i and Σ_u are evaluated on log grids of τ and of ``τ p``, so one
    evaluation costs O(grid_size · (I + #(cluster, degree) pairs)), independent of
    U. The weights solve ``E(w) = targets`` (targets rescaled to sum to Σ degrees)
    by the damped Newton fixed point ``log w_i += (log t_i - log E_i) / ε_i`` with
    ε_i the modelled elasticity d log E_i / d log w_i (clipped to [0.5, 1] for
    items to raise, [0.02, 1] for items to lower), the step halved whenever the
    error grows; deterministic. Items above target whose weight reached 1e-6 of its
    start (or whose weight-insensitive part of E is already above target) are out of
    reach, typically the rarest items that users holding almost every item always
    take; they are left out of the error and counted in the report. The solve stops
    at `tolerance`, after `max_iterations`, or when the error stalls (targets out of
    reach, e.g. a head item above U); the best iterate is returned.

    Args:
        targets: [I] non-negative target counts (only their shape matters: they are
            rescaled to sum to the total degree).
        user_degrees: [U] degrees (clipped to [0, I]).
        item_cluster: [I] latent cluster of every item.
        user_cluster: [U] latent cluster of every user.
        num_clusters: number of clusters.
        cluster_affinity: probability a draw is inside the user's cluster.
        tolerance: stop when the modelled counts are all within this relative error.
        max_iterations: at most this many model evaluations.
        grid_size: points of the τ and τ·p grids.

    Returns:
        (weights [I] summing to Σ degrees, info: iterations, ``max_rel_error`` of
        the modelled counts over the reachable items, ``converged`` (it is <=
        `tolerance`), ``unreachable_items`` and their largest relative excess, and
        the `degree_stats` of the modelled counts).

    >>> rng = np.random.default_rng(0)
    >>> t = np.array([120.0, 80, 64, 48, 32, 24, 16, 16])
    >>> w, info = calibrate_item_weights(
    ...     t, np.full(200, 2), np.arange(8) % 2, rng.integers(2, size=200),
    ...     num_clusters=2, cluster_affinity=0.5)
    >>> info["converged"], bool(w[0] / w[-1] > t[0] / t[-1])  # the head is boosted
    (True, True)
    """
    targets, degrees, item_cluster, user_cluster = _calibration_inputs(
        targets, user_degrees, item_cluster, user_cluster, num_clusters
    )
    num_items = targets.size
    active = degrees > 0
    total = float(degrees.sum())
    if total == 0:
        return targets.copy(), {"iterations": 0, "max_rel_error": 0.0}
    keys = np.unique(
        user_cluster[active] * (num_items + 1) + degrees[active], return_counts=True
    )
    groups = (
        keys[0] // (num_items + 1),
        (keys[0] % (num_items + 1)).astype(np.float64),
        keys[1].astype(np.float64),
    )
    target = targets * (total / targets.sum())
    positive = target > 0
    weights = target / total
    # The rarest items cannot go below what the users holding almost every item
    # give them; their weights stop at `floor` and they leave the error.
    floor = 1e-6 * weights
    best = (np.inf, weights, target, np.zeros(num_items, bool))
    damping, history = 1.0, []
    iterations = 0
    for iteration in range(1, max_iterations + 1):
        iterations = iteration
        counts, elasticity = _inclusion_model(
            weights, item_cluster, groups, num_clusters, cluster_affinity, grid_size
        )
        # Unreachable: above target with the weight at the floor, or with the part
        # of the count that does not move with the weight (≈ E (1 - ε), the
        # saturated heavy users) already at the target.
        at_floor = weights <= floor * (1 + 1e-9)
        forced = counts * (1.0 - elasticity) >= target
        unreachable = (at_floor | forced) & (counts > target) & positive
        ratio = np.log(target[positive]) - np.log(counts[positive])
        relative = np.abs(np.expm1(-ratio))[~unreachable[positive]]
        error = float(relative.max(initial=0.0))
        if error < best[0]:
            best = (error, weights, counts, unreachable)
        if error <= tolerance:
            break
        if history and error > history[-1]:
            damping *= 0.5
        history.append(error)
        if len(history) > 8 and error > 0.99 * history[-9]:
            break  # stalled (targets out of reach, e.g. a head above U)
        # Elasticities of items to raise (saturated heads) are clipped at 1/2: the
        # Jacobian ignores the coupling through τ and W, and larger steps
        # oscillate. Items to lower (tails held by heavy users) may take the
        # large steps their small elasticity asks for.
        low = np.where(ratio < 0, 0.02, 0.5)
        step = damping * ratio / np.clip(elasticity[positive], low, 1.0)
        weights = weights.copy()
        weights[positive] *= np.exp(np.clip(step, -3.0, 3.0))
        weights /= weights.sum()
        weights = np.maximum(weights, floor)
    error, weights, counts, unreachable = best
    info = {
        "method": "successive-sampling model (Rosén), damped Newton fixed point",
        "iterations": iterations,
        "max_rel_error": error,
        "converged": bool(error <= tolerance),
        "tolerance": tolerance,
        "unreachable_items": int(unreachable.sum()),
        "unreachable_max_rel_error": float(
            np.max(counts[unreachable] / target[unreachable] - 1.0, initial=0.0)
        ),
        "modelled_counts": degree_stats(counts),
    }
    return weights * total, info


def _calibration_inputs(
    targets, user_degrees, item_cluster, user_cluster, num_clusters
):
    """`calibrate_item_weights`' arrays as float64 / int64, checked."""
    targets = np.asarray(targets, np.float64)
    degrees = np.clip(np.asarray(user_degrees, np.int64), 0, targets.size)
    item_cluster = np.asarray(item_cluster, np.int64)
    user_cluster = np.asarray(user_cluster, np.int64)
    if targets.ndim != 1 or np.any(targets < 0) or targets.sum() <= 0:
        raise ValueError("targets: expected [I] non-negative counts, positive sum")
    if item_cluster.shape != targets.shape or user_cluster.shape != degrees.shape:
        raise ValueError(
            f"cluster shapes {item_cluster.shape}, {user_cluster.shape} do not match "
            f"[I]={targets.shape}, [U]={degrees.shape}"
        )
    for clusters in (item_cluster, user_cluster):
        if clusters.size and (clusters.min() < 0 or clusters.max() >= num_clusters):
            raise ValueError(f"cluster ids must lie in [0, {num_clusters})")
    return targets, degrees, item_cluster, user_cluster


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
    calibrate: bool = True,
) -> Interactions:
    """Generates an ∞-AE-split dataset with the given shape (`make_synthetic`).

    With ``calibrate`` (the default) the realised item counts follow
    ``shape.item_weights`` (rescaled to the interaction count) rather than only
    their ranking: items are dealt to the latent clusters by popularity stratum
    (`balanced_clusters`, so every cluster has the same target mass), users get
    uniform random clusters, the weights are solved by `calibrate_item_weights` for
    exactly these clusters and degrees, and `make_synthetic` runs with
    ``exact_sampling`` (the law the calibration models). The solve takes seconds
    (≈ 40 model evaluations at Netflix size) and is deterministic given `seed`.
    ``calibrate=False`` skips all of this: weights used as given, random clusters
    drawn inside `make_synthetic`.

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
        calibrate: calibrate the item weights (above).

    Returns:
        `Interactions` [U, I] with ``info["shape"]`` holding `DatasetShape.summary`
        and, when calibrated, ``info["item_calibration"]`` the solver's report.

    >>> d = make_shaped(netflix_shape(num_users=300, num_items=500), seed=1)
    >>> d.shape
    (300, 500)
    """
    extra: dict[str, Any] = {}
    calibration = None
    if calibrate:
        num_clusters = int(max(1, min(num_clusters, shape.num_items)))
        rng = np.random.default_rng([seed, 1])
        item_cluster = balanced_clusters(shape.item_weights, num_clusters, rng)
        user_cluster = rng.integers(num_clusters, size=shape.num_users)
        weights, calibration = calibrate_item_weights(
            shape.item_weights,
            shape.user_degrees,
            item_cluster,
            user_cluster,
            num_clusters=num_clusters,
            cluster_affinity=cluster_affinity,
        )
        # 6 redraw rounds, then the exact weighted fill: with the calibrated (more
        # concentrated) weights later rounds mostly redraw held items, so more
        # rounds cost time without adding interactions (benchmarks/README.md).
        extra = {
            "item_cluster": item_cluster,
            "user_cluster": user_cluster,
            "exact_sampling": True,
            "max_rounds": 6,
        }
    else:
        weights = shape.item_weights
    data = make_synthetic(
        shape.num_users,
        shape.num_items,
        num_clusters=num_clusters,
        cluster_affinity=cluster_affinity,
        degree_profile=shape.user_degrees,
        item_weights=weights,
        seed=seed,
        chunk_size=chunk_size,
        name=name or shape.name,
        **extra,
    )
    summary = shape.summary()
    summary.pop("source")
    data.info["shape"] = summary
    data.info["shape_source"] = shape.source
    data.info["item_calibration"] = calibration
    return data
