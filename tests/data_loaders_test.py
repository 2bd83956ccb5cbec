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


# ------------------------------------------- text input: BOM, line endings, bad rows
# The first bytes of a PNG image: binary junk with NUL and non-UTF-8 bytes.
PNG_BYTES = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00"
# Invalid UTF-8 without any control byte.
NOT_UTF8 = b"\xff\xfe\xfa\xfb\xc3\x28\xa0\xa1"

TEXT_LOADERS = {
    "ml1m_ratings.dat": loaders.load_movielens,
    "u.data": loaders.load_movielens,
    "amazon.csv": loaders.load_amazon_csv,
    "amazon_5.json": loaders.load_amazon_json,
    "toy.inter": loaders.load_recbole,
    "ratings_header.csv": loaders.load_csv,
}


def _with_bom_and_line_ending(content: bytes, line_ending: bytes) -> bytes:
    return b"\xef\xbb\xbf" + content.replace(b"\n", line_ending)


def _assert_same_rows(actual, expected):
    for name in ("users", "items", "ratings", "timestamps"):
        got, want = getattr(actual, name), getattr(expected, name)
        assert (got is None) == (want is None), name
        if want is not None:
            assert got.dtype == want.dtype, name
            np.testing.assert_array_equal(got, want, err_msg=name)


@pytest.mark.parametrize("line_ending", [b"\r\n", b"\r"], ids=["crlf", "cr"])
@pytest.mark.parametrize("name", sorted(TEXT_LOADERS))
def test_bom_and_line_endings_load_like_the_plain_file(tmp_path, name, line_ending):
    load = TEXT_LOADERS[name]
    plain = (FIXTURES / name).read_bytes()
    assert b"\r" not in plain and not plain.startswith(b"\xef\xbb\xbf")
    variant = _write(tmp_path / name, _with_bom_and_line_ending(plain, line_ending))
    _assert_same_rows(load(variant), load(FIXTURES / name))
    # Blank lines at the very end are ignored too.
    (tmp_path / "padded").mkdir()
    padded = _write(tmp_path / "padded" / name, variant.read_bytes() + line_ending * 3)
    _assert_same_rows(load(padded), load(FIXTURES / name))


def test_bom_and_crlf_recbole_benchmark(tmp_path):
    for suffix in ("train", "valid", "test"):
        content = (FIXTURES / f"seq.{suffix}.inter").read_bytes()
        _write(
            tmp_path / f"seq.{suffix}.inter",
            _with_bom_and_line_ending(content, b"\r\n"),
        )
    plain = loaders.load_recbole_benchmark(FIXTURES / "seq")
    variant = loaders.load_recbole_benchmark(tmp_path / "seq")
    assert variant.user_ids.tolist() == plain.user_ids.tolist()
    assert variant.item_ids.tolist() == plain.item_ids.tolist()
    for split in ("train", "val", "test"):
        assert (getattr(variant, split) != getattr(plain, split)).nnz == 0


def test_bom_is_not_part_of_the_first_id(tmp_path):
    path = _write(tmp_path / "a.csv", b"\xef\xbb\xbfB0010,U1,5.0,1\nB0010,U2,4.0,2\n")
    raw = loaders.load_amazon_csv(path)
    assert raw.items.tolist() == ["B0010", "B0010"]
    assert raw.summary()["num_items"] == 1


MOVIELENS_ROW = b"1::10::5::900000001\n"
AMAZON_ROW = b"B1,U1,5.0,100\n"
JSON_ROW = b'{"reviewerID": "U1", "asin": "B1", "overall": 5.0, "unixReviewTime": 1}\n'
INTER_HEADER = b"user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
CSV_HEADER = b"user,item,rating\n"

