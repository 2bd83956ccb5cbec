"""Candidate pool of DConRec: training interactions, pseudo-positives, tail set.

Pre-augmentation: a proxy recommender trained on the training split proposes each
user's top-ranked unseen items as candidate pseudo-positives (DConRec's "false
negatives"); the outer loop decides through s which of them survive. Long-tail
compensation: every training interaction of a user whose training degree is at most a
threshold is kept in every condensed set. Provenance codes:
ORIGINAL = 0 (a training interaction chosen through s), PSEUDO = 1 (a proxy
pseudo-positive), TAIL = 2 (a long-tail user's training interaction, always kept).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse as sp

from infinite_ae.types import Array

ORIGINAL, PSEUDO, TAIL = 0, 1, 2
PROVENANCE_NAMES = ("original", "pseudo", "tail")


class Pool(NamedTuple):
    """Candidates and the always-kept tail set (NumPy, host side).

    Attributes:
      users: [N] int32 user of each candidate.
      items: [N] int32 item of each candidate.
      is_pseudo: [N] bool, True for pseudo-positives.
      tail_users: [T] int32 users of the tail interactions.
      tail_items: [T] int32 items of the tail interactions.
      num_train: N_tr, the number of training interactions.
    """

    users: np.ndarray
    items: np.ndarray
    is_pseudo: np.ndarray
    tail_users: np.ndarray
    tail_items: np.ndarray
    num_train: int


@jax.jit
def _masked_top_k_scores(user_emb, item_emb, mask_value, train_rows):
    scores = user_emb @ item_emb.T
    return jnp.where(train_rows, mask_value, scores)


def pseudo_positives(
    user_emb: Array,
    item_emb: Array,
    train: sp.csr_matrix,
    *,
    ratio: float,
    min_per_user: int = 5,
    exclusion: str = "exact",
    batch_size: int = 1024,
) -> tuple[np.ndarray, np.ndarray]:
    """Top unseen items of a proxy model per user (the pseudo-positives).

    k_u = max(min_per_user, floor(ratio * deg_u)) items per user, capped by the number
    of items the user has not seen in training.

    Args:
      user_emb: [U, d] proxy user embeddings.
      item_emb: [I, d] proxy item embeddings.
      train: [U, I] CSR training interactions.
      ratio: pseudo-positives per user as a fraction of the training degree.
      min_per_user: lower bound on k_u.
      exclusion: "exact" (training items get -inf and are never selected; clean)
        or "minus_one" (training items get score -1, as the official code: they can
        be re-selected if real scores fall below -1; DConRec quirk 4 in
        docs/original_code.md).
      batch_size: users per scoring batch.

    Returns:
      (users [N_p], items [N_p]) int32, sorted by user then rank.
    """
    num_users, num_items = train.shape
    deg = np.diff(train.indptr)
    k_u = np.maximum(min_per_user, np.floor(ratio * deg).astype(np.int64))
    if exclusion == "exact":
        k_u = np.minimum(k_u, num_items - deg)
        mask_value = -np.inf
    elif exclusion == "minus_one":
        k_u = np.minimum(k_u, num_items)
        mask_value = -1.0
    else:
        raise ValueError(f"unknown exclusion {exclusion!r}; valid: exact, minus_one")
    k_max = int(k_u.max()) if num_users else 0
    out_u, out_i = [], []
    for start in range(0, num_users, batch_size):
        rows = np.arange(start, min(start + batch_size, num_users))
        padded = np.pad(rows, (0, batch_size - len(rows)))
        train_rows = train[padded].toarray() > 0
        scores = np.asarray(
            _masked_top_k_scores(
                user_emb[padded], item_emb, jnp.float32(mask_value), train_rows
            )
        )[: len(rows)]
        # Stable ranking: highest score first, ties by item index.
        top = np.argsort(-scores, axis=1, kind="stable")[:, :k_max]
        for r, u in enumerate(rows):
            chosen = top[r, : k_u[u]]
            chosen = chosen[np.isfinite(scores[r, chosen])]
            out_u.append(np.full(len(chosen), u, np.int32))
            out_i.append(chosen.astype(np.int32))
    if not out_u:
        return np.zeros(0, np.int32), np.zeros(0, np.int32)
    return np.concatenate(out_u), np.concatenate(out_i)


def tail_users(train: sp.csr_matrix, threshold: int) -> np.ndarray:
    """Users whose training degree is <= threshold (0 disables). Returns [T_u] int."""
    if threshold <= 0:
        return np.zeros(0, np.int64)
    deg = np.diff(train.indptr)
    return np.flatnonzero((deg <= threshold) & (deg > 0))


def build_pool(
    train: sp.csr_matrix,
    pseudo_users: np.ndarray,
    pseudo_items: np.ndarray,
    *,
    tail_threshold: int,
    tail_in_pool: bool = False,
) -> Pool:
    """Pool = training interactions (+ pseudo-positives); tail set from `train`.

    Args:
      train: [U, I] CSR training interactions (N_tr nonzeros).
      pseudo_users: [N_p] users of the pseudo-positives.
      pseudo_items: [N_p] items of the pseudo-positives.
      tail_threshold: users with training degree <= this are long-tail users.
      tail_in_pool: True keeps tail interactions in the pool too, so they can appear
        twice (the official code; DConRec quirk 7 in docs/original_code.md); the clean
        default removes them from the pool.

    Returns:
      `Pool`.
    """
    coo = train.tocoo()
    users = coo.row.astype(np.int32)
    items = coo.col.astype(np.int32)
    order = np.lexsort((items, users))
    users, items = users[order], items[order]
    tails = tail_users(train, tail_threshold)
    in_tail = np.isin(users, tails)
    keep = np.ones_like(in_tail) if tail_in_pool else ~in_tail
    pool_users = np.concatenate([users[keep], np.asarray(pseudo_users, np.int32)])
    pool_items = np.concatenate([items[keep], np.asarray(pseudo_items, np.int32)])
    is_pseudo = np.concatenate(
        [np.zeros(int(keep.sum()), bool), np.ones(len(pseudo_users), bool)]
    )
    return Pool(
        users=pool_users,
        items=pool_items,
        is_pseudo=is_pseudo,
        tail_users=users[in_tail],
        tail_items=items[in_tail],
        num_train=int(train.nnz),
    )


def per_user_cap(counts: np.ndarray, mass: float) -> float:
    """The real c with Σ_u min(n_u, c) = mass (water-filling over users).

    Args:
      counts: [U] candidates per user (n_u >= 0).
      mass: total to spread, 0 <= mass <= Σ n_u.

    Returns:
      c >= 0; every user keeps min(n_u, c) in expectation.

    >>> per_user_cap(np.array([1, 3, 10]), 7.0)
    3.0
    """
    counts = np.sort(np.asarray(counts, np.float64))
    total = counts.sum()
    if not 0.0 <= mass <= total * (1 + 1e-12):
        raise ValueError(f"mass {mass} outside [0, {total}]")
    # Users below position j keep everything; the rest keep c each.
    below = np.concatenate([[0.0], np.cumsum(counts)[:-1]])
    above = counts.size - np.arange(counts.size)
    # c candidate for each j: (mass - below_j) / above_j; valid where it lies in
    # [counts[j-1], counts[j]].
    c = (mass - below) / above
    lower = np.concatenate([[0.0], counts[:-1]])
    ok = (c >= lower - 1e-9) & (c <= counts + 1e-9)
    return float(c[np.flatnonzero(ok)[0]]) if ok.any() else float(counts[-1])


def initial_probs(
    users: np.ndarray,
    is_pseudo: np.ndarray,
    mass: float,
    *,
    pseudo_share: float | None = None,
    original_init: str = "uniform",
) -> np.ndarray:
    """Initial keep-probabilities s of the candidates, Σ s = mass.

    pseudo_share None and original_init "uniform": s_c = mass / N for every
    candidate (the official code). Otherwise (deviations, both config flags):

    * pseudo_share = q: the pseudo-positives get q · mass spread uniformly, capped at
      s = 1; the training candidates get the rest (so q = 1 keeps every
      pseudo-positive with probability 1 when they fit in the mass). None gives the
      pseudo group its uniform share, N_p / N · mass.
    * original_init = "per_user": the training candidates' mass is water-filled over
      users, s = min(1, c / n_u) with c from `per_user_cap`, so every user keeps
      min(n_u, c) of his n_u training candidates in expectation: light users keep
      everything, heavy users are thinned most. "uniform" spreads it evenly.

    Args:
      users: [N] user of each candidate.
      is_pseudo: [N] True for pseudo-positives.
      mass: Σ s, 0 <= mass <= N.
      pseudo_share: share of `mass` on the pseudo-positives (None: uniform).
      original_init: "uniform" | "per_user".

    Returns:
      [N] float32 in [0, 1].
    """
    if original_init not in ("uniform", "per_user"):
        raise ValueError(f"original_init {original_init!r}; valid: uniform, per_user")
    if pseudo_share is not None and not 0.0 <= pseudo_share <= 1.0:
        raise ValueError(f"pseudo_share must lie in [0, 1], got {pseudo_share}")
    is_pseudo = np.asarray(is_pseudo, bool)
    num = is_pseudo.size
    mass = float(min(max(mass, 0.0), num))
    num_pseudo = int(is_pseudo.sum())
    num_orig = num - num_pseudo
    if pseudo_share is None:
        pseudo_share = num_pseudo / max(num, 1)
    probs = np.zeros(num, np.float64)
    if num_pseudo:
        probs[is_pseudo] = min(1.0, pseudo_share * mass / num_pseudo)
    rest = min(mass - probs.sum(), float(num_orig))
    if num_orig:
        orig = ~is_pseudo
        if original_init == "uniform":
            probs[orig] = rest / num_orig
        else:
            orig_users = np.asarray(users)[orig]
            counts = np.bincount(orig_users)
            cap = per_user_cap(counts, max(rest, 0.0))
            probs[orig] = np.minimum(1.0, cap / np.maximum(counts, 1))[orig_users]
    # Mass that did not fit on the originals (all at 1) goes back to the pseudo group.
    spare = mass - probs.sum()
    if spare > 1e-6 and num_pseudo:
        probs[is_pseudo] = np.minimum(1.0, probs[is_pseudo] + spare / num_pseudo)
    return probs.astype(np.float32)
