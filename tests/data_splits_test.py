"""Tests for infinite_ae.data.splits."""

import doctest

import numpy as np
import pytest

from infinite_ae.data import splits
from infinite_ae.data.interactions import RawInteractions


def test_doctests():
    result = doctest.testmod(
        splits, extraglobs={"np": np, "RawInteractions": RawInteractions}
    )
    assert result.attempted > 0 and result.failed == 0


def _random_users(seed=0, num_users=300):
    rng = np.random.default_rng(seed)
    degrees = rng.integers(1, 60, size=num_users)
    users = np.repeat(np.arange(num_users), degrees)
    return rng.permutation(users), degrees


def _reference_tags(n, permutation):
    """Literal transcription of the ∞-AE rule for one user (preprocess.py)."""
    tags = np.empty(n, np.int64)
    first, second = int(0.8 * n), int(0.9 * n)
    for timestep in range(n):
        if n < 3:
            tags[timestep] = -1
        elif timestep == permutation[0]:
            tags[timestep] = 2
        elif timestep in permutation[:first]:
            tags[timestep] = 0
        elif timestep in permutation[first:second]:
            tags[timestep] = 1
        else:
            tags[timestep] = 2
    return tags


def test_infinite_ae_split_counts_match_reference_rule():
    users, degrees = _random_users()
    tags = splits.infinite_ae_split(users, rng=np.random.default_rng(1))
    assert tags.dtype == np.int8 and tags.shape == users.shape
    for user, n in enumerate(degrees):
        user_tags = tags[users == user]
        # Any permutation gives the same per-user counts under the reference rule.
        expected = _reference_tags(n, np.random.default_rng(user).permutation(n))
        for tag in (-1, 0, 1, 2):
            assert np.sum(user_tags == tag) == np.sum(expected == tag), (user, n)
        if n >= 3:
            assert np.sum(user_tags == 2) >= 1  # every kept user has a test item
        else:
            assert np.all(user_tags == -1)


def test_infinite_ae_split_forced_test_and_proportions():
    users = np.repeat(np.arange(2000), 40)
    tags = splits.infinite_ae_split(users, rng=0)
    per_user = np.stack([np.bincount(tags[users == u], minlength=3) for u in range(3)])
    # n = 40: int(32) train positions, one of them forced to test; 4 val; 4 + 1 test.
    np.testing.assert_array_equal(per_user, [[31, 4, 5]] * 3)
    fractions = np.bincount(tags, minlength=3) / tags.size
    np.testing.assert_allclose(fractions, [31 / 40, 4 / 40, 5 / 40])


def test_infinite_ae_split_is_random_and_deterministic():
    users, _ = _random_users()
    a = splits.infinite_ae_split(users, rng=np.random.default_rng(7))
    b = splits.infinite_ae_split(users, rng=7)
    c = splits.infinite_ae_split(users, rng=8)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    # The test item forced from position 0 is uniform: each row of a 10-item user
    # lands in test with probability 2/10 over many seeds.
    user = np.zeros(10, np.int64)
    hits = sum(splits.infinite_ae_split(user, rng=s) == 2 for s in range(2000))
    np.testing.assert_allclose(hits / 2000, 0.2, atol=0.04)


def test_temporal_loo():
    users = np.array([0, 0, 0, 0, 1, 1, 2, 3, 3, 3])
    times = np.array([5, 1, 9, 9, 3, 4, 7, 2, 2, 2])
    tags = splits.temporal_loo_split(users, times)
    # user 0: times 1, 5, 9, 9 -> tie broken by row order: row 3 is last.
    assert tags[:4].tolist() == [0, 0, 1, 2]
    assert tags[4:6].tolist() == [0, 2]  # two rows: train + test
    assert tags[6] == 0  # single row stays in train
    assert tags[7:].tolist() == [0, 1, 2]  # full tie: row order
    dropped = splits.temporal_loo_split(users, times, short_users="drop")
    assert dropped[4:7].tolist() == [-1, -1, -1]