BAD_INPUTS = [
    # (case, loader, file name, content, pattern)
    (
        "ml_wrong_separator",
        "movielens",
        "ratings.dat",
        b"1;10;5;900000001\n",
        r"ratings\.dat: line 1: expected 4 fields separated by '::' \(user id, item "
        r"id, rating, timestamp\), found 1 .*the line contains ';': wrong "
        r"separator\? Pass sep=';'",
    ),
    (
        "ml_binary_junk",
        "movielens",
        "ratings.dat",
        PNG_BYTES,
        r"ratings\.dat: line 1: user id holds the non-ASCII byte 0x89 where a number "
        r"belongs; is this a binary file",
    ),
    (
        "ml_nul_bytes",
        "movielens",
        "ratings.dat",
        MOVIELENS_ROW + b"1::\x00\x01::5::900000001\n",
        r"ratings\.dat: line 2: item id holds binary data \(byte 0x00\)",
    ),
    (
        "ml_invalid_utf8",
        "movielens",
        "ratings.dat",
        MOVIELENS_ROW + b"1::10::" + NOT_UTF8 + b"::900000001\n",
        r"ratings\.dat: line 2: rating holds the non-ASCII byte 0xff",
    ),
    (
        "ml_header",
        "movielens",
        "ratings.dat",
        b"userId::movieId::rating::timestamp\n" + MOVIELENS_ROW,
        r"ratings\.dat: line 1: user id must be an integer, got 'userId'; line 1 "
        r"looks like a header: MovieLens ratings files have none",
    ),
    (
        "ml_rating_too_high",
        "movielens",
        "ratings.dat",
        MOVIELENS_ROW + b"1::20::99::900000002\n",
        r"ratings\.dat: line 2: rating must be between 1 and 5 \(MovieLens stars\), "
        r"got '99'; fix the row, or pass rating_range=",
    ),
    (
        "ml_rating_negative",
        "movielens",
        "ratings.dat",
        MOVIELENS_ROW + b"1::20::-3::900000002\n",
        r"ratings\.dat: line 2: rating must be between 1 and 5 .*got '-3'",
    ),
    (
        "ml_rating_nan",
        "movielens",
        "ratings.dat",
        MOVIELENS_ROW + b"1::20::NaN::900000002\n",
        r"ratings\.dat: line 2: rating must be finite, got 'NaN'",
    ),
    (
        "ml_rating_empty",
        "movielens",
        "ratings.dat",
        MOVIELENS_ROW + b"1::20::::900000002\n",
        r"ratings\.dat: line 2: rating is empty",
    ),
    (
        "ml_negative_user",
        "movielens",
        "ratings.dat",
        MOVIELENS_ROW + b"-1::20::3::900000002\n",
        r"ratings\.dat: line 2: user id must be an integer >= 0, got '-1'",
    ),
    (
        "ml_negative_item",
        "movielens",
        "u.data",
        b"1\t10\t5\t900000001\n1\t-20\t3\t900000002\n",
        r"u\.data: line 2: item id must be an integer >= 0, got '-20'",
    ),
    (
        "ml_hexadecimal_id",
        "movielens",
        "ratings.dat",
        b"1::0x10::5::900000001\n",
        r"ratings\.dat: line 1: item id must be an integer, got '0x10'",
    ),
    (
        "ml_fractional_timestamp",
        "movielens",
        "ratings.dat",
        MOVIELENS_ROW + b"1::20::5::9.5\n",
        r"ratings\.dat: line 2: timestamp must be an integer number of seconds, got "
        r"'9\.5'",
    ),
    (
        "ml_truncated_last_line",
        "movielens",
        "ratings.dat",
        MOVIELENS_ROW + b"1::20",
        r"ratings\.dat: line 2: expected 4 fields .*found 2 \('1::20'\); missing: "
        r"rating, timestamp; the file ends inside this line: is it truncated\?",
    ),
    (
        "ml_missing_column",
        "movielens",
        "ratings.dat",
        b"1::10::5\n2::10::4\n",
        r"ratings\.dat: line 1: expected 4 fields .*found 3 .*missing: timestamp",
    ),
    (
        "ml_blank_line",
        "movielens",
        "ratings.dat",
        MOVIELENS_ROW + b"\r\n" + MOVIELENS_ROW,
        r"ratings\.dat: line 2: empty line; delete it",
    ),
    (
        "ml_empty_file",
        "movielens",
        "ratings.dat",
        b"\xef\xbb\xbf\r\n\r\n",
        r"ratings\.dat: line 1: empty file \(no data rows\)",
    ),
    (
        "amazon_wrong_separator",
        "amazon_csv",
        "a.csv",
        b"B1;U1;5.0;100\n",
        r"a\.csv: line 1: expected 4 fields separated by ',' \(item id, user id, "
        r"rating, timestamp\), found 1 .*the line contains ';': wrong separator\?",
    ),
    (
        "amazon_binary_junk",
        "amazon_csv",
        "a.csv",
        PNG_BYTES,
        r"a\.csv: line 1: item id is not valid UTF-8 text \(byte 0x89\); is this a "
        r"binary file",
    ),
    (
        "amazon_nul_bytes",
        "amazon_csv",
        "a.csv",
        AMAZON_ROW + b"B1,U\x002,5.0,100\n",
        r"a\.csv: line 2: user id holds binary data \(byte 0x00\)",
    ),
    (
        "amazon_control_byte_in_id",
        "amazon_csv",
        "a.csv",
        AMAZON_ROW + b"B1,U\x01,5.0,100\n",
        r"a\.csv: line 2: user id holds binary data \(byte 0x01\)",
    ),
    (
        "amazon_header",
        "amazon_csv",
        "a.csv",
        b"asin,reviewerID,overall,unixReviewTime\n" + AMAZON_ROW,
        r"a\.csv: line 1: rating must be a number, got 'overall'; line 1 looks like "
        r"a header: Amazon ratings CSV files have none",
    ),
    (
        "amazon_rating_too_high",
        "amazon_csv",
        "a.csv",
        AMAZON_ROW + b"B2,U1,99,100\n",
        r"a\.csv: line 2: rating must be between 1 and 5 \(Amazon stars\), got '99'",
    ),
    (
        "amazon_rating_negative",
        "amazon_csv",
        "a.csv",
        AMAZON_ROW + b"B2,U1,-3,100\n",
        r"a\.csv: line 2: rating must be between 1 and 5 .*got '-3'",
    ),
    (
        "amazon_rating_nan",
        "amazon_csv",
        "a.csv",
        AMAZON_ROW + b"B2,U1,nan,100\n",
        r"a\.csv: line 2: rating must be finite, got 'nan'",
    ),
    (
        "amazon_empty_user",
        "amazon_csv",
        "a.csv",
        AMAZON_ROW + b"B2, ,4.0,100\n",
        r"a\.csv: line 2: user id is empty; every row needs one",
    ),
    (
        "amazon_truncated_last_line",
        "amazon_csv",
        "a.csv",
        AMAZON_ROW + b"B2,U1,4.0",
        r"a\.csv: line 2: expected 4 fields .*found 3 .*missing: timestamp; the file "
        r"ends inside this line",
    ),
    (
        "amazon_missing_column",
        "amazon_csv",
        "a.csv",
        b"B1,U1,5.0\nB2,U1,4.0\n",
        r"a\.csv: line 1: expected 4 fields .*found 3 .*missing: timestamp",
    ),
    (
        "amazon_unbalanced_quote",
        "amazon_csv",
        "a.csv",
        AMAZON_ROW + b'B1,"U1,5.0,100\nB2,U2,4.0,100\n',
        r"a\.csv: line 2: unbalanced quote",
    ),
    (
        "amazon_hexadecimal_timestamp",
        "amazon_csv",
        "a.csv",
        AMAZON_ROW + b"B2,U1,4.0,0x1f\n",
        r"a\.csv: line 2: timestamp must be an integer number of seconds, got '0x1f'",
    ),
    (
        "amazon_empty_file",
        "amazon_csv",
        "a.csv",
        b"",
        r"a\.csv: line 1: empty file",
    ),
    (
        "json_binary_junk",
        "amazon_json",
        "r.json",
        PNG_BYTES,
        r"r\.json: line 1: not valid UTF-8 text \(byte 0x89\); is this a binary file",
    ),
    (
        "json_nul_bytes",
        "amazon_json",
        "r.json",
        JSON_ROW + b"{\x00}\n",
        r"r\.json: line 2: binary data \(byte 0x00\)",
    ),
    (
        "json_null_user",
        "amazon_json",
        "r.json",
        JSON_ROW + JSON_ROW.replace(b'"U1"', b"null"),
        r"r\.json: line 2: reviewerID must be a string id, got null",
    ),
    (
        "json_empty_item",
        "amazon_json",
        "r.json",
        JSON_ROW + JSON_ROW.replace(b'"B1"', b'" "'),
        r"r\.json: line 2: asin is empty",
    ),
    (
        "json_nan_rating",
        "amazon_json",
        "r.json",
        JSON_ROW + JSON_ROW.replace(b"5.0", b"NaN"),
        r"r\.json: line 2: overall must be a finite number, got NaN",
    ),
    (
        "json_null_rating",
        "amazon_json",
        "r.json",
        JSON_ROW + JSON_ROW.replace(b"5.0", b"null"),
        r"r\.json: line 2: overall must be a finite number, got null",
    ),
    (
        "json_rating_out_of_range",
        "amazon_json",
        "r.json",
        JSON_ROW + JSON_ROW.replace(b"5.0", b"99"),
        r"r\.json: line 2: overall must be between 1 and 5 \(Amazon stars\), got 99",
    ),
    (
        "json_fractional_time",
        "amazon_json",
        "r.json",
        JSON_ROW + JSON_ROW.replace(b'"unixReviewTime": 1', b'"unixReviewTime": 1.5'),
        r"r\.json: line 2: unixReviewTime must be an integer number of seconds, got "
        r"1\.5",
    ),
    (
        "json_truncated_last_line",
        "amazon_json",
        "r.json",
        JSON_ROW + JSON_ROW[:30],
        r"r\.json: line 2: invalid JSON .*the file ends inside this line: is it "
        r"truncated\?",
    ),
    (
        "json_missing_key",
        "amazon_json",
        "r.json",
        JSON_ROW + b'{"reviewerID": "U1", "overall": 5.0, "unixReviewTime": 1}\n',
        r"r\.json: line 2: missing key 'asin'",
    ),
    (
        "recbole_wrong_separator",
        "recbole",
        "x.inter",
        b"user_id:token;item_id:token\nu1;i1\n",
        r"x\.inter: line 1: header field 'user_id:token;item_id:token' is not "
        r"'name:type'",
    ),
    (
        "recbole_wrong_separator_in_row",
        "recbole",
        "x.inter",
        INTER_HEADER + b"u1;i1;5;100\n",
        r"x\.inter: line 2: expected 4 fields separated by tab \(user_id, item_id, "
        r"rating, timestamp\), found 1 .*the line contains ';': wrong separator\?",
    ),
    (
        "recbole_binary_junk",
        "recbole",
        "x.inter",
        PNG_BYTES,
        r"x\.inter: line 1: the header is not valid UTF-8 text \(byte 0x89\)",
    ),
    (
        "recbole_invalid_utf8_id",
        "recbole",
        "x.inter",
        INTER_HEADER + NOT_UTF8 + b"\ti1\t5\t100\n",
        r"x\.inter: line 2: user_id is not valid UTF-8 text \(byte 0xff\)",
    ),
    (
        "recbole_nan_rating",
        "recbole",
        "x.inter",
        INTER_HEADER + b"u1\ti1\tnan\t100\n",
        r"x\.inter: line 2: rating must be finite, got 'nan'",
    ),
    (
        "recbole_fractional_timestamp",
        "recbole",
        "x.inter",
        INTER_HEADER + b"u1\ti1\t5\t100.5\n",
        r"x\.inter: line 2: timestamp must be an integer number of seconds, got "
        r"'100\.5'",
    ),
    (
        "recbole_missing_column",
        "recbole",
        "x.inter",
        INTER_HEADER + b"u1\ti1\t5\t100\nu2\ti2\t4\n",
        r"x\.inter: line 3: expected 4 fields .*found 3 .*missing: timestamp",
    ),
    (
        "recbole_missing_header_field",
        "recbole",
        "x.inter",
        b"user_id:token\titem:token\nu1\ti1\n",
        r"x\.inter: line 1: no field 'item_id' in header \['user_id', 'item'\]; pass "
        r"item_field=",
    ),
    (
        "recbole_no_rows",
        "recbole",
        "x.inter",
        INTER_HEADER,
        r"x\.inter: line 2: no data rows below the header",
    ),
    (
        "recbole_empty_file",
        "recbole",
        "x.inter",
        b"",
        r"x\.inter: line 1: empty file \(no header\)",
    ),
    (
        "csv_wrong_separator",
        "csv",
        "c.csv",
        b"1;2;3\n4;5;6\n",
        r"c\.csv: line 1: item id: no column 2, the line splits into 1 field\(s\) on "
        r"',' .*the line contains ';': wrong separator\? pass sep=';'",
    ),
    (
        "csv_wrong_separator_in_row",
        "csv",
        "c.csv",
        CSV_HEADER + b"1,2,3\n4;5;6\n",
        r"c\.csv: line 3: expected 3 fields separated by ',' \(user id \(column "
        r"'user'\), .*found 1 .*the line contains ';': wrong separator\? Pass "
        r"sep=';' if so",
    ),
    (
        "csv_binary_junk",
        "csv",
        "c.csv",
        PNG_BYTES,
        r"c\.csv: line 1: not valid UTF-8 text \(byte 0x89\); is this a binary file",
    ),
    (
        "csv_nul_bytes",
        "csv",
        "c.csv",
        CSV_HEADER + b"1,2,3\nu\x00,2,3\n",
        r"c\.csv: line 3: user id \(column 'user'\) holds binary data \(byte 0x00\)",
    ),
    (
        "csv_unknown_header",
        "csv",
        "c.csv",
        b"u,i\n1,2\n3,4\n",
        r"c\.csv: line 1: column 1 holds 'u' above the number '1': line 1 looks like "
        r"a header, but names no known user or item column .*pass header=True",
    ),
    (
        "csv_rating_not_a_number",
        "csv",
        "c.csv",
        CSV_HEADER + b"1,2,3\n1,3,x\n",
        r"c\.csv: line 3: rating \(column 'rating'\) must be a number, got 'x'",
    ),
    (
        "csv_rating_nan",
        "csv",
        "c.csv",
        CSV_HEADER + b"1,2,3\n1,3,nan\n",
        r"c\.csv: line 3: rating \(column 'rating'\) must be finite, got 'nan'",
    ),
    (
        "csv_rating_infinite",
        "csv",
        "c.csv",
        CSV_HEADER + b"1,2,3\n1,3,1e999\n",
        r"c\.csv: line 3: rating \(column 'rating'\) must be finite, got '1e999'",
    ),
    (
        "csv_empty_item",
        "csv",
        "c.csv",
        CSV_HEADER + b"1,2,3\n1,,3\n",
        r"c\.csv: line 3: item id \(column 'item'\) is empty",
    ),
    (
        "csv_truncated_last_line",
        "csv",
        "c.csv",
        CSV_HEADER + b"1,2,3\n1,2",
        r"c\.csv: line 3: expected 3 fields .*found 2 .*missing: rating \(column "
        r"'rating'\); the file ends inside this line",
    ),
    (
        "csv_missing_column",
        "csv",
        "c.csv",
        b"user,rating\n1,2\n",
        r"c\.csv: line 1: cannot find the item column among \['user', 'rating'\]; "
        r"pass item_col=",
    ),
    (
        "csv_quoted_line_break",
        "csv",
        "c.csv",
        CSV_HEADER + b'1,"2\n3",4\n',
        r"c\.csv: line 2: unbalanced quote",
    ),
    (
        "amazon_blank_line",
        "amazon_csv",
        "a.csv",
        AMAZON_ROW + b"\n" + AMAZON_ROW,
        r"a\.csv: line 2: empty line; delete it",
    ),
    (
        "recbole_blank_line",
        "recbole",
        "x.inter",
        b"user_id:token\titem_id:token\nu1\ti1\n\nu2\ti2\n",
        r"x\.inter: line 3: empty line; delete it",
    ),
    (
        "csv_blank_line",
        "csv",
        "c.csv",
        b"a,b\n\t\nc,d\n",
        r"c\.csv: line 2: empty line; delete it",
    ),
    (
        "csv_empty_file",
        "csv",
        "c.csv",
        b"\xef\xbb\xbf",
        r"c\.csv: line 1: empty file",
    ),
]

