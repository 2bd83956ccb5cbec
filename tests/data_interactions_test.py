"""Tests for infinite_ae.data.interactions."""

import doctest
import os

import numpy as np
import pytest
import scipy.sparse as sp

from infinite_ae.data import interactions
from infinite_ae.data.interactions import Interactions, RawInteractions, rows_to_dense


def _toy(user_ids=None, item_ids=None):
    train = np.array([[1, 0, 1, 0], [0, 1, 0, 0], [1, 1, 0, 1]], np.float32)
    val = np.array([[0, 1, 0, 0], [0, 0, 0, 0], [0, 0, 1, 0]], np.float32)
    test = np.array([[0, 0, 0, 1], [1, 0, 1, 0], [0, 0, 0, 0]], np.float32)
    return Interactions.from_matrices(
        train, val, test, user_ids=user_ids, item_ids=item_ids, name="toy"
    )


def test_doctests():
    result = doctest.testmod(interactions, extraglobs={"np": np, "sp": sp})
    assert result.attempted > 0 and result.failed == 0


def test_raw_interactions_normalises_and_validates():
    raw = RawInteractions(
        np.array([1, 2], np.int32), ["a", "b"], ratings=[5, 4], timestamps=[1.0, 2.0]
    )
    assert raw.users.dtype == np.int64 and raw.items.dtype.kind == "U"
    assert raw.ratings.dtype == np.float32 and raw.timestamps.dtype == np.int64
    with pytest.raises(ValueError, match="same length"):
        RawInteractions([1, 2], [1])
    with pytest.raises(ValueError, match="ratings"):
        RawInteractions([1, 2], [1, 2], ratings=[1.0])
    with pytest.raises(ValueError, match="timestamps"):
        RawInteractions([1, 2], [1, 2], timestamps=[1.5, 2.0])
    assert RawInteractions(np.array(["a", 3], object), [1, 2]).users.tolist() == [
        "a",
        "3",
    ]
    summary = RawInteractions([1, 1, 2], [5, 5, 5]).summary()
    assert summary["num_duplicate_pairs"] == 1 and summary["num_users"] == 2


def test_properties():
    data = _toy()
    assert data.shape == (3, 4) and data.num_users == 3 and data.num_items == 4
    assert data.num_interactions == {"train": 6, "val": 2, "test": 3}
    np.testing.assert_array_equal(data.item_counts, [2, 2, 1, 1])
    assert data.item_counts.dtype == np.float64
    for split in ("train", "val", "test"):
        matrix = data.split(split)
        assert isinstance(matrix, sp.csr_matrix) and matrix.dtype == np.float32
    summary = data.summary()
    assert summary["num_interactions"] == 11
    assert summary["density"] == pytest.approx(11 / 12)
    assert summary["num_users_with_test"] == 2


def test_id_maps_and_lookup():
    data = _toy(user_ids=["u3", "u1", "u2"], item_ids=[40, 10, 30, 20])
    assert data.user_index == {"u3": 0, "u1": 1, "u2": 2}
    assert data.item_index[30] == 2
    np.testing.assert_array_equal(data.users_to_index(["u2", "u3"]), [2, 0])
    np.testing.assert_array_equal(data.items_to_index([20, 40]), [3, 0])
    with pytest.raises(KeyError, match="unknown"):
        data.items_to_index([99])


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"user_ids": [1, 2]}, "user_ids"),
        ({"item_ids": [1, 2, 3]}, "item_ids"),
        ({"user_ids": [1, 1, 2]}, "user_ids"),
    ],
)
def test_validation_names_field(kwargs, field):
    with pytest.raises(ValueError, match=field):
        _toy(**kwargs)


def test_validation_of_shapes_and_values():
    train = sp.csr_matrix(np.eye(3, dtype=np.float32))
    with pytest.raises(ValueError, match="val"):
        Interactions(train, sp.csr_matrix((2, 3)), train, np.arange(3), np.arange(3))
    with pytest.raises(ValueError, match="test"):
        Interactions(train, train, -train, np.arange(3), np.arange(3))