def test_split_raw_disjoint_and_info():
    users, _ = _random_users(3)
    rng = np.random.default_rng(0)
    raw = RawInteractions(
        users,
        rng.integers(0, 80, users.size),
        timestamps=rng.integers(0, 1000, users.size),
    )
    raw = RawInteractions(*_dedup(raw))
    for protocol in splits.PROTOCOLS:
        data, tags = splits.split_raw(raw, protocol=protocol, seed=3)
        train, val, test = (
            data.train.astype(bool),
            data.val.astype(bool),
            data.test.astype(bool),
        )
        assert train.multiply(val).nnz == 0 and train.multiply(test).nnz == 0
        assert val.multiply(test).nnz == 0
        assert sum(data.num_interactions.values()) == int(np.sum(tags >= 0))
        assert data.info["split"] == protocol and len(data.info["split_hash"]) == 64
        again, _ = splits.split_raw(raw, protocol=protocol, seed=3)
        assert again.checksum() == data.checksum()
    with pytest.raises(ValueError, match="timestamps"):
        splits.split_raw(RawInteractions(raw.users, raw.items), protocol="temporal_loo")
    with pytest.raises(ValueError, match="unknown split"):
        splits.split_raw(raw, protocol="shuffled")


def _dedup(raw):
    pairs = raw.users * 1000 + raw.items
    _, first = np.unique(pairs, return_index=True)
    first = np.sort(first)
    return raw.users[first], raw.items[first], None, raw.timestamps[first]


def test_split_hash_changes_with_seed_and_data():
    users, _ = _random_users()
    raw = RawInteractions(users, np.arange(users.size))
    a, _ = splits.split_raw(raw, seed=0)
    b, _ = splits.split_raw(raw, seed=1)
    assert a.info["split_hash"] != b.info["split_hash"]
    assert a.info["seed"] == 0


def test_build_dataset_records_every_knob():
    rng = np.random.default_rng(0)
    users = rng.integers(0, 100, 3000)
    raw = RawInteractions(
        users,
        rng.integers(0, 50, 3000),
        ratings=rng.integers(1, 6, 3000),
        timestamps=rng.integers(0, 10**6, 3000),
        source="/tmp/x.csv",
    )
    data = splits.build_dataset(
        raw, rating_threshold=3, dedup="last", k_core=5, split="temporal_loo"
    )
    info = data.info
    assert info["rating_threshold"] == 3 and info["dedup"] == "last"
    assert info["min_user_interactions"] == 3 and info["k_core"]["k_user"] == 5
    assert info["split"] == "temporal_loo" and data.name == "x"
    assert data.num_interactions["test"] == data.num_users
    # Every user in a 5-core has >= 3 rows: exactly one val and one test item each.
    assert data.num_interactions["val"] == data.num_users


def _recbole_reference(n: int) -> tuple[int, int, int]:
    """RecBole 1.x `_calcu_split_ids` for ratios [0.8, 0.1, 0.1], written out."""
    ratios = [0.8, 0.1, 0.1]
    cnt = [int(r * n) for r in ratios]
    cnt[0] = n - sum(cnt[1:])
    for i in range(1, len(ratios)):
        if cnt[0] <= 1:
            break
        if 0 < ratios[-i] * n < 1:
            cnt[-i] += 1
            cnt[0] -= 1
    return tuple(cnt)


def test_random_split_matches_recbole_ratio_rule():
    sizes = np.arange(1, 60)
    users = np.repeat(np.arange(sizes.size), sizes)
    tags = splits.random_split(users, rng=3)
    for user, n in enumerate(sizes):
        user_tags = tags[users == user]
        got = tuple(int((user_tags == t).sum()) for t in (0, 1, 2))
        assert got == _recbole_reference(int(n)), (n, got)
    assert np.array_equal(tags, splits.random_split(users, rng=3))
    assert not np.array_equal(tags, splits.random_split(users, rng=4))


def test_build_dataset_random_split_keeps_every_row():
    rng = np.random.default_rng(1)
    raw = RawInteractions(rng.integers(0, 50, 2000), rng.integers(0, 400, 2000))
    data = splits.build_dataset(
        raw, dedup="first", min_user_interactions=None, split="random", seed=5
    )
    total = sum(data.num_interactions.values())
    assert total == len(set(zip(raw.users.tolist(), raw.items.tolist(), strict=True)))
    assert data.info["split"] == "random" and data.info["seed"] == 5