LOADERS = {
    "movielens": loaders.load_movielens,
    "amazon_csv": loaders.load_amazon_csv,
    "amazon_json": loaders.load_amazon_json,
    "recbole": loaders.load_recbole,
    "csv": loaders.load_csv,
}


@pytest.mark.parametrize(
    "loader, name, content, pattern",
    [case[1:] for case in BAD_INPUTS],
    ids=[case[0] for case in BAD_INPUTS],
)
def test_bad_input_names_file_line_and_field(tmp_path, loader, name, content, pattern):
    path = _write(tmp_path / name, content)
    with pytest.raises(ValueError, match=pattern) as raised:
        LOADERS[loader](path)
    assert str(raised.value).startswith(f"{path}:")


def test_bad_input_found_by_bisection_in_a_large_file(tmp_path):
    rows = [
        f"{u}::{u % 97 + 1}::{u % 5 + 1}::{900000000 + u}\n" for u in range(1, 50001)
    ]
    good = "".join(rows).encode()
    for row, bad in ((37_123, "7::8::x::9\n"), (49_999, "7::8\n"), (1, "7;8;1;9\n")):
        content = "".join(rows[: row - 1] + [bad] + rows[row:]).encode()
        path = _write(tmp_path / "ratings.dat", content)
        with pytest.raises(ValueError, match=rf"ratings\.dat: line {row}: "):
            loaders.load_movielens(path)
    # A NUL byte late in the file: an earlier unparsable line is still the one
    # reported; without one, the NUL byte is.
    content = good.replace(rows[45_000].encode(), b"7::\x00::1::9\n")
    path = _write(tmp_path / "ratings.dat", content)
    with pytest.raises(ValueError, match=r"ratings\.dat: line 45001: item id holds"):
        loaders.load_movielens(path)
    content = content.replace(rows[40].encode(), b"7::8::x::9\n")
    path = _write(tmp_path / "ratings.dat", content)
    with pytest.raises(ValueError, match=r"ratings\.dat: line 41: rating must be"):
        loaders.load_movielens(path)
    raw = loaders.load_movielens(_write(tmp_path / "ratings.dat", good))
    assert len(raw) == 50000 and raw.timestamps[-1] == 900050000


