"""Tests for infinite_ae.data.loaders: tiny fixtures, bad input, the real files."""

import gzip
import hashlib
import pathlib
import time
import zipfile

import h5py
import numpy as np
import pytest

from infinite_ae.data import loaders

FIXTURES = pathlib.Path(__file__).parent / "fixtures" / "data"


def _write(path, text, mode="w"):
    path.write_bytes(text.encode("latin-1") if isinstance(text, str) else text)
    return path


# ----------------------------------------------------------------------- MovieLens
def test_movielens_1m_fixture_plain_gz_zip(tmp_path):
    plain = loaders.load_movielens(FIXTURES / "ml1m_ratings.dat")
    assert plain.users.tolist() == [1, 1, 1, 2, 2]
    assert plain.items.tolist() == [10, 20, 30, 10, 40]
    assert plain.ratings.tolist() == [5, 3, 4, 4, 1]
    assert plain.ratings.dtype == np.float32 and plain.timestamps.dtype == np.int64
    content = (FIXTURES / "ml1m_ratings.dat").read_bytes()
    gz = tmp_path / "ratings.dat.gz"
    gz.write_bytes(gzip.compress(content))
    archive = tmp_path / "ml-1m.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("ml-1m/README", "readme")
        zf.writestr("ml-1m/ratings.dat", content)
    for path in (gz, archive, tmp_path):
        other = loaders.load_movielens(path)
        np.testing.assert_array_equal(other.items, plain.items)
        np.testing.assert_array_equal(other.timestamps, plain.timestamps)
    assert loaders.load_movielens(archive).source.endswith(
        "ml-1m.zip:ml-1m/ratings.dat"
    )


def test_movielens_100k_fixture_and_zip(tmp_path):
    raw = loaders.load_movielens(FIXTURES / "u.data")
    assert raw.users.tolist() == [7, 8, 9, 7] and raw.items.tolist() == [70, 80, 90, 80]
    archive = tmp_path / "ml-100k.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("ml-100k/u.item", "1|x")
        zf.writestr("ml-100k/u.data", (FIXTURES / "u.data").read_bytes())
    assert loaders.load_movielens(archive).ratings.tolist() == [3, 3, 1, 4]


@pytest.mark.parametrize(
    "name, content, pattern",
    [
        ("ratings.dat", "1::2::3::4\n1\t2\t3\t4\n", r"ratings.dat: line 2: expected 4"),
        ("ratings.dat", "1\t2\t3\t4\n", r"ratings.dat: line 1: expected 4 fields"),
        (
            "u.data",
            "1::2::3::4\n",
            r"u.data: line 1: expected 4 fields separated by tab",
        ),
        (
            "ratings.dat",
            "1::2::3::4\nx1::2::3::4\n",
            r"ratings.dat: line 2: user id must",
        ),
        (
            "ratings.dat",
            "1::2::3::4\n1::2.5::3::4\n",
            r"line 2: item id must be an int",
        ),
        (
            "ratings.dat",
            "1::2::3::4\n1::2::3::4\n1::2::good::4\n",
            r"line 3: rating must",
        ),
        ("ratings.dat", "1::2::3::4\n1::2::3::4::5\n", r"line 2: expected 4 fields"),
        ("ratings.dat", "1::2::3::4\n\n1::2::3::4\n", r"line 2: empty line"),
        ("ratings.dat", "", r"ratings.dat: line 1: empty file"),
        ("ratings.dat", "1::2::nan::4\n", r"line 1: rating must be finite"),
    ],
)
def test_movielens_bad_input_names_file_and_line(tmp_path, name, content, pattern):
    path = _write(tmp_path / name, content)
    with pytest.raises(ValueError, match=pattern):
        loaders.load_movielens(path)


def test_missing_file_names_path(tmp_path):
    for load in (
        loaders.load_movielens,
        loaders.load_amazon_csv,
        loaders.load_amazon_json,
        loaders.load_recbole,
        loaders.load_csv,
        loaders.load_infinite_ae,
    ):
        with pytest.raises(FileNotFoundError, match="nope"):
            load(tmp_path / "nope")


