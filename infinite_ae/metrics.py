"""Top-k ranking metrics and AUC for full-ranking evaluation, as per-user arrays.

Notation used in every docstring: for one user, `T` is the held-out set (the non-zero
entries of `targets`), `R_k` the top-k list of the masked scores, `hits@k = |R_k ∩ T|`
and `m = min(|T|, k)`.

Definitions (where a name has several meanings in the literature, the one used here;
the ∞-AE code's conventions and quirks are in docs/original_code.md):

* `hr_at_k` is the ∞-AE paper's HR@k, `hits / min(|T|, k)` (truncated recall, the
  Mult-VAE Recall@R). It is NOT the binary hit rate, which is `hit_at_k`.
* `recall_at_k` is `hits / |T|` (RecBole, Cornac).
* `ndcg_at_k` uses binary gain and an IDCG over `min(|T|, k)` positions (∞-AE, RecBole,
  Cornac, implicit and LensKit agree on this).
* `psp_at_k` is the propensity-scored precision of the ∞-AE code, with its
  normalisation quirk by default (`inf_ae_compat=True`: the numerator, not the ideal,
  is divided by m; quirk 2 in docs/original_code.md), or properly normalised.
* `global_auc` is the pooled AUC of the ∞-AE code; `user_auc` is the per-user AUC.

Conventions shared by all top-k metrics:

* Items where `mask` is true (the items the user has already seen) are set to `-inf`
  before `jax.lax.top_k` and never count as hits, even when `k` exceeds the number of
  unmasked items (the top-k list is then padded with masked items that are not hits).
* `targets` and `mask` are expected to be disjoint (true for the library's splits). A
  target that is also masked still counts in `|T|` but can never be hit.
* Ties in the scores are broken towards the lower item index (`jax.lax.top_k`). The
  original code used an unstable argsort, so exact ties may rank differently there.
* Scores must not be NaN.
* Users with an empty held-out set (`|T| = 0`) get NaN for every metric, so that
  `valid = num_targets > 0` (or `~isnan`) selects them out of an average. The original
  code crashes on such users; `infinite_ae.evaluation` documents how they are averaged.
* Values are fractions in [0, 1]; `infinite_ae.evaluation` multiplies by 100 like the
  paper.
* `k` is static. `k` larger than the number of items is allowed: top-k is then taken
  over all items, but `precision_at_k` still divides by `k` and `hr_at_k` by
  `min(|T|, k)`.

All `jnp` functions here are pure and can be jitted with `k`/`ks` static; they do not
jit themselves. `global_auc` and `sample_auc_negatives` are host-side NumPy.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse as sp

from infinite_ae.types import ArrayLike

RANKING_METRICS = ("hr", "recall", "hit", "precision", "ndcg", "mrr")
"""Names of the top-k metrics that `ranking_metrics` always returns (keys `name@k`)."""

PSP_METRICS = ("psp", "psp_norm")
"""Names of the propensity-scored metrics, returned when weights are given."""

AUC_TIES = ("half", "original")


def _check_ks(ks: int | Sequence[int]) -> tuple[int, ...]:
    if isinstance(ks, int | np.integer):
        ks = (int(ks),)
    ks = tuple(sorted({int(k) for k in ks}))
    if not ks or ks[0] < 1:
        raise ValueError(f"cut-offs must be positive integers, got {ks}")
    return ks


def _prepare(
    scores: ArrayLike, targets: ArrayLike, mask: ArrayLike | None
) -> tuple[jax.Array, jax.Array, jax.Array | None]:
    scores = jnp.asarray(scores)
    if not jnp.issubdtype(scores.dtype, jnp.floating):
        scores = scores.astype(jnp.float32)
    targets = jnp.asarray(targets)
    if scores.ndim != 2 or targets.shape != scores.shape:
        raise ValueError(
            f"scores and targets must both be [B, I]; got {scores.shape} and "
            f"{targets.shape}"
        )
    targets = targets.astype(bool)
    if mask is not None:
        mask = jnp.asarray(mask)
        if mask.shape != scores.shape:
            raise ValueError(
                f"mask must have the shape of scores {scores.shape}, got {mask.shape}"
            )
        mask = mask.astype(bool)
    return scores, targets, mask


def _nan_where_empty(value: jax.Array, num_targets: jax.Array) -> jax.Array:
    return jnp.where(num_targets > 0, value, jnp.nan)


def _safe_divide(numerator: jax.Array, denominator: jax.Array) -> jax.Array:
    """numerator / denominator, and 0 where the denominator is 0 (masked out later)."""
    positive = denominator > 0
    return jnp.where(positive, numerator / jnp.where(positive, denominator, 1), 0)


def _psp_terms(weights, targets, hits_f, top_items, psp_ideal, ks):
    """`ranking_metrics`' PSP pieces: the cumulative weighted gain [B, kmax] of
    the top items and, per cut-off, the ideal W_m [B] (from `psp_ideal` when
    given, else a second `top_k` over the targets' weights)."""
    num_users, num_items = targets.shape
    kmax = top_items.shape[1]
    weights = jnp.asarray(weights, dtype=jnp.float32)
    if weights.shape != (num_items,):
        raise ValueError(f"weights must be [I] = ({num_items},), got {weights.shape}")
    cum_gain = jnp.cumsum(hits_f * weights[top_items], axis=1)
    if psp_ideal is None:
        # Weights are positive, so the zeros never enter the m largest.
        ideal_top, _ = jax.lax.top_k(jnp.where(targets, weights[None, :], 0.0), kmax)
        cum_ideal_weight = jnp.cumsum(ideal_top, axis=1)
        return cum_gain, [cum_ideal_weight[:, min(k, kmax) - 1] for k in ks]
    psp_ideal = jnp.asarray(psp_ideal, jnp.float32)
    if psp_ideal.shape != (num_users, len(ks)):
        raise ValueError(
            f"psp_ideal must be [B, len(ks)] = ({num_users}, {len(ks)}), got "
            f"{psp_ideal.shape}"
        )
    return cum_gain, [psp_ideal[:, j] for j in range(len(ks))]


def ranking_metrics(
    scores: ArrayLike,
    targets: ArrayLike,
    mask: ArrayLike | None = None,
    *,
    ks: int | Sequence[int] = (10, 100),
    weights: ArrayLike | None = None,
    psp_ideal: ArrayLike | None = None,
) -> dict[str, jax.Array]:
    """All top-k metrics at several cut-offs from ONE `jax.lax.top_k` at max(ks).

    This is the hot path of the evaluation: the masked scores are ranked once, the
    hit indicators of the top max(ks) items are gathered once, and every metric at
    every cut-off is read off prefix sums of those indicators. With hits_j the
    indicator that the item at rank j (0-based) is in T, for each k:

        hr@k        = Σ_{j<k} hits_j / min(|T|, k)        (∞-AE HR, truncated recall)
        recall@k    = Σ_{j<k} hits_j / |T|
        hit@k       = 1[Σ_{j<k} hits_j ≥ 1]
        precision@k = Σ_{j<k} hits_j / k
        ndcg@k      = Σ_{j<k} hits_j / log2(j + 2) / Σ_{j<min(|T|,k)} 1 / log2(j + 2)
        mrr@k       = 1 / (1 + first j < k with hits_j = 1), 0 if there is none

    and, when `weights` w (the inverse propensities of `psp_weights`) are given, with
    W_m = the sum of the m = min(|T|, k) largest w_i over i ∈ T:

        psp@k       = (Σ_{j<k} hits_j w_{R_j} / m) / W_m   (∞-AE code, quirk kept)
        psp_norm@k  = (Σ_{j<k} hits_j w_{R_j}) / W_m        (normalised, in [0, 1])

    Args:
        scores: [B, I] float scores (higher is better), not yet masked.
        targets: [B, I] binary held-out items T (any dtype; non-zero means in T).
        mask: optional [B, I] bool (or binary) items to exclude from the ranking.
        ks: static cut-offs, e.g. (10, 100).
        weights: optional [I] positive per-item PSP weights; adds `psp@k` and
            `psp_norm@k`.
        psp_ideal: optional [B, len(ks)] precomputed PSP ideals W_m, one column per
            sorted cut-off (`psp_ideal_weights` computes them on the host from a
            sparse matrix). Without it W_m costs a second `top_k` over the I items.

    Returns:
        Dict from `"{name}@{k}"` (names in `RANKING_METRICS`, plus `PSP_METRICS` with
        weights) to [B] float32 per-user values in [0, 1]; NaN for users with
        |T| = 0.

    >>> scores = jnp.array([[0.9, 0.8, 0.7, 0.1]])
    >>> targets = jnp.array([[1, 0, 1, 0]])
    >>> out = ranking_metrics(scores, targets, ks=(3,))
    >>> round(float(out["ndcg@3"][0]), 4), float(out["recall@3"][0])
    (0.9197, 1.0)
    """
    ks = _check_ks(ks)
    scores, targets, mask = _prepare(scores, targets, mask)
    num_items = scores.shape[1]
    # top_k needs k ≤ I; larger cut-offs see the whole (masked) ranking.
    kmax = min(ks[-1], num_items)
    if mask is None:
        ranked_scores = scores
    else:
        ranked_scores = jnp.where(mask, -jnp.inf, scores)
    _, top_items = jax.lax.top_k(ranked_scores, kmax)  # [B, kmax]
    hits = jnp.take_along_axis(targets, top_items, axis=1)
    if mask is not None:
        hits = hits & ~jnp.take_along_axis(mask, top_items, axis=1)
    hits_f = hits.astype(jnp.float32)
    num_targets = jnp.sum(targets, axis=1, dtype=jnp.int32).astype(jnp.float32)

    positions = jnp.arange(kmax, dtype=jnp.float32)
    discounts = 1.0 / jnp.log2(positions + 2.0)  # [kmax]
    cum_hits = jnp.cumsum(hits_f, axis=1)
    cum_dcg = jnp.cumsum(hits_f * discounts[None, :], axis=1)
    cum_ideal = jnp.cumsum(discounts)
    any_hit = jnp.any(hits, axis=1)
    first_hit = jnp.argmax(hits, axis=1)  # 0 when there is no hit; any_hit guards.

    if weights is not None:
        cum_gain, ideals = _psp_terms(
            weights, targets, hits_f, top_items, psp_ideal, ks
        )

    out = {}
    for j, k in enumerate(ks):
        last = min(k, kmax) - 1
        hits_k = cum_hits[:, last]
        cutoff = jnp.minimum(num_targets, float(k))  # m = min(|T|, k)
        ideal_pos = jnp.clip(cutoff.astype(jnp.int32) - 1, 0, kmax - 1)
        idcg = cum_ideal[ideal_pos]
        metrics = {
            "hr": _safe_divide(hits_k, cutoff),
            "recall": _safe_divide(hits_k, num_targets),
            "hit": (hits_k > 0).astype(jnp.float32),
            "precision": hits_k / float(k),
            "ndcg": _safe_divide(cum_dcg[:, last], jnp.where(cutoff > 0, idcg, 0.0)),
            "mrr": jnp.where(
                any_hit & (first_hit <= last),
                1.0 / (first_hit.astype(jnp.float32) + 1.0),
                0.0,
            ),
        }
        if weights is not None:
            gain = cum_gain[:, last]
            metrics["psp"] = _safe_divide(_safe_divide(gain, cutoff), ideals[j])
            metrics["psp_norm"] = _safe_divide(gain, ideals[j])
        for name, value in metrics.items():
            out[f"{name}@{k}"] = _nan_where_empty(value, num_targets)
    return out


def ranking_sums(
    scores: ArrayLike,
    targets: ArrayLike,
    mask: ArrayLike | None,
    weights: ArrayLike,
    *,
    ks: int | Sequence[int] = (10, 100),
    names: Sequence[str] = RANKING_METRICS,
) -> dict[str, jax.Array]:
    """Weighted sums over users of `ranking_metrics`, for averages over many batches.

    A user with |T| = 0 adds 0 to every sum but its weight to ``"count"``, so
    ``sum / count`` is the average over all users (the ∞-AE denominator). Weights
    are 1 for real rows and 0 for the padding rows of a fixed-size batch.

    Args:
      scores: [B, I] float scores, unmasked.
      targets: [B, I] held-out items (non-zero = in T).
      mask: optional [B, I] seen items (non-zero = excluded from the ranking).
      weights: [B] user weights.
      ks: static cut-offs.
      names: which metrics of `RANKING_METRICS` to sum (static).

    Returns:
      {"name@k": [] Σ_b w_b metric_b for every name and k, "count": [] Σ_b w_b}.

    >>> out = ranking_sums(jnp.array([[2.0, 1.0, 0.0], [0.0, 1.0, 2.0]]),
    ...                    jnp.array([[1, 0, 0], [1, 0, 0]]), None,
    ...                    jnp.array([1.0, 1.0]), ks=(1,), names=("hr",))
    >>> float(out["hr@1"]), float(out["count"])
    (1.0, 2.0)
    """
    unknown = sorted(set(names) - set(RANKING_METRICS))
    if unknown:
        raise ValueError(f"unknown metrics {unknown}; valid: {RANKING_METRICS}")
    weights = jnp.asarray(weights, jnp.float32)
    per_user = ranking_metrics(scores, targets, mask, ks=ks)
    out = {"count": jnp.sum(weights)}
    for k in _check_ks(ks):
        for name in names:
            value = per_user[f"{name}@{k}"]
            out[f"{name}@{k}"] = jnp.sum(
                jnp.where(jnp.isnan(value), 0.0, value) * weights
            )
    return out


def _single(name: str, scores, targets, mask, k: int, **kwargs) -> jax.Array:
    return ranking_metrics(scores, targets, mask, ks=(k,), **kwargs)[f"{name}@{k}"]


def hr_at_k(
    scores: ArrayLike, targets: ArrayLike, mask: ArrayLike | None = None, *, k: int
) -> jax.Array:
    """∞-AE paper's HR@k: hits / min(|T|, k), i.e. truncated recall (per user).

    HR@k = |R_k ∩ T| / min(|T|, k). This is what the ∞-AE / Distill-CF code and paper
    call HR@k (Mult-VAE's Recall@R); it is NOT the binary hit rate (`hit_at_k`).

    Args:
        scores: [B, I] float scores, not yet masked.
        targets: [B, I] binary held-out items T.
        mask: optional [B, I] bool seen items, excluded from the ranking.
        k: static cut-off.

    Returns:
        [B] float32 in [0, 1]; NaN where |T| = 0.

    >>> hr_at_k(jnp.array([[3.0, 2.0, 1.0]]), jnp.array([[0, 1, 1]]), k=2)
    Array([0.5], dtype=float32)
    """
    return _single("hr", scores, targets, mask, k)


def recall_at_k(
    scores: ArrayLike, targets: ArrayLike, mask: ArrayLike | None = None, *, k: int
) -> jax.Array:
    """Recall@k = |R_k ∩ T| / |T| (RecBole, Cornac definition), per user.

    Args:
        scores: [B, I] float scores, not yet masked.
        targets: [B, I] binary held-out items T.
        mask: optional [B, I] bool seen items, excluded from the ranking.
        k: static cut-off.

    Returns:
        [B] float32 in [0, 1]; NaN where |T| = 0.

    >>> recall_at_k(jnp.array([[3.0, 2.0, 1.0]]), jnp.array([[1, 0, 1]]), k=1)
    Array([0.5], dtype=float32)
    """
    return _single("recall", scores, targets, mask, k)


def hit_at_k(
    scores: ArrayLike, targets: ArrayLike, mask: ArrayLike | None = None, *, k: int
) -> jax.Array:
    """Hit@k = 1[|R_k ∩ T| ≥ 1], the binary hit rate (RecBole `Hit`), per user.

    Args:
        scores: [B, I] float scores, not yet masked.
        targets: [B, I] binary held-out items T.
        mask: optional [B, I] bool seen items, excluded from the ranking.
        k: static cut-off.

    Returns:
        [B] float32 in {0, 1}; NaN where |T| = 0.

    >>> hit_at_k(jnp.array([[3.0, 2.0, 1.0]]), jnp.array([[0, 1, 1]]), k=2)
    Array([1.], dtype=float32)
    """
    return _single("hit", scores, targets, mask, k)


def precision_at_k(
    scores: ArrayLike, targets: ArrayLike, mask: ArrayLike | None = None, *, k: int
) -> jax.Array:
    """Precision@k = |R_k ∩ T| / k (per user; k, not min(k, I), is the denominator).

    Args:
        scores: [B, I] float scores, not yet masked.
        targets: [B, I] binary held-out items T.
        mask: optional [B, I] bool seen items, excluded from the ranking.
        k: static cut-off.

    Returns:
        [B] float32 in [0, 1]; NaN where |T| = 0.

    >>> precision_at_k(jnp.array([[3.0, 2.0, 1.0]]), jnp.array([[1, 0, 1]]), k=2)
    Array([0.5], dtype=float32)
    """
    return _single("precision", scores, targets, mask, k)


def ndcg_at_k(
    scores: ArrayLike, targets: ArrayLike, mask: ArrayLike | None = None, *, k: int
) -> jax.Array:
    """nDCG@k with binary gain and the IDCG over min(|T|, k) positions, per user.

    DCG@k = Σ_{j<k, R_j ∈ T} 1 / log2(j + 2) (0-based rank j);
    IDCG@k = Σ_{j<min(|T|, k)} 1 / log2(j + 2); nDCG@k = DCG@k / IDCG@k.
    Same as the ∞-AE code, RecBole, Cornac (binary), implicit and LensKit.

    Args:
        scores: [B, I] float scores, not yet masked.
        targets: [B, I] binary held-out items T.
        mask: optional [B, I] bool seen items, excluded from the ranking.
        k: static cut-off.

    Returns:
        [B] float32 in [0, 1]; NaN where |T| = 0.

    Hits at ranks 1 and 3 of k = 3 with |T| = 2: (1 + 1/2) / (1 + 1/log2(3)).

    >>> out = ndcg_at_k(jnp.array([[3.0, 2.0, 1.0]]), jnp.array([[1, 0, 1]]), k=3)
    >>> round(float(out[0]), 4)
    0.9197
    """
    return _single("ndcg", scores, targets, mask, k)


def mrr_at_k(
    scores: ArrayLike, targets: ArrayLike, mask: ArrayLike | None = None, *, k: int
) -> jax.Array:
    """MRR@k = 1 / rank of the first hit within the top k (1-based), else 0; per user.

    Args:
        scores: [B, I] float scores, not yet masked.
        targets: [B, I] binary held-out items T.
        mask: optional [B, I] bool seen items, excluded from the ranking.
        k: static cut-off.

    Returns:
        [B] float32 in [0, 1]; NaN where |T| = 0.

    >>> mrr_at_k(jnp.array([[3.0, 2.0, 1.0]]), jnp.array([[0, 0, 1]]), k=3)
    Array([0.33333334], dtype=float32)
    """
    return _single("mrr", scores, targets, mask, k)


def psp_at_k(
    scores: ArrayLike,
    targets: ArrayLike,
    mask: ArrayLike | None,
    weights: ArrayLike,
    *,
    k: int,
    inf_ae_compat: bool = True,
) -> jax.Array:
    """Propensity-scored precision PSP@k (Jain et al., KDD 2016), per user.

    With w_i the inverse-propensity weights (`psp_weights`), m = min(|T|, k) and W_m the
    sum of the m largest w_i over i ∈ T:

        inf_ae_compat=True:  PSP@k = (Σ_{i ∈ R_k ∩ T} w_i / m) / W_m
        inf_ae_compat=False: PSP@k = (Σ_{i ∈ R_k ∩ T} w_i) / W_m       (in [0, 1])

    The ∞-AE code divides the numerator by m but not the ideal W_m (quirk 2 in
    docs/original_code.md), which shrinks published PSP values by 1/m;
    `inf_ae_compat=True` reproduces the published numbers, `False` is the properly
    normalised variant.

    Args:
        scores: [B, I] float scores, not yet masked.
        targets: [B, I] binary held-out items T.
        mask: [B, I] bool seen items excluded from the ranking, or None.
        weights: [I] positive per-item weights w_i.
        k: static cut-off.
        inf_ae_compat: keep the ∞-AE normalisation quirk (default, paper numbers).

    Returns:
        [B] float32; NaN where |T| = 0.

    >>> w = jnp.array([1.0, 2.0, 4.0])
    >>> s, t = jnp.array([[3.0, 2.0, 1.0]]), jnp.array([[1, 0, 1]])
    >>> psp_at_k(s, t, None, w, k=1, inf_ae_compat=False)  # 1 / 4
    Array([0.25], dtype=float32)
    >>> psp_at_k(s, t, None, w, k=3)  # (5 / 2) / 5
    Array([0.5], dtype=float32)
    """
    name = "psp" if inf_ae_compat else "psp_norm"
    return _single(name, scores, targets, mask, k, weights=weights)


def psp_weights(
    item_counts: ArrayLike,
    num_interactions: float | None = None,
    *,
    a: float = 0.55,
    b: float = 1.5,
) -> jax.Array:
    """Inverse-propensity PSP weights w_i = 1 + C (n_i + B)^(-A) (Jain et al., 2016).

    C = (ln N - 1) (B + 1)^A, with n_i the train interactions of item i and N all
    train interactions; A = 0.55 and B = 1.5 as in the ∞-AE code (which calls these
    "propensities" although they are the 1/p_i weights: larger for rare items).

    Args:
        item_counts: [I] train interaction counts n_i.
        num_interactions: N; defaults to sum(item_counts), which is the ∞-AE value
            (the number of binary train interactions).
        a: the exponent A.
        b: the offset B.

    Returns:
        [I] float32 weights, each ≥ 1.

    >>> w = psp_weights(jnp.array([0.0, 10.0]), 100.0)
    >>> [round(float(x), 4) for x in w]
    [5.7747, 2.5574]
    """
    counts = jnp.asarray(item_counts, dtype=jnp.float32)
    if counts.ndim != 1:
        raise ValueError(f"item_counts must be [I], got shape {counts.shape}")
    total = jnp.sum(counts) if num_interactions is None else num_interactions
    c = (jnp.log(jnp.asarray(total, jnp.float32)) - 1.0) * (b + 1.0) ** a
    return 1.0 + c * (counts + b) ** (-a)


def _wins(
    pos_scores: jax.Array, sorted_negatives: jax.Array, num_negatives: jax.Array
) -> jax.Array:
    """Per entry of pos_scores [B, P]: #neg < s + 0.5 #neg == s (negatives sorted)."""
    search = jax.vmap(jnp.searchsorted, in_axes=(0, 0, None))
    below = search(sorted_negatives, pos_scores, "left")
    # +inf padding sorts last; the clip keeps it out of the ties of a +inf score.
    below_or_equal = jnp.minimum(
        search(sorted_negatives, pos_scores, "right"), num_negatives[:, None]
    )
    return below.astype(jnp.float32) + 0.5 * (below_or_equal - below)


def user_auc(
    scores: ArrayLike,
    targets: ArrayLike,
    mask: ArrayLike | None = None,
    *,
    negatives: ArrayLike | None = None,
) -> jax.Array:
    """Per-user ROC AUC of the held-out items against negatives; ties count 1/2.

    AUC_u = (1 / (|T| |N_u|)) Σ_{p ∈ T} Σ_{n ∈ N_u} (1[s_p > s_n] + 0.5 1[s_p = s_n])

    (the Mann-Whitney statistic; equals sklearn's `roc_auc_score` per user). The
    scores are used UNMASKED, as in the ∞-AE AUC. The negatives N_u are either

    * `negatives` given: the sampled items of `sample_auc_negatives` ([B, N], -1
      padding ignored), like the ∞-AE code (which only reports their pooled AUC), or
    * `negatives=None`: every item that is neither in T nor masked (Cornac's AUC).

    This dense variant sorts the negatives and binary-searches all I scores of each
    user; it is slow on CPU (~1-2 s for 6,040 x 3,706). `infinite_ae.evaluation`
    gathers the positive and negative scores and uses `grouped_auc` on the host.

    Args:
        scores: [B, I] float scores (unmasked).
        targets: [B, I] binary positives T.
        mask: optional [B, I] bool seen items; only used to exclude them from the
            negatives when `negatives` is None.
        negatives: optional [B, N] int sampled negative items, -1 for padding.

    Returns:
        [B] float32 AUC in [0, 1]; NaN where T or the negatives are empty.

    >>> s = jnp.array([[0.9, 0.5, 0.5, 0.1]])
    >>> user_auc(s, jnp.array([[0, 1, 0, 0]]))  # (0 + 0.5 + 1) / 3
    Array([0.5], dtype=float32)
    """
    scores, targets, mask = _prepare(scores, targets, mask)
    if negatives is None:
        is_negative = ~targets if mask is None else ~targets & ~mask
        negative_scores = jnp.where(is_negative, scores, jnp.inf)
        num_negatives = jnp.sum(is_negative, axis=1, dtype=jnp.int32)
    else:
        negatives = jnp.asarray(negatives)
        if negatives.ndim != 2 or negatives.shape[0] != scores.shape[0]:
            raise ValueError(
                f"negatives must be [B, N] with B = {scores.shape[0]}, "
                f"got {negatives.shape}"
            )
        valid = negatives >= 0
        gathered = jnp.take_along_axis(scores, jnp.maximum(negatives, 0), axis=1)
        negative_scores = jnp.where(valid, gathered, jnp.inf)
        num_negatives = jnp.sum(valid, axis=1, dtype=jnp.int32)
    wins = _wins(scores, jnp.sort(negative_scores, axis=1), num_negatives)
    wins = jnp.sum(jnp.where(targets, wins, 0.0), axis=1)
    num_pos = jnp.sum(targets, axis=1, dtype=jnp.int32)
    pairs = num_pos.astype(jnp.float32) * num_negatives.astype(jnp.float32)
    return jnp.where(pairs > 0, wins / jnp.where(pairs > 0, pairs, 1.0), jnp.nan)


def paired_auc(
    pos_scores: ArrayLike,
    neg_scores: ArrayLike,
    *,
    pos_valid: ArrayLike | None = None,
    neg_valid: ArrayLike | None = None,
) -> jax.Array:
    """Per-user AUC from already gathered positive and negative scores; ties count 1/2.

    AUC_u = Σ_{p, n valid} (1[s_p > s_n] + 0.5 1[s_p = s_n]) / (#valid p · #valid n),
    i.e. `user_auc` when the positive scores are gathered at T. Cost is
    O(B (P + N) log N), independent of the number of items.

    Args:
        pos_scores: [B, P] scores of each user's positives (padded).
        neg_scores: [B, N] scores of each user's negatives (padded).
        pos_valid: optional [B, P] bool, false on padding.
        neg_valid: optional [B, N] bool, false on padding.

    Returns:
        [B] float32 AUC; NaN where a user has no valid positive or negative.

    >>> paired_auc(jnp.array([[0.5, 0.2]]), jnp.array([[0.5, 0.1]]))  # 2.5 / 4
    Array([0.625], dtype=float32)
    """
    pos_scores = jnp.asarray(pos_scores)
    neg_scores = jnp.asarray(neg_scores)
    if pos_scores.ndim != 2 or neg_scores.ndim != 2:
        raise ValueError(
            f"expected [B, P] and [B, N], got {pos_scores.shape}, {neg_scores.shape}"
        )
    if pos_scores.shape[0] != neg_scores.shape[0]:
        raise ValueError(
            f"batch sizes differ: {pos_scores.shape} vs {neg_scores.shape}"
        )
    if pos_valid is None:
        pos_valid = jnp.ones(pos_scores.shape, bool)
    if neg_valid is None:
        neg_valid = jnp.ones(neg_scores.shape, bool)
    pos_valid = jnp.asarray(pos_valid, bool)
    neg_valid = jnp.asarray(neg_valid, bool)
    num_negatives = jnp.sum(neg_valid, axis=1, dtype=jnp.int32)
    sorted_negatives = jnp.sort(jnp.where(neg_valid, neg_scores, jnp.inf), axis=1)
    wins = _wins(pos_scores, sorted_negatives, num_negatives)
    wins = jnp.sum(jnp.where(pos_valid, wins, 0.0), axis=1)
    num_pos = jnp.sum(pos_valid, axis=1, dtype=jnp.int32)
    pairs = num_pos.astype(jnp.float32) * num_negatives.astype(jnp.float32)
    return jnp.where(pairs > 0, wins / jnp.where(pairs > 0, pairs, 1.0), jnp.nan)


def psp_ideal_weights(
    targets: sp.spmatrix, weights: ArrayLike, *, ks: int | Sequence[int]
) -> np.ndarray:
    """Host-side PSP ideals W_m: the sum of the m = min(|T|, k) largest w_i in T.

    Computed from the sparse held-out matrix in O(nnz log nnz), once per evaluation,
    so that `ranking_metrics(..., psp_ideal=...)` needs no second top-k over items.

    Args:
        targets: [U, I] sparse held-out items (non-zero = in T).
        weights: [I] positive PSP weights.
        ks: cut-offs (sorted and de-duplicated, as in `ranking_metrics`).

    Returns:
        [U, len(ks)] float32; 0 for users with |T| = 0.

    >>> t = sp.csr_matrix(np.array([[1, 0, 1], [0, 0, 0]], np.float32))
    >>> psp_ideal_weights(t, np.array([1.0, 2.0, 4.0]), ks=(1, 3)).tolist()
    [[4.0, 5.0], [0.0, 0.0]]
    """
    ks = _check_ks(ks)
    csr = sp.csr_matrix(targets, dtype=np.float32, copy=True)
    csr.sum_duplicates()
    csr.eliminate_zeros()
    weights = np.asarray(weights, dtype=np.float64).reshape(-1)
    if weights.shape != (csr.shape[1],):
        raise ValueError(
            f"weights must be [I] = ({csr.shape[1]},), got {weights.shape}"
        )
    lengths = np.diff(csr.indptr).astype(np.int64)
    rows = np.repeat(np.arange(csr.shape[0]), lengths)
    entry_weights = weights[csr.indices]
    # Within each row, decreasing weight.
    ordered = entry_weights[np.lexsort((-entry_weights, rows))]
    cumulative = np.concatenate([[0.0], np.cumsum(ordered)])
    starts = csr.indptr[:-1].astype(np.int64)
    out = np.empty((csr.shape[0], len(ks)), dtype=np.float32)
    for j, k in enumerate(ks):
        out[:, j] = cumulative[starts + np.minimum(lengths, k)] - cumulative[starts]
    return out


def grouped_auc(
    scores: ArrayLike, labels: ArrayLike, groups: ArrayLike, *, num_groups: int
) -> np.ndarray:
    """Per-group (per-user) AUC of pooled pairs on the host; ties count 1/2.

    AUC_g = Σ_{p ∈ pos_g} Σ_{n ∈ neg_g} (1[s_p > s_n] + 0.5 1[s_p = s_n])
            / (|pos_g| |neg_g|),

    comparing only entries of the same group. One lexicographic sort of all entries,
    O(M log M) for M entries, so its cost follows the number of pairs actually held
    out rather than a padded [B, P] layout. Equals `user_auc` / `paired_auc`.

    Args:
        scores: [M] float scores.
        labels: [M] 1 for positives, 0 for negatives.
        groups: [M] int group (user) of each entry, in [0, num_groups).
        num_groups: number of groups G.

    Returns:
        [G] float64 AUC; NaN for groups without a positive or without a negative.

    >>> grouped_auc([0.5, 0.2, 0.5, 0.1, 1.0, 0.0], [1, 1, 0, 0, 1, 0],
    ...             [0, 0, 0, 0, 1, 1], num_groups=3).tolist()
    [0.625, 1.0, nan]
    """
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    labels = np.asarray(labels).reshape(-1).astype(bool)
    groups = np.asarray(groups).reshape(-1).astype(np.int64)
    if not scores.shape == labels.shape == groups.shape:
        raise ValueError(
            f"scores {scores.shape}, labels {labels.shape} and groups {groups.shape} "
            "must have the same shape"
        )
    if scores.size == 0:
        return np.full(num_groups, np.nan)
    # Sort by (group, score) with one integer key: group * M + dense score rank
    # (several times faster than np.lexsort on two keys).
    by_score = np.argsort(scores)
    sorted_scores = scores[by_score]
    new_value = np.ones(scores.shape, bool)
    new_value[1:] = sorted_scores[1:] != sorted_scores[:-1]
    dense_rank = np.empty(scores.shape, np.int64)
    dense_rank[by_score] = np.cumsum(new_value) - 1
    key = groups * scores.size + dense_rank
    order = np.argsort(key)
    key, labels, groups = key[order], labels[order], groups[order]
    # Runs of equal key, i.e. equal (group, score): the tie blocks.
    new_block = np.ones(scores.shape, bool)
    new_block[1:] = key[1:] != key[:-1]
    block = np.cumsum(new_block) - 1
    negative = (~labels).astype(np.int64)
    negatives_before = np.cumsum(negative) - negative  # exclusive prefix count
    block_start = np.flatnonzero(new_block)
    negatives_before_block = negatives_before[block_start][block]
    negatives_in_block = np.add.reduceat(negative, block_start)[block]
    new_group = np.ones(scores.shape, bool)
    new_group[1:] = groups[1:] != groups[:-1]
    group_start = np.flatnonzero(new_group)
    group_index = np.cumsum(new_group) - 1
    negatives_before_group = negatives_before[group_start][group_index]
    wins = np.where(
        labels,
        negatives_before_block - negatives_before_group + 0.5 * negatives_in_block,
        0.0,
    )
    total_wins = np.bincount(groups, weights=wins, minlength=num_groups)
    num_pos = np.bincount(groups, weights=labels, minlength=num_groups)
    num_neg = np.bincount(groups, weights=~labels, minlength=num_groups)
    pairs = num_pos * num_neg
    out = np.full(num_groups, np.nan)
    np.divide(total_wins, pairs, out=out, where=pairs > 0)
    return out


def global_auc(scores: ArrayLike, labels: ArrayLike, *, ties: str = "half") -> float:
    """Pooled ROC AUC over all (user, item) pairs, the ∞-AE code's AUC (host NumPy).

    One ROC over every pooled pair: the test positives of all users against the
    (typically 50) sampled negatives of all users, compared across users too:

        AUC = Σ_{p ∈ pos} Σ_{n ∈ neg} c(s_p, s_n) / (|pos| |neg|)

    Tie handling (`c` for s_p = s_n):

    * `ties="half"` (default): c = 1/2, the Mann-Whitney statistic (equals sklearn's
      `roc_auc_score`); independent of the input order.
    * `ties="original"`: the ∞-AE `fast_auc` loop: sort ascending, then each positive
      counts every negative sorted before it; ties are not averaged, so a tied pair
      counts 1 if the negative happens to sort first, else 0. The original used
      numba's unstable quicksort; here a stable sort of the pooled array in the given
      order is used (the evaluation pools each user's positives, then negatives, user
      by user, like the original). Equal to "half" when no positive ties a negative.

    Ties across users are common for item-only scorers (e.g. popularity), where
    the two modes differ noticeably.

    Args:
        scores: [N] pooled float scores (unmasked).
        labels: [N] 1 for a positive pair, 0 for a negative pair.
        ties: "half" or "original".

    Returns:
        The AUC as a Python float in [0, 1] (float64 arithmetic); NaN if there are
        no positives or no negatives.

    Raises:
        ValueError: unknown `ties` or mismatched shapes.

    >>> global_auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])
    0.75
    """
    if ties not in AUC_TIES:
        raise ValueError(f"ties must be one of {AUC_TIES}, got {ties!r}")
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    labels = np.asarray(labels).reshape(-1).astype(bool)
    if scores.shape != labels.shape:
        raise ValueError(f"scores {scores.shape} and labels {labels.shape} differ")
    num_pos = int(labels.sum())
    num_neg = labels.size - num_pos
    if num_pos == 0 or num_neg == 0:
        return float("nan")
    if ties == "half":
        negatives = np.sort(scores[~labels])
        # Sorted queries make the binary searches cache-friendly (several x faster).
        positives = np.sort(scores[labels])
        below = np.searchsorted(negatives, positives, side="left")
        below_or_equal = np.searchsorted(negatives, positives, side="right")
        wins = below.sum(dtype=np.float64) + 0.5 * (below_or_equal - below).sum(
            dtype=np.float64
        )
    else:
        ordered = labels[np.argsort(scores, kind="stable")]
        negatives_so_far = np.cumsum(~ordered, dtype=np.int64)
        wins = negatives_so_far[ordered].sum(dtype=np.float64)
    return float(wins / (float(num_pos) * float(num_neg)))


def sample_auc_negatives(
    train: sp.spmatrix,
    test: sp.spmatrix,
    *,
    num: int = 50,
    rng: np.random.Generator,
    chunk_users: int = 8192,
) -> np.ndarray:
    """Draws `num` distinct AUC negatives per user from items in neither train nor test.

    As in the ∞-AE code (`data.py`), each user's negatives are a uniformly random set
    of `num` distinct items outside the user's train and test items, drawn once; they
    MAY include validation items. The draw is a vectorised version of the original
    rejection loop (same distribution, different random stream), with an explicit
    generator instead of the global NumPy RNG.

    Users with fewer than `num` candidate items get all their candidates (in random
    order) followed by -1 padding; the original loops forever on them.

    Args:
        train: [U, I] sparse train interactions.
        test: [U, I] sparse test interactions.
        num: negatives per user.
        rng: NumPy generator.
        chunk_users: users drawn per vectorised chunk (bounds memory).

    Returns:
        [U, num] int32 item indices, -1 for padding.

    >>> train = sp.csr_matrix(np.array([[1, 0, 0, 0]], np.float32))
    >>> test = sp.csr_matrix(np.array([[0, 1, 0, 0]], np.float32))
    >>> neg = sample_auc_negatives(train, test, num=3, rng=np.random.default_rng(0))
    >>> sorted(neg[0].tolist())
    [-1, 2, 3]
    """
    if train.shape != test.shape:
        raise ValueError(f"train {train.shape} and test {test.shape} differ")
    if num < 1:
        raise ValueError(f"num must be positive, got {num}")
    num_users, num_items = train.shape
    seen = sp.csr_matrix(train, dtype=np.float32) + sp.csr_matrix(
        test, dtype=np.float32
    )
    seen.eliminate_zeros()
    seen.sum_duplicates()
    seen.sort_indices()
    seen_rows = np.repeat(np.arange(num_users, dtype=np.int64), np.diff(seen.indptr))
    # Sorted because the CSR rows are in order and each row's indices are sorted.
    seen_keys = seen_rows * num_items + seen.indices.astype(np.int64)
    out = np.full((num_users, num), -1, dtype=np.int32)
    num_draws = 2 * num + 16
    unfinished = []
    for start in range(0, num_users, chunk_users):
        users = np.arange(start, min(start + chunk_users, num_users), dtype=np.int64)
        draws = rng.integers(0, num_items, size=(users.size, num_draws))
        keys = users[:, None] * num_items + draws
        flat = keys.reshape(-1)
        order = np.argsort(flat, kind="stable")
        sorted_flat = flat[order]
        # Work in sorted order: binary searches on sorted queries are cache-friendly.
        rejected_sorted = np.zeros(flat.shape, bool)
        if seen_keys.size:
            where = np.searchsorted(seen_keys, sorted_flat)
            where = np.minimum(where, seen_keys.size - 1)
            rejected_sorted = seen_keys[where] == sorted_flat
        # A repeat of an earlier draw of the same user is rejected, as in the loop.
        rejected_sorted[1:] |= sorted_flat[1:] == sorted_flat[:-1]
        rejected = np.empty_like(rejected_sorted)
        rejected[order] = rejected_sorted
        accepted = ~rejected.reshape(keys.shape)
        rank = np.cumsum(accepted, axis=1)
        done = rank[:, -1] >= num
        take = accepted & (rank <= num) & done[:, None]
        out[users[done]] = draws[take].reshape(-1, num)
        unfinished.extend(users[~done].tolist())
    for user in unfinished:
        row_seen = seen.indices[seen.indptr[user] : seen.indptr[user + 1]]
        candidates = np.setdiff1d(np.arange(num_items), row_seen)
        count = min(num, candidates.size)
        out[user, :count] = rng.choice(candidates, size=count, replace=False)
    return out