def test_rating_range_option(tmp_path):
    path = _write(tmp_path / "ratings.dat", b"1::10::0.5::1\n1::20::99::2\n")
    with pytest.raises(ValueError, match=r"line 1: rating must be between 1 and 5"):
        loaders.load_movielens(path)
    with pytest.raises(ValueError, match=r"line 2: rating must be between 0.5 and 5"):
        loaders.load_movielens(path, rating_range=(0.5, 5))
    assert loaders.load_movielens(path, rating_range=None).ratings.tolist() == [0.5, 99]
    path = _write(tmp_path / "r.csv", b"user,item,rating\n1,2,-7\n")
    assert loaders.load_csv(path).ratings.tolist() == [-7]
    with pytest.raises(ValueError, match=r"r\.csv: line 2: rating \(column 'rating'\)"):
        loaders.load_csv(path, rating_range=(1, 5))
    path = _write(tmp_path / "a.csv", b"B1,U1,0,100\n")
    assert loaders.load_amazon_csv(path, rating_range=None).ratings.tolist() == [0]
    path = _write(tmp_path / "r.json", JSON_ROW.replace(b"5.0", b"0"))
    assert loaders.load_amazon_json(path, rating_range=(0, 5)).ratings.tolist() == [0]
    path = _write(tmp_path / "x.inter", INTER_HEADER + b"u\ti\t11\t100.0\n")
    raw = loaders.load_recbole(path)
    assert raw.ratings.tolist() == [11] and raw.timestamps.tolist() == [100]
    with pytest.raises(ValueError, match=r"x\.inter: line 2: rating must be between"):
        loaders.load_recbole(path, rating_range=(1, 10))


