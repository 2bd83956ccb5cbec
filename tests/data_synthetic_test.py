"""Tests for infinite_ae.data.synthetic."""

import doctest

import numpy as np
import pytest

from infinite_ae.data import synthetic


def test_doctests():
    result = doctest.testmod(synthetic, extraglobs={"np": np})
    assert result.attempted > 0 and result.failed == 0


def test_default_quickstart_shape_and_split():
    data = synthetic.make_synthetic(seed=0)
    assert data.shape == (2000, 1000)
    summary = data.summary()
    assert summary["num_users_with_test"] == 2000  # every user has >= 3 items
    assert 15 < summary["num_interactions"] / 2000 < 25  # mean degree ~ 20
    for split in ("train", "val", "test"):
        matrix = data.split(split)
        assert np.all(matrix.data == 1)
    union = data.train + data.val + data.test
    assert union.max() == 1  # splits disjoint and no duplicates
    assert data.info["seed"] == 0 and data.info["split"] == "infinite_ae"


def test_deterministic_and_seed_dependent():
    a = synthetic.make_synthetic(300, 200, seed=3)
    b = synthetic.make_synthetic(300, 200, seed=3)
    c = synthetic.make_synthetic(300, 200, seed=4)
    assert a.checksum() == b.checksum() != c.checksum()


def test_power_law_marginals():
    data = synthetic.make_synthetic(5000, 2000, mean_degree=30, seed=1)
    union = (data.train + data.val + data.test).tocsr()
    degrees = np.diff(union.indptr)
    assert degrees.min() >= 3
    assert np.mean(degrees) == pytest.approx(30, rel=0.05)
    # Heavy tails: the maximum is far above the median for users and items.
    assert degrees.max() > 8 * np.median(degrees)
    popularity = np.bincount(union.indices, minlength=2000)
    top = np.sort(popularity)[::-1]
    assert top[:20].sum() > 5 * top[-1000:].sum() / 50  # head >> tail per item


def test_latent_clusters_are_learnable():
    data, latent = synthetic.make_synthetic(
        1000, 500, num_clusters=5, cluster_affinity=0.8, seed=2, return_latent=True
    )
    union = (data.train + data.val + data.test).tocoo()
    same = latent["user_cluster"][union.row] == latent["item_cluster"][union.col]
    assert same.mean() > 0.6  # chance level is ~ 1 / 5
    assert data.info["num_users_short_of_target"] == 0


def test_degree_profile_and_item_weights_hooks():
    target = np.full(400, 7)
    target[:10] = 150
    data, latent = synthetic.make_synthetic(
        400, 300, degree_profile=target, seed=0, return_latent=True
    )
    union = (data.train + data.val + data.test).tocsr()
    np.testing.assert_array_equal(np.diff(union.indptr), target)
    sampled = synthetic.make_synthetic(
        400, 300, degree_profile=lambda rng, n: rng.integers(3, 6, n), seed=0
    )
    degrees = np.diff((sampled.train + sampled.val + sampled.test).tocsr().indptr)
    assert degrees.min() >= 3 and degrees.max() <= 5
    weights = np.zeros(300)
    weights[:50] = 1.0
    only_head = synthetic.make_synthetic(
        100, 300, item_weights=weights, cluster_affinity=0.0, max_degree=20, seed=0
    )
    columns = (only_head.train + only_head.val + only_head.test).tocoo().col
    assert np.all(columns < 50)
    with pytest.raises(ValueError, match="degree_profile"):
        synthetic.make_synthetic(10, 10, degree_profile=np.ones(3))


def test_chunking_bounds_memory_and_keeps_invariants():
    data = synthetic.make_synthetic(3000, 400, mean_degree=15, chunk_size=700, seed=5)
    assert data.shape == (3000, 400)
    assert data.summary()["num_users_with_test"] == 3000
    assert data.info["chunk_size"] == 700


def test_heavy_users_fill_up():
    data = synthetic.make_synthetic(
        50, 60, degree_profile=np.full(50, 55), num_clusters=10, seed=0
    )
    union = (data.train + data.val + data.test).tocsr()
    assert np.all(np.diff(union.indptr) == 55)


def test_given_clusters_and_exact_sampling():
    item_cluster = np.arange(300) % 3
    user_cluster = np.arange(200) % 3
    target = np.full(200, 12)
    target[:5] = 290  # near I: completed by the exact weighted fill
    weights = np.ones(300)
    weights[:30] = 50.0
    weights[-10:] = 0.0  # weight 0: only taken when nothing else is left
    data, latent = synthetic.make_synthetic(
        200,
        300,
        num_clusters=3,
        degree_profile=target,
        item_weights=weights,
        item_cluster=item_cluster,
        user_cluster=user_cluster,
        exact_sampling=True,
        max_rounds=2,
        seed=0,
        return_latent=True,
    )
    np.testing.assert_array_equal(latent["item_cluster"], item_cluster)
    np.testing.assert_array_equal(latent["user_cluster"], user_cluster)
    union = (data.train + data.val + data.test).tocsr()
    np.testing.assert_array_equal(np.diff(union.indptr), target)
    assert union.max() == 1
    # Light users never reach the weight-0 items; heavy users take at most all.
    assert union[5:, -10:].nnz == 0
    assert data.info["exact_sampling"] and data.info["item_cluster"] == "custom"
    with pytest.raises(ValueError, match="item_cluster"):
        synthetic.make_synthetic(10, 10, item_cluster=np.full(10, 7), num_clusters=3)
    with pytest.raises(ValueError, match="user_cluster"):
        synthetic.make_synthetic(10, 10, user_cluster=np.zeros(4, np.int64))