def test_checksum_is_stable_and_sensitive():
    a, b = _toy(), _toy()
    assert a.checksum() == b.checksum()
    assert len(a.checksum()) == 64
    assert _toy(item_ids=[5, 6, 7, 8]).checksum() != a.checksum()
    changed = a.train.tolil()
    changed[0, 1] = 1
    assert a.with_train(changed).checksum() != a.checksum()
    # Non-canonical storage (unsorted indices) gives the same digest.
    coo = a.train.tocoo()
    order = np.arange(coo.nnz)[::-1]
    shuffled = sp.csr_matrix((coo.data[order], (coo.row[order], coo.col[order])))
    assert a.with_train(shuffled).checksum() == a.checksum()


def test_with_train_keeps_other_splits():
    data = _toy()
    distilled = np.zeros((3, 4), np.float32)
    distilled[0, 0] = 0.5
    new = data.with_train(distilled, info={"distilled": True})
    assert new.train.nnz == 1 and new.train[0, 0] == pytest.approx(0.5)
    assert new.val is data.val and new.test is data.test
    assert new.info["distilled"] and new.info["train_replaced"]
    with pytest.raises(ValueError, match="train"):
        data.with_train(np.zeros((2, 4)))


def test_rows_to_dense_matches_toarray():
    rng = np.random.default_rng(0)
    matrix = sp.random(50, 30, density=0.1, format="csr", random_state=1)
    rows = rng.integers(0, 50, size=17)
    expected = matrix.toarray()[rows]
    for dtype in (np.float32, np.float64):
        dense = rows_to_dense(matrix, rows, dtype)
        assert dense.dtype == dtype and dense.shape == (17, 30)
        np.testing.assert_allclose(dense, expected, rtol=1e-6)
    assert rows_to_dense(matrix, []).shape == (0, 30)
    with pytest.raises(IndexError):
        rows_to_dense(matrix, [50])


@pytest.mark.parametrize("ids", [None, "strings"])
def test_save_load_roundtrip(tmp_path, ids):
    if ids == "strings":
        data = _toy(user_ids=["α", "b", "c"], item_ids=["i1", "i2", "i3", "i4"])
    else:
        data = _toy()
    data = data.with_train(data.train, info={"nested": {"k": [1, 2]}, "seed": 3})
    path = data.save_npz(tmp_path / "sub" / "toy.npz")
    assert os.listdir(tmp_path / "sub") == ["toy.npz"]  # no temp file left behind
    loaded = Interactions.load_npz(path)
    assert loaded.checksum() == data.checksum()
    assert loaded.name == "toy" and loaded.info == data.info
    np.testing.assert_array_equal(loaded.user_ids, data.user_ids)
    assert loaded.user_ids.dtype.kind == data.user_ids.dtype.kind
    with pytest.raises(FileNotFoundError, match="missing.npz"):
        Interactions.load_npz(tmp_path / "missing.npz")


def test_save_is_atomic_on_failure(tmp_path, monkeypatch):
    data = _toy()
    target = tmp_path / "toy.npz"
    data.save_npz(target)
    before = target.read_bytes()

    def explode(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(np, "savez_compressed", explode)
    with pytest.raises(RuntimeError):
        data.with_train(np.zeros((3, 4))).save_npz(target)
    assert target.read_bytes() == before
    assert os.listdir(tmp_path) == ["toy.npz"]


def test_from_split_index_binarize():
    users = np.array([0, 0, 0, 1, 1])
    items = np.array([0, 0, 1, 1, 0])
    split = np.array([0, 0, 2, 1, -1])
    kwargs = dict(user_ids=np.array([5, 6]), item_ids=np.array([7, 8]), name="x")
    binary = Interactions.from_split_index(users, items, split, **kwargs)
    summed = Interactions.from_split_index(
        users, items, split, binarize=False, **kwargs
    )
    assert binary.train[0, 0] == 1 and summed.train[0, 0] == 2
    assert binary.num_interactions == {"train": 1, "val": 1, "test": 1}
    assert summed.info["binarized"] is False