def test_csv_header_chosen_by_column_names(tmp_path):
    path = _write(tmp_path / "c.csv", b"u,i\n1,2\n3,4\n")
    raw = loaders.load_csv(path, user_col="u", item_col="i")
    assert raw.users.tolist() == [1, 3] and raw.items.tolist() == [2, 4]
    raw = loaders.load_csv(path, header=False, id_type="str")
    assert raw.users.tolist() == ["u", "1", "3"]
    # Strings on both lines cannot be told from data: read as data.
    path = _write(tmp_path / "d.csv", b"u,i\nalice,book\n")
    assert loaders.load_csv(path).users.tolist() == ["u", "alice"]


def test_multi_character_separators(tmp_path):
    # Ids may contain one character of the separator.
    path = _write(tmp_path / "a.txt", "u:1::i:2::4\nu:2::i:1::5\n")
    raw = loaders.load_csv(path, sep="::")
    assert raw.users.tolist() == ["u:1", "u:2"] and raw.items.tolist() == ["i:2", "i:1"]
    path = _write(tmp_path / "b.txt", "1||2||3.5||100\n4||5||1||200\n")
    raw = loaders.load_csv(path, sep="||")
    assert raw.users.tolist() == [1, 4] and raw.ratings.tolist() == [3.5, 1.0]
    path = _write(tmp_path / "ratings.dat", "1||2||3||4\n")
    assert loaders.load_movielens(path, sep="||").items.tolist() == [2]
    path = _write(tmp_path / "c.txt", "1 -> 2\n3 -> 4\n")
    assert loaders.load_csv(path, sep=" -> ").items.tolist() == [2, 4]