def test_truncated_archives(tmp_path):
    content = (FIXTURES / "ml1m_ratings.dat").read_bytes() * 200
    gz_bytes = gzip.compress(content)
    truncated_gz = _write(tmp_path / "ratings.dat.gz", gz_bytes[: len(gz_bytes) // 2])
    with pytest.raises(ValueError, match=r"ratings.dat.gz: corrupt or truncated gzip"):
        loaders.load_movielens(truncated_gz)
    archive = tmp_path / "full.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("ml-1m/ratings.dat", content)
    data = archive.read_bytes()
    truncated_zip = _write(tmp_path / "ml-1m.zip", data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"ml-1m.zip: corrupt or truncated zip"):
        loaders.load_movielens(truncated_zip)
    # A flipped byte inside the member: CRC / inflate error, still names the file.
    corrupt = bytearray(data)
    corrupt[60] ^= 0xFF
    corrupt_zip = _write(tmp_path / "corrupt.zip", bytes(corrupt))
    with pytest.raises(ValueError, match=r"corrupt.zip"):
        loaders.load_movielens(corrupt_zip, member="ratings.dat")
    with pytest.raises(FileNotFoundError, match="no member"):
        loaders.load_movielens(archive, member="u.data")


# ------------------------------------------------------------------- ∞-AE format
def _write_infinite_ae(directory, users, items, ratings, split, times=None):
    directory.mkdir(parents=True, exist_ok=True)
    with h5py.File(directory / "total_data.hdf5", "w") as handle:
        handle["user"] = np.asarray(users, np.int32)
        handle["item"] = np.asarray(items, np.int32)
        handle["rating"] = np.asarray(ratings, np.float32)
        if times is not None:
            handle["time"] = np.asarray(times, np.int32)
    np.savez_compressed(directory / "index.npz", data=np.asarray(split, np.int64))
    return directory


def test_infinite_ae_fixture(tmp_path):
    directory = _write_infinite_ae(
        tmp_path / "toy",
        users=[0, 0, 0, 0, 1, 1, 2, 2, 2],
        items=[50, 60, 60, 70, 50, 60, 70, 80, 90],
        ratings=[5, 4, 4, 3, 2, 1, 5, 5, 5],
        split=[0, 0, 0, 2, -1, -1, 0, 1, 2],
        times=np.arange(9),
    )
    data = loaders.load_infinite_ae(directory)
    assert data.user_ids.tolist() == [0, 2]
    assert data.item_ids.tolist() == [50, 60, 70, 80, 90]
    assert data.num_interactions == {"train": 3, "val": 1, "test": 2}
    assert data.train[0, 1] == 1  # duplicate collapsed
    assert data.info["split_rows"] == {"train": 4, "val": 1, "test": 2}
    summed = loaders.load_infinite_ae(directory, binarize=False)
    assert summed.train[0, 1] == 2
    raw, split = loaders.load_infinite_ae_raw(directory)
    assert raw.timestamps.tolist() == list(range(9)) and split.tolist()[4] == -1


def test_infinite_ae_bad_index(tmp_path):
    directory = _write_infinite_ae(tmp_path / "bad", [0, 0], [1, 2], [1, 1], [0, 5])
    with pytest.raises(ValueError, match=r"index.npz: entry 1 has unknown split tag 5"):
        loaders.load_infinite_ae(directory)
    directory = _write_infinite_ae(tmp_path / "short", [0, 0], [1, 2], [1, 1], [0])
    with pytest.raises(ValueError, match=r"1 split tags for 2 rows"):
        loaders.load_infinite_ae(directory)


def test_infinite_ae_checksum_verification(tmp_path):
    directory = _write_infinite_ae(
        tmp_path / "ml-1m", [0, 0, 0], [1, 2, 3], [1] * 3, [0, 0, 2]
    )
    with pytest.warns(UserWarning, match="sha256"):
        loaders.load_infinite_ae(directory)
    with pytest.raises(ValueError, match="sha256"):
        loaders.load_infinite_ae(directory, verify="error")
    loaders.load_infinite_ae(directory, verify="off")


# ------------------------------------------------------------------------- Amazon
def test_amazon_csv_fixture():
    raw = loaders.load_amazon_csv(FIXTURES / "amazon.csv")
    assert raw.users.tolist() == ["AU1", "AU1", "AU2", "AU1"]  # column 2
    assert raw.items.tolist() == ["B001", "B002", "B001", "B001"]  # column 1
    assert raw.ratings.tolist() == [5, 4, 3, 2] and raw.timestamps[0] == 1000000000
    assert raw.summary()["num_duplicate_pairs"] == 1


def test_amazon_csv_bad_input(tmp_path):
    path = _write(tmp_path / "a.csv", "B1,U1,5.0,100\nB1,U2,five,100\n")
    with pytest.raises(ValueError, match=r"a.csv: line 2: rating must be a number"):
        loaders.load_amazon_csv(path)
    path = _write(tmp_path / "b.csv", "B1;U1;5.0;100\n")
    with pytest.raises(ValueError, match=r"b.csv: line 1: expected 4 fields"):
        loaders.load_amazon_csv(path)


def test_amazon_json_fixture_and_gz(tmp_path):
    raw = loaders.load_amazon_json(FIXTURES / "amazon_5.json")
    assert raw.users.tolist() == ["AU1", "AU2", "AU1"]
    assert raw.items.tolist() == ["B001", "B001", "B002"]
    assert raw.ratings.tolist() == [5, 4, 2] and raw.timestamps[-1] == 1000000200
    gz = tmp_path / "x_5.json.gz"
    gz.write_bytes(gzip.compress((FIXTURES / "amazon_5.json").read_bytes()))
    np.testing.assert_array_equal(loaders.load_amazon_json(gz).items, raw.items)


def test_amazon_json_bad_input(tmp_path):
    good = '{"reviewerID": "a", "asin": "b", "overall": 1.0, "unixReviewTime": 1}\n'
    path = _write(tmp_path / "r.json", good + '{"reviewerID": "a", "asin": \n')
    with pytest.raises(ValueError, match=r"r.json: line 2: invalid JSON"):
        loaders.load_amazon_json(path)
    path = _write(tmp_path / "s.json", good + good + '{"asin": "b", "overall": 1}\n')
    with pytest.raises(ValueError, match=r"s.json: line 3: missing key 'reviewerID'"):
        loaders.load_amazon_json(path)
    with pytest.raises(ValueError, match=r"e.json: line 1: empty file"):
        loaders.load_amazon_json(_write(tmp_path / "e.json", ""))


# ------------------------------------------------------------------------ RecBole
def test_recbole_fixture():
    raw = loaders.load_recbole(FIXTURES / "toy.inter")
    assert raw.users.tolist() == ["u1", "u1", "u2"]
    assert raw.items.tolist() == ["i1", "i2", "i1"]
    assert raw.ratings.tolist() == [5, 3, 4] and raw.timestamps.tolist() == [
        100,
        200,
        150,
    ]
    custom = loaders.load_recbole(
        FIXTURES / "toy.inter",
        user_field="item_id",
        item_field="user_id",
        rating_field=None,
    )
    assert custom.users.tolist() == ["i1", "i2", "i1"]


def test_recbole_benchmark_fixture():
    data = loaders.load_recbole_benchmark(FIXTURES / "seq")
    train = {
        (data.user_ids[u], data.item_ids[i])
        for u, i in zip(*data.train.nonzero(), strict=True)
    }
    assert train == {("u1", "a"), ("u1", "b"), ("u1", "c"), ("u2", "x"), ("u2", "y")}
    assert data.num_interactions == {"train": 5, "val": 2, "test": 2}
    assert data.test[data.user_index["u1"], data.item_index["e"]] == 1
    no_history = loaders.load_recbole_benchmark(FIXTURES / "seq", history_field=None)
    assert no_history.num_interactions["train"] == 3


def test_recbole_bad_input(tmp_path):
    path = _write(tmp_path / "x.inter", "user_id,item_id\n1,2\n")
    with pytest.raises(ValueError, match=r"x.inter: line 1: header field"):
        loaders.load_recbole(path)
    path = _write(tmp_path / "y.inter", "user_id:token\titem_id:token\nu1\ti1\nu2 i2\n")
    with pytest.raises(ValueError, match=r"y.inter: line 3: expected 2 fields"):
        loaders.load_recbole(path)
    path = _write(tmp_path / "z.inter", "user:token\titem_id:token\nu1\ti1\n")
    with pytest.raises(ValueError, match=r"z.inter: line 1: no field 'user_id'"):
        loaders.load_recbole(path)
    path = _write(
        tmp_path / "w.inter", "user_id:token\titem_id:token\trating:float\nu\ti\t?\n"
    )
    with pytest.raises(ValueError, match=r"w.inter: line 2: rating must be a number"):
        loaders.load_recbole(path)


# ------------------------------------------------------------------ CSV / frames
def test_csv_header_autodetect():
    raw = loaders.load_csv(FIXTURES / "ratings_header.csv")
    assert raw.users.tolist() == [1, 1, 2] and raw.users.dtype == np.int64
    assert raw.items.tolist() == [10, 20, 10]
    assert raw.ratings.tolist() == [4.5, 3.0, 5.0] and raw.timestamps.tolist() == [
        100,
        200,
        300,
    ]


def test_csv_variants(tmp_path):
    path = _write(tmp_path / "p.tsv", "a\tx\nb\ty\n")
    raw = loaders.load_csv(path, sep="\t")
    assert raw.users.tolist() == ["a", "b"] and raw.ratings is None
    path = _write(tmp_path / "q.csv", 'item,user,score\n"i,1",u1,2\ni2,u2,3\n')
    raw = loaders.load_csv(path)
    assert raw.items.tolist() == ["i,1", "i2"] and raw.ratings.tolist() == [2, 3]
    path = _write(tmp_path / "r.csv", "1,2,3\n4,5,6\n")
    raw = loaders.load_csv(path, user_col=1, item_col=0, rating_col=2)
    assert raw.users.tolist() == [2, 5] and raw.items.tolist() == [1, 4]
    raw = loaders.load_csv(path, id_type="str")
    assert raw.users.tolist() == ["1", "4"]
    path = _write(tmp_path / "s.csv", "who,what\n1,2\n")
    with pytest.raises(ValueError, match="cannot find the user column"):
        loaders.load_csv(path, header=True)
    path = _write(tmp_path / "t.csv", "user,item\n1,2\n3\n")
    with pytest.raises(ValueError, match=r"t.csv: line 3: expected 2 fields"):
        loaders.load_csv(path)
    path = _write(tmp_path / "u.csv", "user,item\n")
    with pytest.raises(ValueError, match=r"u.csv: line 2: no data rows"):
        loaders.load_csv(path)
    with pytest.raises(ValueError, match=r"v.csv: line 1: empty file"):
        loaders.load_csv(_write(tmp_path / "v.csv", "\n"))


def test_dataframe():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(
        {
            "userId": [3, 1],
            "movieId": ["m1", "m2"],
            "rating": [4.0, 5.0],
            "timestamp": pd.to_datetime([0, 10], unit="s"),
        }
    )
    raw = loaders.load_dataframe(frame)
    assert raw.users.tolist() == [3, 1] and raw.items.tolist() == ["m1", "m2"]
    assert raw.timestamps.tolist() == [0, 10]
    raw = loaders.load_dataframe(frame, user_col="movieId", item_col="userId")
    assert raw.users.tolist() == ["m1", "m2"]
    with pytest.raises(ValueError, match="item_col='nope'"):
        loaders.load_dataframe(frame, item_col="nope")
    with pytest.raises(ValueError, match="cannot find the item column"):
        loaders.load_dataframe(frame[["userId", "rating"]])


# ---------------------------------------------------------------------- real data
def _sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_real_infinite_ae_ml1m(real_data):
    directory = real_data("infinite_ae_cf/ml-1m")
    start = time.perf_counter()
    data = loaders.load_infinite_ae(directory, verify="error")
    elapsed = time.perf_counter() - start
    assert data.shape == (6040, 3706)
    assert data.num_interactions == {"train": 791718, "val": 99692, "test": 108799}
    assert data.user_ids.tolist() == list(range(6040))
    assert data.item_ids.min() == 1 and data.item_ids.max() <= 3952  # MovieIDs
    assert data.summary()["num_users_with_test"] == 6040
    assert elapsed < 10.0  # ~0.5 s on an idle core
    raw, split = loaders.load_infinite_ae_raw(directory, verify="off")
    counts = np.unique(raw.ratings, return_counts=True)[1].tolist()
    assert counts == [56174, 107557, 261197, 348971, 226310]
    assert np.all(split >= 0)


def test_real_infinite_ae_magazine(real_data):
    data = loaders.load_infinite_ae(
        real_data("infinite_ae_cf/magazine"), verify="error"
    )
    assert data.shape == (3092, 1305)
    assert data.info["split_rows"] == {"train": 5984, "val": 436, "test": 6269}
    assert data.info["num_dropped_rows"] == 77000
    summed = loaders.load_infinite_ae(
        real_data("infinite_ae_cf/magazine"), binarize=False
    )
    assert summed.train.sum() == 5984 and summed.test.sum() == 6269


@pytest.mark.slow
def test_real_movielens_1m_partial(real_data):
    raw = loaders.load_movielens(
        real_data("movielens/ml-1m/ratings.users0001-2999.partial.dat.gz")
    )
    assert len(raw) == 487650
    assert raw.users.min() == 1 and raw.users.max() == 2999
    assert np.unique(raw.users).size == 2999 and np.unique(raw.items).size == 3615
    assert raw.timestamps.min() == 970620734 and raw.timestamps.max() == 1046388675
    # Same (user, item, rating) rows as the first rows of ∞-AE's hdf5 (README check a).
    ref, _ = loaders.load_infinite_ae_raw(
        real_data("infinite_ae_cf/ml-1m"), verify="off"
    )
    np.testing.assert_array_equal(raw.users - 1, ref.users[:487650])
    np.testing.assert_array_equal(raw.items, ref.items[:487650])
    np.testing.assert_array_equal(raw.ratings, ref.ratings[:487650])


def test_real_movielens_100k(real_data):
    raw = loaders.load_movielens(real_data("movielens/ml-100k.zip"))
    assert len(raw) == 100000
    assert np.unique(raw.users).size == 943 and np.unique(raw.items).size == 1682
    counts = np.unique(raw.ratings, return_counts=True)[1].tolist()
    assert counts == [6110, 11370, 27145, 34174, 21201]
    base = loaders.load_movielens(real_data("movielens/ml-100k.zip"), member="u1.base")
    assert 0 < len(base) < 100000


def test_real_amazon_csv(real_data):
    raw = loaders.load_amazon_csv(real_data("amazon2018/Magazine_Subscriptions.csv.gz"))
    summary = raw.summary()
    assert summary["num_rows"] == 89689
    assert summary["num_users"] == 72098 and summary["num_items"] == 2428
    assert summary["num_duplicate_pairs"] == 1371
    # The same rows as ∞-AE's magazine hdf5 (README §5), here as timestamps.
    ref, _ = loaders.load_infinite_ae_raw(
        real_data("infinite_ae_cf/magazine"), verify="off"
    )
    assert sorted(raw.timestamps.tolist()) == sorted(ref.timestamps.tolist())


def test_real_amazon_json(real_data):
    raw = loaders.load_amazon_json(
        real_data("amazon2018/Magazine_Subscriptions_5.json.gz")
    )
    summary = raw.summary()
    assert (summary["num_rows"], summary["num_users"], summary["num_items"]) == (
        2375,
        348,
        157,
    )
    assert summary["num_duplicate_pairs"] == 73
    gift = loaders.load_amazon_json(
        real_data("amazon2018/Gift_Cards_5.json.gz")
    ).summary()
    assert (gift["num_rows"], gift["num_users"], gift["num_items"]) == (2972, 458, 148)


@pytest.mark.slow
def test_real_recbole_scientific(real_data):
    prefix = (
        real_data("unisrec_scientific/Scientific.train.inter.gz").parent / "Scientific"
    )
    train = loaders.load_recbole(prefix.with_name("Scientific.train.inter.gz"))
    assert len(train) == 34101
    data = loaders.load_recbole_benchmark(prefix)
    assert data.shape == (8442, 4385)
    assert (
        data.num_interactions["val"] == 8442 and data.num_interactions["test"] == 8442
    )
    expanded = loaders.load_recbole(
        prefix.with_name("Scientific.train.inter.gz"), history_field="item_id_list"
    )
    # 59,427 = 34,101 train prefix rows + 3 per user (first item, valid, test); a
    # first item that reappears later as a target is not counted twice.
    assert 59427 - 100 <= len(expanded) + 2 * 8442 <= 59427
    pairs = {
        (u, i)
        for u, i in zip(expanded.users.tolist(), expanded.items.tolist(), strict=True)
    }
    assert data.num_interactions["train"] == len(pairs)


def test_doctests():
    import doctest

    result = doctest.testmod(loaders, extraglobs={"np": np})
    assert result.attempted > 0 and result.failed == 0
