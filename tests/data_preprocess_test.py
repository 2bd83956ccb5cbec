"""Tests for infinite_ae.data.preprocess."""

import doctest

import numpy as np
import pytest

from infinite_ae.data import preprocess
from infinite_ae.data.interactions import RawInteractions


def test_doctests():
    result = doctest.testmod(
        preprocess, extraglobs={"np": np, "RawInteractions": RawInteractions}
    )
    assert result.attempted > 0 and result.failed == 0


def test_rating_threshold():
    raw = RawInteractions([1, 1, 2], [1, 2, 3], ratings=[3.5, 4.0, 5.0])
    assert preprocess.apply_rating_threshold(raw, 4.0).items.tolist() == [2, 3]
    with pytest.raises(ValueError, match="ratings"):
        preprocess.apply_rating_threshold(RawInteractions([1], [1]), 4)


def test_dedup_policies():
    raw = RawInteractions(
        [1, 1, 1, 2, 1],
        [5, 5, 6, 5, 5],
        ratings=[1, 2, 3, 4, 5],
        timestamps=[30, 10, 5, 1, 20],
    )
    first = preprocess.deduplicate(raw, keep="first")
    assert first.ratings.tolist() == [2, 3, 4]  # earliest time for (1, 5): t=10
    last = preprocess.deduplicate(raw, keep="last")
    assert last.ratings.tolist() == [1, 3, 4]  # latest time for (1, 5): t=30
    assert len(preprocess.deduplicate(raw, keep="none")) == 5
    no_time = RawInteractions(raw.users, raw.items, ratings=raw.ratings)
    assert preprocess.deduplicate(no_time).ratings.tolist() == [1, 3, 4]
    assert preprocess.deduplicate(no_time, keep="last").ratings.tolist() == [3, 4, 5]
    with pytest.raises(ValueError, match="keep"):
        preprocess.deduplicate(raw, keep="random")


def test_min_user_interactions_is_one_pass():
    raw = RawInteractions([1, 1, 1, 2, 2, 3, 3, 3], [1, 2, 3, 1, 2, 9, 9, 9])
    kept = preprocess.filter_min_user_interactions(raw, 3)
    assert sorted(set(kept.users.tolist())) == [1, 3]
    assert 9 in kept.items  # items are never filtered directly


def _chain_graph():
    # A chain where removing one weak user/item cascades.
    users = [0, 0, 1, 1, 2, 2, 3, 3, 3, 4, 4, 4, 5, 5, 5]
    items = [0, 1, 1, 2, 2, 3, 4, 5, 6, 4, 5, 6, 4, 5, 6]
    return RawInteractions(users, items)


def _is_k_core(raw, k):
    users, user_counts = np.unique(raw.users, return_counts=True)
    items, item_counts = np.unique(raw.items, return_counts=True)
    return bool(np.all(user_counts >= k) and np.all(item_counts >= k))


def test_iterative_k_core_reaches_fixed_point_single_pass_may_not():
    raw = _chain_graph()
    kept, stats = preprocess.k_core(raw, k_user=2, k_item=2)
    assert _is_k_core(kept, 2) and stats["converged"] and stats["iterations"] > 2
    assert sorted(set(kept.users.tolist())) == [3, 4, 5]
    again, again_stats = preprocess.k_core(kept, k_user=2)
    assert len(again) == len(kept) and again_stats["iterations"] == 1
    single, single_stats = preprocess.k_core(raw, k_user=2, iterative=False)
    assert not _is_k_core(single, 2) and not single_stats["converged"]
    assert single_stats["iterations"] == 1


def test_k_core_random_fixed_point():
    rng = np.random.default_rng(0)
    raw = RawInteractions(rng.zipf(1.5, 3000) % 300, rng.zipf(1.3, 3000) % 200)
    raw = preprocess.deduplicate(raw)
    kept, stats = preprocess.k_core(raw, k_user=5, k_item=3)
    assert _is_k_core(kept, 3)
    assert np.all(np.unique(kept.users, return_counts=True)[1] >= 5)
    assert stats["rows_after"] == len(kept) < len(raw)


def test_remap_ids_roundtrip():
    raw = RawInteractions(["b", "a", "b"], [30, 10, 20])
    users, items, user_ids, item_ids = preprocess.remap_ids(raw)
    np.testing.assert_array_equal(user_ids[users], raw.users)
    np.testing.assert_array_equal(item_ids[items], raw.items)
    assert user_ids.tolist() == ["a", "b"]


def test_preprocess_records_knobs():
    raw = _chain_graph()
    raw = RawInteractions(raw.users, raw.items, ratings=np.full(len(raw), 4.0))
    out, info = preprocess.preprocess_raw(
        raw, rating_threshold=3, dedup="first", min_user_interactions=3, k_core=(2, 2)
    )
    assert info["rating_threshold"] == 3 and info["dedup"] == "first"
    assert info["min_user_interactions"] == 3
    assert info["k_core"]["k_user"] == 2 and info["k_core"]["converged"]
    assert info["rows_after_preprocess"] == len(out)