def test_text_fields_parse_like_before(tmp_path):
    # Surrounding whitespace, quoting and a missing final line break.
    path = _write(tmp_path / "a.csv", b' B1 ,"U,1",5,100\nB2,"say ""hi""",4.0,1e2')
    raw = loaders.load_amazon_csv(path)
    assert raw.items.tolist() == ["B1", "B2"]
    assert raw.users.tolist() == ["U,1", 'say "hi"']
    assert raw.timestamps.tolist() == [100, 100]
    path = _write(tmp_path / "b.csv", "user,item\n é ,ü\n".encode("latin-1"))
    raw = loaders.load_csv(path, encoding="latin-1")
    assert raw.users.tolist() == ["é"] and raw.items.tolist() == ["ü"]
    with pytest.raises(ValueError, match=r"b\.csv: line 2: user id \(column 'user'\)"):
        loaders.load_csv(path)


def test_missing_final_line_break_is_logged(tmp_path, caplog):
    path = _write(tmp_path / "ratings.dat", MOVIELENS_ROW + b"1::20::3::900000002")
    with caplog.at_level("WARNING"):
        assert len(loaders.load_movielens(path)) == 2
    assert "ratings.dat: line 2: no line break at the end of the file" in caplog.text


def test_infinite_ae_negative_ids(tmp_path):
    directory = _write_infinite_ae(tmp_path / "neg", [0, -1], [1, 2], [1, 1], [0, 0])
    with pytest.raises(
        ValueError,
        match=r"total_data\.hdf5: dataset 'user' row 1: ids must be integers >= 0, "
        r"got -1",
    ):
        loaders.load_infinite_ae(directory)
    directory = _write_infinite_ae(tmp_path / "neg2", [0, 1], [1, -2], [1, 1], [0, 0])
    with pytest.raises(ValueError, match=r"dataset 'item' row 1: ids must be"):
        loaders.load_infinite_ae_raw(directory)


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
    # ∞-AE's Magazine hdf5 was built from exactly these rows; compare the timestamps.
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
