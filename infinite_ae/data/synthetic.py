"""Power-law synthetic implicit feedback: the built-in default dataset (no network).

Generative model (all NumPy, vectorised, users generated in chunks):
  1. Items get a popularity weight (Zipf: ``rank ** -item_popularity_exponent`` over a
     random ranking, or caller-given weights) and one of `num_clusters` latent
     clusters (balanced, random; or caller-given).
  2. Users get a latent cluster and a target degree from a power law (continuous
     Pareto tail with density ~ x ** -user_degree_exponent, shifted to start at
     `min_degree`, scaled so the mean is `mean_degree`, clipped to `max_degree`), or
     from a caller-given `degree_profile`.
  3. Each of a user's interactions is drawn, with probability `cluster_affinity`,
     from the items of the user's cluster, else from all items, in both cases
     proportional to popularity; duplicates are redrawn until the user reaches the
     target degree (later rounds draw globally, then uniformly, so heavy users
     whose cluster is too small still fill up; a last exact pass fills any rest).
     With ``exact_sampling`` every round draws from the mixture and the users still
     short are completed by an exact weighted draw without replacement, so each
     user's items are exactly a one-at-a-time draw from its mixture (the law
     `profiles.calibrate_item_weights` models).
  4. Each chunk is split with the ∞-AE protocol (`splits.infinite_ae_split`).

The user-item matrix is therefore close to a rank-`num_clusters` block structure
modulated by popularity, so collaborative models beat popularity, while the degree
and popularity marginals are heavy-tailed like real data. Memory stays bounded by the
output CSR plus one chunk of draws; no dense [U, I] array is ever built, so a
Netflix-shaped 480,189 x 17,770 matrix with ~100M interactions is feasible.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp

from infinite_ae.data.interactions import Interactions
from infinite_ae.data.sequences import Sequences
from infinite_ae.data.splits import infinite_ae_split

DegreeProfile = np.ndarray | Callable[[np.random.Generator, int], np.ndarray]


def power_law_degrees(
    rng: np.random.Generator,
    num_users: int,
    *,
    mean_degree: float,
    exponent: float,
    min_degree: int,
    max_degree: int,
) -> np.ndarray:
    """Draws [U] integer degrees with a power-law tail and a given mean.

    Args:
        rng: NumPy generator.
        num_users: U.
        mean_degree: target mean (reached within rounding, unless out of range).
        exponent: tail exponent gamma > 1 of the density ~ x ** -gamma.
        min_degree: smallest degree.
        max_degree: largest degree (clip).

    Returns:
        [U] int64 degrees in [min_degree, max_degree].

    >>> d = power_law_degrees(np.random.default_rng(0), 10_000, mean_degree=20,
    ...                       exponent=2.5, min_degree=3, max_degree=500)
    >>> bool(abs(d.mean() - 20) < 0.5), int(d.min()) >= 3
    (True, True)
    """
    if exponent <= 1:
        raise ValueError(f"exponent must be > 1, got {exponent}")
    if not min_degree <= max_degree:
        raise ValueError(f"min_degree {min_degree} > max_degree {max_degree}")
    tail = (1.0 - rng.random(num_users)) ** (-1.0 / (exponent - 1.0)) - 1.0
    target = float(np.clip(mean_degree, min_degree, max_degree))
    if tail.size == 0 or tail.mean() == 0 or target == min_degree:
        return np.full(num_users, min_degree, np.int64)

    def mean_at(scale: float) -> float:
        return float(np.clip(min_degree + scale * tail, min_degree, max_degree).mean())

    low, high = 0.0, 1.0
    while mean_at(high) < target and high < 1e12:
        high *= 2.0
    for _ in range(60):
        middle = 0.5 * (low + high)
        if mean_at(middle) < target:
            low = middle
        else:
            high = middle
    degrees = np.clip(min_degree + high * tail, min_degree, max_degree)
    # Stochastic rounding keeps the mean unbiased.
    floor = np.floor(degrees)
    degrees = floor + (rng.random(num_users) < degrees - floor)
    return np.clip(degrees, min_degree, max_degree).astype(np.int64)


class _ItemSampler:
    """Draws items proportional to weight, globally or within a cluster."""

    def __init__(self, weights: np.ndarray, clusters: np.ndarray, num_clusters: int):
        self.order = np.argsort(clusters, kind="stable")
        self.cumulative = np.cumsum(weights[self.order])
        self.total = float(self.cumulative[-1])
        ends = np.searchsorted(clusters[self.order], np.arange(num_clusters), "right")
        starts = np.concatenate([[0], ends[:-1]])
        padded = np.concatenate([[0.0], self.cumulative])
        self.low = padded[starts]
        self.high = padded[ends]
        self.num_items = weights.size
        self.weights = weights
        self.clusters = clusters

    def probabilities(self, clusters: np.ndarray, affinity: float) -> np.ndarray:
        """[n, I] per-draw item probabilities of users in `clusters` (the mixture)."""
        cluster_mass = (self.high - self.low)[clusters]
        inside = self.clusters[None, :] == clusters[:, None]
        local = np.divide(
            self.weights[None, :],
            cluster_mass[:, None],
            out=np.zeros((clusters.size, self.num_items)),
            where=inside & (cluster_mass[:, None] > 0),
        )
        return affinity * local + (1.0 - affinity) * self.weights / self.total

    def draw(
        self,
        rng: np.random.Generator,
        clusters: np.ndarray,
        in_cluster: np.ndarray,
    ) -> np.ndarray:
        low = np.where(in_cluster, self.low[clusters], 0.0)
        high = np.where(in_cluster, self.high[clusters], self.total)
        target = low + rng.random(clusters.size) * (high - low)
        position = np.searchsorted(self.cumulative, target, side="right")
        return self.order[np.minimum(position, self.num_items - 1)]


def _rank_in_group(groups: np.ndarray) -> np.ndarray:
    """Rank of each element among equal `groups` values, in array order."""
    order = np.argsort(groups, kind="stable")
    sorted_groups = groups[order]
    is_start = np.ones(groups.size, bool)
    is_start[1:] = sorted_groups[1:] != sorted_groups[:-1]
    start_positions = np.flatnonzero(is_start)
    group_start = start_positions[np.cumsum(is_start) - 1]
    rank = np.empty(groups.size, np.int64)
    rank[order] = np.arange(groups.size) - group_start
    return rank


def _sample_chunk(
    rng: np.random.Generator,
    sampler: _ItemSampler,
    user_cluster: np.ndarray,
    target: np.ndarray,
    *,
    cluster_affinity: float,
    max_rounds: int,
    exact: bool = False,
) -> np.ndarray:
    """Returns sorted keys local_user * I + item, up to target[u] distinct per user.

    With ``exact``, every round draws from the user's mixture and the users still
    short after `max_rounds` are completed by `_weighted_fill`, so each user's items
    are exactly a draw-without-replacement from its mixture.
    """
    num_items = sampler.num_items
    num_local = target.size
    local_users = np.arange(num_local, dtype=np.int64)
    kept = np.zeros(0, np.int64)
    have = np.zeros(num_local, np.int64)
    for round_index in range(max_rounds):
        deficit = target - have
        if not np.any(deficit > 0):
            break
        oversample = 1.2 + 0.5 * round_index
        draws = np.ceil(deficit * oversample).astype(np.int64)
        users = np.repeat(local_users, draws)
        if exact or round_index < max_rounds // 2:
            in_cluster = rng.random(users.size) < cluster_affinity
            items = sampler.draw(rng, user_cluster[users], in_cluster)
        elif round_index < max_rounds - 2:
            items = sampler.draw(rng, user_cluster[users], np.zeros(users.size, bool))
        else:
            items = rng.integers(num_items, size=users.size)
        keys = users * num_items + items
        if kept.size:
            position = np.minimum(np.searchsorted(kept, keys), kept.size - 1)
            keys = keys[kept[position] != keys]
        _, first = np.unique(keys, return_index=True)
        keys = keys[np.sort(first)]
        owners = keys // num_items
        keys = keys[_rank_in_group(owners) < deficit[owners]]
        have += np.bincount(keys // num_items, minlength=num_local)
        kept = np.sort(np.concatenate([kept, keys]))
    short = np.flatnonzero(have < target)
    if short.size and exact:
        extra = _weighted_fill(
            rng, sampler, user_cluster, kept, short, target - have, cluster_affinity
        )
        kept = np.sort(np.concatenate([kept, extra]))
    elif short.size:
        # Rare (degrees close to I): fill exactly from the items not yet drawn.
        extra = []
        for user in short.tolist():
            chosen = kept[(kept >= user * num_items) & (kept < (user + 1) * num_items)]
            free = np.setdiff1d(np.arange(num_items), chosen % num_items)
            picked = rng.permutation(free)[: target[user] - have[user]]
            extra.append(user * num_items + picked)
        kept = np.sort(np.concatenate([kept, *extra]))
    return kept


def _weighted_fill(
    rng: np.random.Generator,
    sampler: _ItemSampler,
    user_cluster: np.ndarray,
    kept: np.ndarray,
    short: np.ndarray,
    deficit: np.ndarray,
    cluster_affinity: float,
    max_elements: int = 1 << 22,
) -> np.ndarray:
    """Keys that complete the `short` users by a weighted draw without replacement.

    Each user takes its missing items among the ones it does not hold: the items
    with the smallest ``e / p`` (``e`` standard exponential; Efraimidis-Spirakis),
    which is the law of continuing the one-at-a-time draw from its mixture ``p``.
    Items of weight 0 come last (in random order). Users are processed in dense
    [rows, I] blocks of at most `max_elements`, sorted by deficit so each block
    partitions only up to its largest deficit.
    """
    num_items = sampler.num_items
    rows_per_block = max(1, max_elements // num_items)
    short = short[np.argsort(deficit[short], kind="stable")]
    extra = []
    for begin in range(0, short.size, rows_per_block):
        users = short[begin : begin + rows_per_block]
        need = deficit[users]
        probs = sampler.probabilities(user_cluster[users], cluster_affinity)
        exponential = rng.standard_exponential(probs.shape)
        score = np.where(
            probs > 0,
            exponential / np.maximum(probs, 1e-300),
            1e300 * (1.0 + exponential),
        )
        lo = np.searchsorted(kept, users * num_items)
        hi = np.searchsorted(kept, (users + 1) * num_items)
        lengths = hi - lo
        rows = np.repeat(np.arange(users.size), lengths)
        offsets = np.repeat(lo - np.cumsum(lengths) + lengths, lengths)
        held = kept[np.arange(lengths.sum()) + offsets] % num_items
        score[rows, held] = np.inf
        k = int(need.max())
        top = (
            np.argpartition(score, k - 1, axis=1)[:, :k]
            if k < num_items
            else np.broadcast_to(np.arange(num_items), score.shape)
        )
        rank = np.argsort(np.take_along_axis(score, top, 1), axis=1, kind="stable")
        order = np.take_along_axis(top, rank, 1)
        for row, user in enumerate(users.tolist()):
            extra.append(user * num_items + order[row, : need[row]])
    return np.concatenate(extra) if extra else np.zeros(0, np.int64)


def _check_clusters(
    clusters: np.ndarray, size: int, num_clusters: int, kind: str
) -> np.ndarray:
    clusters = np.asarray(clusters)
    if (
        clusters.shape != (size,)
        or not np.issubdtype(clusters.dtype, np.integer)
        or (size and (clusters.min() < 0 or clusters.max() >= num_clusters))
    ):
        raise ValueError(
            f"{kind}_cluster: expected [{size}] integers in [0, {num_clusters}), got "
            f"shape {clusters.shape}, dtype {clusters.dtype}"
        )
    return clusters.astype(np.int64)


def make_synthetic(
    num_users: int = 2000,
    num_items: int = 1000,
    *,
    mean_degree: float = 20.0,
    user_degree_exponent: float = 2.2,
    item_popularity_exponent: float = 0.8,
    num_clusters: int = 10,
    cluster_affinity: float = 0.8,
    min_degree: int = 3,
    max_degree: int | None = None,
    degree_profile: DegreeProfile | None = None,
    item_weights: np.ndarray | None = None,
    item_cluster: np.ndarray | None = None,
    user_cluster: np.ndarray | None = None,
    seed: int = 0,
    chunk_size: int = 50_000,
    max_rounds: int = 12,
    exact_sampling: bool = False,
    name: str = "synthetic",
    return_latent: bool = False,
) -> Interactions | tuple[Interactions, dict[str, np.ndarray]]:
    """Generates a binary power-law dataset with latent clusters, ∞-AE-split.

    Args:
        num_users: U.
        num_items: I.
        mean_degree: target mean interactions per user (ignored with
            `degree_profile`).
        user_degree_exponent: power-law tail exponent of user degrees (> 1).
        item_popularity_exponent: Zipf exponent a of item weights ``rank ** -a``.
        num_clusters: number of latent user/item clusters (the planted rank).
        cluster_affinity: probability an interaction is drawn from the user's cluster.
        min_degree: smallest degree (>= 3 so the ∞-AE split keeps every user).
        max_degree: largest degree (default: I // 2).
        degree_profile: target degrees instead of the power law: an array [U] of
            degrees, or a callable ``(rng, num_users) -> [U] degrees`` (e.g. a
            resample of a real dataset's degree distribution). Users given fewer
            than 3 interactions are dropped by the split (their rows stay empty).
        item_weights: [I] non-negative popularity weights instead of Zipf.
        item_cluster: [I] latent cluster of every item in [0, num_clusters)
            instead of a random balanced assignment (e.g. balanced in popularity,
            as `profiles.make_shaped` does).
        user_cluster: [U] latent cluster of every user in [0, num_clusters)
            instead of a uniform random one. Given clusters skip their random
            draws, so the rest of the random stream shifts.
        seed: seed of the one ``np.random.Generator`` used throughout.
        chunk_size: users generated (and split) at a time; bounds peak memory.
            Results depend on it (through the random stream), and it is recorded.
        max_rounds: redraw rounds for duplicates.
        exact_sampling: draw every round from the user's mixture and complete the
            users still short by an exact weighted draw among the items they do not
            hold (instead of global, then uniform redraws). Each user's items are
            then exactly a draw without replacement from its mixture, which
            `profiles.calibrate_item_weights` models. Costs O(I) per completed user.
        name: dataset name.
        return_latent: also return the latent clusters and weights.

    Returns:
        `Interactions` of shape [num_users, num_items] (user and item ids are
        ``arange``), or (`Interactions`, latent dict with ``user_cluster`` [U],
        ``item_cluster`` [I], ``item_weights`` [I], ``target_degree`` [U]).

    >>> data = make_synthetic(200, 100, mean_degree=10, seed=0)
    >>> data.shape, data.summary()["num_users_with_test"]
    ((200, 100), 200)
    """
    if num_users <= 0 or num_items <= 0:
        raise ValueError(f"need num_users, num_items > 0, got {num_users}, {num_items}")
    if not 0.0 <= cluster_affinity <= 1.0:
        raise ValueError(f"cluster_affinity must be in [0, 1], got {cluster_affinity}")
    if chunk_size <= 0:
        raise ValueError(f"chunk_size must be positive, got {chunk_size}")
    rng = np.random.default_rng(seed)
    num_clusters = int(max(1, min(num_clusters, num_items)))
    max_degree = num_items // 2 if max_degree is None else int(max_degree)
    max_degree = max(1, min(max_degree, num_items))
    min_degree = min(int(min_degree), max_degree)
    # The random stream's order (item clusters, weights, user clusters, degrees,
    # then the chunks) is part of the output's reproducibility; keep it.
    latent = {
        "item_cluster": _item_clusters(rng, item_cluster, num_items, num_clusters),
        "item_weights": _item_weights(
            rng, item_weights, num_items, item_popularity_exponent
        ),
        "user_cluster": _user_clusters(rng, user_cluster, num_users, num_clusters),
    }
    latent["target_degree"] = _target_degrees(
        rng,
        degree_profile,
        num_users,
        num_items,
        mean_degree=mean_degree,
        exponent=user_degree_exponent,
        min_degree=min_degree,
        max_degree=max_degree,
    )
    sampler = _ItemSampler(latent["item_weights"], latent["item_cluster"], num_clusters)
    matrices, split_hash, generated = _generate_split(
        rng,
        sampler,
        latent["user_cluster"],
        latent["target_degree"],
        cluster_affinity=cluster_affinity,
        chunk_size=chunk_size,
        max_rounds=max_rounds,
        exact=exact_sampling,
    )
    info: dict[str, Any] = {
        "source": "synthetic",
        "generator": "make_synthetic",
        "num_users": num_users,
        "num_items": num_items,
        "mean_degree": mean_degree if degree_profile is None else None,
        "user_degree_exponent": user_degree_exponent,
        "item_popularity_exponent": (
            item_popularity_exponent if item_weights is None else None
        ),
        "num_clusters": num_clusters,
        "cluster_affinity": cluster_affinity,
        "min_degree": min_degree,
        "max_degree": max_degree,
        "degree_profile": None if degree_profile is None else "custom",
        "item_weights": None if item_weights is None else "custom",
        "item_cluster": "random" if item_cluster is None else "custom",
        "user_cluster": "random" if user_cluster is None else "custom",
        "chunk_size": chunk_size,
        "max_rounds": max_rounds,
        "exact_sampling": exact_sampling,
        "seed": seed,
        "split": "infinite_ae",
        "split_hash": split_hash,
        "binarized": True,
        "mean_generated_degree": float(generated.mean()),
        "num_users_short_of_target": int(np.sum(generated < latent["target_degree"])),
        "rating_threshold": None,
        "dedup": "first",
        "min_user_interactions": 3,
        "k_core": None,
    }
    data = Interactions(
        *matrices,
        user_ids=np.arange(num_users),
        item_ids=np.arange(num_items),
        name=name,
        info=info,
    )
    return (data, latent) if return_latent else data


def _item_clusters(
    rng: np.random.Generator, given: np.ndarray | None, size: int, num_clusters: int
) -> np.ndarray:
    """[I] item clusters: `given` (checked), else a random balanced assignment."""
    if given is None:
        return rng.permutation(np.arange(size) % num_clusters)
    return _check_clusters(given, size, num_clusters, "item")


def _user_clusters(
    rng: np.random.Generator, given: np.ndarray | None, size: int, num_clusters: int
) -> np.ndarray:
    """[U] user clusters: `given` (checked), else uniform random ones."""
    if given is None:
        return rng.integers(num_clusters, size=size)
    return _check_clusters(given, size, num_clusters, "user")


def _item_weights(
    rng: np.random.Generator, given: np.ndarray | None, num_items: int, exponent: float
) -> np.ndarray:
    """[I] popularity weights: `given` (checked), else Zipf over a random ranking."""
    if given is None:
        ranks = rng.permutation(num_items) + 1.0
        return ranks**-exponent
    weights = np.asarray(given, np.float64)
    if weights.shape != (num_items,) or np.any(weights < 0) or weights.sum() <= 0:
        raise ValueError(
            f"item_weights: expected [{num_items}] non-negative weights with a "
            f"positive sum, got shape {weights.shape}"
        )
    return weights


def _target_degrees(
    rng: np.random.Generator,
    profile: DegreeProfile | None,
    num_users: int,
    num_items: int,
    **power_law: Any,
) -> np.ndarray:
    """[U] target degrees: the power law, or a given (or drawn) degree profile."""
    if profile is None:
        return power_law_degrees(rng, num_users, **power_law)
    target = np.asarray(profile(rng, num_users) if callable(profile) else profile)
    if target.shape != (num_users,):
        raise ValueError(
            f"degree_profile: expected [{num_users}] degrees, got {target.shape}"
        )
    return np.clip(np.round(target), 0, num_items).astype(np.int64)


def _generate_split(
    rng: np.random.Generator,
    sampler: _ItemSampler,
    user_cluster: np.ndarray,
    target: np.ndarray,
    *,
    chunk_size: int,
    **sample_options: Any,
) -> tuple[list[sp.csr_matrix], str, np.ndarray]:
    """Draws the users chunk by chunk and splits each chunk with the ∞-AE protocol.

    Returns:
        ([train, val, test] CSR [U, I], the split's hash, [U] generated degrees).
    """
    num_users, num_items = target.size, sampler.num_items
    split_indices: dict[int, list[np.ndarray]] = {0: [], 1: [], 2: []}
    split_counts = {tag: np.zeros(num_users, np.int64) for tag in range(3)}
    digest = hashlib.sha256(b"infinite_ae")
    generated = np.zeros(num_users, np.int64)
    for start in range(0, num_users, chunk_size):
        stop = min(start + chunk_size, num_users)
        keys = _sample_chunk(
            rng, sampler, user_cluster[start:stop], target[start:stop], **sample_options
        )
        local_users = keys // num_items
        items = (keys % num_items).astype(np.int32)
        generated[start:stop] = np.bincount(local_users, minlength=stop - start)
        tags = infinite_ae_split(local_users, rng=rng)
        digest.update(tags.astype("<i1").tobytes())
        for tag in range(3):
            rows = tags == tag
            split_indices[tag].append(items[rows])
            split_counts[tag][start:stop] = np.bincount(
                local_users[rows], minlength=stop - start
            )
    matrices = []
    for tag in range(3):
        indptr = np.concatenate([[0], np.cumsum(split_counts[tag])])
        indices = (
            np.concatenate(split_indices[tag])
            if split_indices[tag]
            else np.zeros(0, np.int32)
        )
        matrices.append(
            sp.csr_matrix(
                (np.ones(indices.size, np.float32), indices, indptr),
                shape=(num_users, num_items),
            )
        )
    return matrices, digest.hexdigest(), generated


def make_markov_sequences(
    num_users: int,
    num_items: int,
    *,
    mean_length: float,
    seed: int,
    concentration: float = 0.3,
    num_successors: int = 4,
    teleport: float = 0.05,
    min_length: int = 3,
    name: str = "markov",
) -> tuple[Sequences, np.ndarray]:
    """Samples item sequences from a planted first-order Markov chain.

    Generative model (one ``np.random.Generator`` seeded with `seed`):
      1. Every item i gets `num_successors` distinct successors j != i (uniform at
         random) with weights drawn from a symmetric Dirichlet(`concentration`):
         a small concentration makes each row peaked on one or two successors.
      2. The chain is ``P = (1 - teleport) * W + teleport / I``, W the sparse
         successor weights: with probability `teleport` the next item is uniform
         over all items, so every row is positive and the chain irreducible.
      3. User u's sequence has ``n_u = min_length + Poisson(mean_length -
         min_length)`` items: the first uniform over items, each next one drawn
         from the current item's row of P. Timestamps are implicit (sampling
         order) and repeats are kept (no dedup).
      4. Leave-one-out: the last item is the test item, the second-to-last the
         validation item, the rest the training prefix (as `Sequences.from_raw`).

    The true chain's ranking of the next item given a history is the row of P of
    the history's last item (`markov_oracle_scores`), the Bayes-optimal scorer to
    compare a trained sequential model against.

    Args:
        num_users: U.
        num_items: I (P is returned dense: 8 I^2 bytes).
        mean_length: mean total items per user (prefix + validation + test),
            >= `min_length`.
        seed: seed of the NumPy generator.
        concentration: Dirichlet concentration of the successor weights (> 0).
        num_successors: planted successors per item, in [1, I - 1].
        teleport: probability of a uniform jump, in [0, 1].
        min_length: shortest sequence (>= 1; 3 gives every user a prefix, a
            validation and a test item).
        name: dataset name.

    Returns:
        (`Sequences` with ``arange`` user and item ids, [I, I] float64 transition
        matrix P, rows summing to 1: P[i, j] = probability that j follows i).

    >>> seq, transition = make_markov_sequences(50, 20, mean_length=8, seed=0)
    >>> seq.num_users, seq.num_items, transition.shape
    (50, 20, (20, 20))
    >>> bool(np.allclose(transition.sum(1), 1.0)), int(seq.lengths.min()) >= 1
    (True, True)
    """
    _check_markov_options(
        num_users, num_items, num_successors, concentration, teleport, min_length,
        mean_length,
    )  # fmt: skip
    rng = np.random.default_rng(seed)
    successors, weights, transition = _planted_chain(
        rng, num_items, num_successors, concentration, teleport
    )
    lengths = min_length + rng.poisson(mean_length - min_length, size=num_users)
    items = _walk(rng, successors, weights, teleport, lengths)
    info: dict[str, Any] = {
        "source": "synthetic",
        "generator": "make_markov_sequences",
        "num_users": num_users,
        "num_items": num_items,
        "mean_length": mean_length,
        "min_length": min_length,
        "concentration": concentration,
        "num_successors": num_successors,
        "teleport": teleport,
        "start": "uniform",
        "seed": seed,
        "split": "temporal_loo",
        "dedup": "none",
        "mean_generated_length": float(lengths.mean()) if num_users else 0.0,
    }
    sequences = _leave_one_out(items, lengths, num_items, name=name, info=info)
    return sequences, transition


def _check_markov_options(
    num_users, num_items, num_successors, concentration, teleport, min_length,
    mean_length,
) -> None:  # fmt: skip
    if num_users < 0 or num_items < 2:
        raise ValueError(
            f"need num_users >= 0 and num_items >= 2, got {num_users}, {num_items}"
        )
    if not 1 <= num_successors <= num_items - 1:
        raise ValueError(
            f"num_successors must be in [1, {num_items - 1}], got {num_successors}"
        )
    if not concentration > 0:
        raise ValueError(f"concentration must be > 0, got {concentration}")
    if not 0.0 <= teleport <= 1.0:
        raise ValueError(f"teleport must be in [0, 1], got {teleport}")
    if min_length < 1:
        raise ValueError(f"min_length must be >= 1, got {min_length}")
    if not mean_length >= min_length:
        raise ValueError(
            f"mean_length must be >= min_length={min_length}, got {mean_length}"
        )


def _planted_chain(rng, num_items, num_successors, concentration, teleport):
    """Steps 1-2 of `make_markov_sequences`: (successors [I, S], their weights
    [I, S], the dense transition matrix P [I, I])."""
    successors = np.empty((num_items, num_successors), np.int64)
    for item in range(num_items):
        others = rng.choice(num_items - 1, size=num_successors, replace=False)
        successors[item] = others + (others >= item)
    weights = rng.dirichlet(np.full(num_successors, float(concentration)), num_items)
    transition = np.full((num_items, num_items), teleport / num_items)
    np.add.at(
        transition,
        (np.repeat(np.arange(num_items), num_successors), successors.reshape(-1)),
        (1.0 - teleport) * weights.reshape(-1),
    )
    return successors, weights, transition


def _walk(rng, successors, weights, teleport, lengths) -> np.ndarray:
    """Step 3 of `make_markov_sequences`: [U, max length] walks (0 past a walk's
    length), all users advanced together one step at a time."""
    num_items, num_successors = successors.shape
    num_users = len(lengths)
    cumulative = np.cumsum(weights, axis=1)
    max_length = int(lengths.max(initial=0))
    items = np.zeros((num_users, max_length), np.int64)
    if max_length:
        items[:, 0] = rng.integers(num_items, size=num_users)
    for step in range(1, max_length):
        current = items[:, step - 1]
        draw = rng.random(num_users)[:, None]
        choice = np.minimum(
            (draw >= cumulative[current]).sum(axis=1), num_successors - 1
        )
        jump = rng.random(num_users) < teleport
        uniform = rng.integers(num_items, size=num_users)
        items[:, step] = np.where(jump, uniform, successors[current, choice])
    return items


def _leave_one_out(items, lengths, num_items, *, name, info) -> Sequences:
    """Step 4 of `make_markov_sequences`: the walks' leave-one-out `Sequences`."""
    num_users, max_length = items.shape
    rows = np.arange(num_users)
    prefix_lengths = np.maximum(lengths - 2, 0)
    in_prefix = np.arange(max_length)[None, :] < prefix_lengths[:, None]
    val = np.where(lengths >= 2, items[rows, np.maximum(lengths - 2, 0)], -1)
    test = items[rows, lengths - 1] if num_users else np.zeros(0, np.int64)
    return Sequences(
        train_indptr=np.concatenate([[0], np.cumsum(prefix_lengths)]),
        train_items=items[in_prefix],
        val_items=val,
        test_items=test,
        user_ids=np.arange(num_users),
        item_ids=np.arange(num_items),
        name=name,
        info=info,
    )


def markov_oracle_scores(
    sequences: Sequences,
    transition: np.ndarray,
    users: np.ndarray,
    *,
    split: str = "test",
) -> np.ndarray:
    """The planted chain's next-item probabilities for each user's query.

    For a first-order chain the next item depends only on the last item of the
    history, so the scores are ``transition[last]`` with ``last`` the final item of
    ``sequences.history(users, split=split, ...)``; a user with an empty history
    gets the uniform start distribution of `make_markov_sequences`. Ranking by these
    scores is Bayes-optimal for the unmasked next item (masking seen items, as the
    evaluator does by default, only removes candidates).

    Args:
        sequences: the `Sequences` sampled from the chain.
        transition: [I, I] row-stochastic matrix from `make_markov_sequences`.
        users: [B] user indices.
        split: "val" (query = training prefix) or "test" (prefix + validation item).

    Returns:
        [B, I] float64 scores (probabilities, rows sum to 1).

    >>> seq, transition = make_markov_sequences(10, 6, mean_length=5, seed=1)
    >>> scores = markov_oracle_scores(seq, transition, np.arange(3))
    >>> scores.shape, bool(np.allclose(scores.sum(1), 1.0))
    ((3, 6), True)
    """
    transition = np.asarray(transition, np.float64)
    num_items = sequences.num_items
    if transition.shape != (num_items, num_items):
        raise ValueError(
            f"transition: expected shape {(num_items, num_items)}, got "
            f"{transition.shape}"
        )
    last = sequences.history(users, split=split, max_len=1)[:, 0].astype(np.int64) - 1
    scores = np.full((last.size, num_items), 1.0 / num_items)
    known = last >= 0
    scores[known] = transition[last[known]]
    return scores
