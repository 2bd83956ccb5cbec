"""Tests for infinite_ae.data.sequences and the Markov sequence generator.

Every result is compared with a slow, independent Python reference (per-user loops
over plain lists), a hand-computed case, or the files themselves parsed with the
standard library.
"""

import gzip
import time

import numpy as np
import pytest
import scipy.stats

from infinite_ae import data as data_lib
from infinite_ae.data import loaders
from infinite_ae.data.interactions import RawInteractions
from infinite_ae.data.sequences import Sequences, load_recbole_sequences
from infinite_ae.data.synthetic import make_markov_sequences, markov_oracle_scores

# Markov generator: smallest chi-square p-value accepted for the planted chain (one
# fixed seed, so the test is deterministic) and largest accepted for a wrong chain.
MIN_P_VALUE_PLANTED = 1e-3
MAX_P_VALUE_WRONG = 1e-12
# Expected counts below this are pooled into the "other successors" cell.
MIN_EXPECTED_COUNT = 5.0
# Oracle hit@10: allowed deviation from its expectation, in binomial standard errors.
ORACLE_HIT_SIGMAS = 4.0
# Real files load within this many seconds (generous: the machine may be busy).
MAX_LOAD_SECONDS = 20.0


# ----------------------------------------------------------------- references
def _reference_from_raw(users, items, times, *, min_length, dedup):
    """{raw user: (prefix raw items, val raw item | None, test raw item | None)}."""
    rows = [
        (u, i, t, index)
        for index, (u, i, t) in enumerate(zip(users, items, times, strict=True))
    ]
    chronological = sorted(rows, key=lambda row: (row[2], row[3]))
    if dedup != "none":
        chosen = {}
        for row in chronological:
            key = (row[0], row[1])
            if dedup == "last" or key not in chosen:
                chosen[key] = row
        rows = list(chosen.values())
    per_user = {}
    for row in sorted(rows, key=lambda row: (row[2], row[3])):
        per_user.setdefault(row[0], []).append(row[1])
    result = {}
    for user, sequence in per_user.items():
        if len(sequence) < min_length:
            continue
        val = sequence[-2] if len(sequence) >= 2 else None
        result[user] = (sequence[:-2], val, sequence[-1])
    return result


def _decoded(seq):
    """The same mapping, read back from a `Sequences` through its raw ids."""
    out = {}
    for user in range(seq.num_users):
        prefix = seq.train_items[seq.train_indptr[user] : seq.train_indptr[user + 1]]
        val, test = int(seq.val_items[user]), int(seq.test_items[user])
        out[seq.user_ids[user].item()] = (
            [seq.item_ids[i].item() for i in prefix],
            None if val < 0 else seq.item_ids[val].item(),
            None if test < 0 else seq.item_ids[test].item(),
        )
    return out


def _reference_window(sequence, max_len):
    """Right-aligned index + 1 of the last `max_len` items, 0-padded on the left."""
    tail = [item + 1 for item in sequence][-max_len:] if max_len else []
    return [0] * (max_len - len(tail)) + tail


def _sequences_lists(seq):
    return [
        seq.train_items[seq.train_indptr[u] : seq.train_indptr[u + 1]].tolist()
        for u in range(seq.num_users)
    ]


def _random_sequences(rng, num_users=40, num_items=12):
    lengths = rng.integers(0, 9, size=num_users)
    items = rng.integers(num_items, size=int(lengths.sum()))
    val = rng.integers(-1, num_items, size=num_users)
    test = rng.integers(-1, num_items, size=num_users)
    return Sequences(
        train_indptr=np.concatenate([[0], np.cumsum(lengths)]),
        train_items=items,
        val_items=val,
        test_items=test,
        user_ids=np.arange(num_users) * 10,
        item_ids=[f"item{i}" for i in range(num_items)],
        name="random",
    )


# ------------------------------------------------------------------- from_raw
def test_from_raw_ties_follow_file_order():
    # User 1: b and c share time 3 (b first in the file), a at 5, d at 9.
    raw = RawInteractions(
        users=[1, 1, 1, 1, 2, 2, 2, 2],
        items=["a", "b", "c", "d", "x", "y", "z", "w"],
        timestamps=[5, 3, 3, 9, 1, 1, 1, 1],
        source="table.csv",
    )
    seq = Sequences.from_raw(raw)
    assert _decoded(seq) == {
        1: (["b", "c"], "a", "d"),
        2: (["x", "y"], "z", "w"),
    }
    # The same rows with c before b in the file: c comes first.
    swapped = RawInteractions(
        users=[1, 1, 1, 1],
        items=["a", "c", "b", "d"],
        timestamps=[5, 3, 3, 9],
    )
    assert _decoded(Sequences.from_raw(swapped))[1] == (["c", "b"], "a", "d")
    assert seq.item_ids.tolist() == ["a", "b", "c", "d", "w", "x", "y", "z"]
    assert seq.info["ties"] == "file_order" and seq.name == "table"


@pytest.mark.parametrize("dedup", ["first", "last", "none"])
@pytest.mark.parametrize("min_length", [1, 2, 3, 5])
def test_from_raw_matches_slow_reference(dedup, min_length):
    rng = np.random.default_rng(min_length * 7 + len(dedup))
    num_rows = 300
    users = rng.integers(0, 25, size=num_rows) * 3  # sparse raw ids
    items = np.array([f"i{k:02d}" for k in rng.integers(0, 15, size=num_rows)])
    times = rng.integers(0, 6, size=num_rows)  # many ties
    raw = RawInteractions(users=users, items=items, timestamps=times)
    seq = Sequences.from_raw(raw, min_length=min_length, dedup=dedup)
    expected = _reference_from_raw(
        users.tolist(),
        items.tolist(),
        times.tolist(),
        min_length=min_length,
        dedup=dedup,
    )
    assert _decoded(seq) == expected
    assert seq.user_ids.tolist() == sorted(expected)
    kept_items = {i for p, v, t in expected.values() for i in [*p, v, t] if i}
    assert seq.item_ids.tolist() == sorted(kept_items)
    assert seq.info["num_users_dropped"] == len(set(users.tolist())) - len(expected)


def test_from_raw_errors():
    raw = RawInteractions(users=[1, 1, 1], items=[1, 2, 3], source="no_time.csv")
    with pytest.raises(ValueError, match=r"no_time\.csv: .*needs timestamps"):
        Sequences.from_raw(raw)
    timed = RawInteractions(users=[1], items=[1], timestamps=[0])
    with pytest.raises(ValueError, match="keep must be one of"):
        Sequences.from_raw(timed, dedup="sometimes")
    with pytest.raises(ValueError, match="min_length"):
        Sequences.from_raw(timed, min_length=0)
    empty = Sequences.from_raw(timed)  # the only user is too short
    assert empty.num_users == 0 and empty.num_items == 0


def test_from_raw_recbole_inter_with_timestamp(tmp_path):
    path = tmp_path / "toy.inter"
    path.write_text(
        "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
        "u1\tA\t5\t30\nu1\tB\t4\t10\nu1\tC\t3\t20\nu2\tA\t1\t1\n"
    )
    seq = Sequences.from_raw(loaders.load_recbole(path), min_length=1)
    assert _decoded(seq) == {"u1": (["B"], "C", "A"), "u2": ([], None, "A")}
    assert seq.name == "toy"


# ------------------------------------------------------------- model inputs
def test_history_and_windows_hand_computed():
    seq = Sequences(
        train_indptr=[0, 4, 4, 5],
        train_items=[3, 1, 4, 1, 5],
        val_items=[2, 0, -1],
        test_items=[6, 1, 0],
        user_ids=[0, 1, 2],
        item_ids=range(7),
    )
    assert seq.history([0, 1, 2], split="val", max_len=3).tolist() == [
        [2, 5, 2],
        [0, 0, 0],
        [0, 0, 6],
    ]
    assert seq.history([0, 1, 2], split="test", max_len=6).tolist() == [
        [0, 4, 2, 5, 2, 3],
        [0, 0, 0, 0, 0, 1],
        [0, 0, 0, 0, 0, 6],
    ]
    inputs, targets = seq.training_windows(2)
    assert inputs.tolist() == [[2, 5]] and targets.tolist() == [[5, 2]]
    inputs, targets = seq.training_windows(5)
    assert inputs.tolist() == [[0, 0, 4, 2, 5]]
    assert targets.tolist() == [[0, 0, 2, 5, 2]]
    assert inputs.dtype == np.int32 and targets.dtype == np.int32


@pytest.mark.parametrize("max_len", [1, 3, 8, 20])
def test_history_and_windows_match_slow_loops(max_len):
    seq = _random_sequences(np.random.default_rng(max_len))
    prefixes = _sequences_lists(seq)
    users = np.random.default_rng(0).permutation(seq.num_users)[:25]
    for split in ("train", "val", "test"):
        out = seq.history(users, split=split, max_len=max_len)
        assert out.shape == (users.size, max_len) and out.dtype == np.int32
        for row, user in enumerate(users.tolist()):
            sequence = list(prefixes[user])
            if split == "test" and seq.val_items[user] >= 0:
                sequence.append(int(seq.val_items[user]))
            assert out[row].tolist() == _reference_window(sequence, max_len)
    inputs, targets = seq.training_windows(max_len)
    expected_inputs, expected_targets = [], []
    for prefix in prefixes:
        if len(prefix) >= 2:
            expected_inputs.append(_reference_window(prefix[:-1], max_len))
            expected_targets.append(_reference_window(prefix[1:], max_len))
    assert inputs.tolist() == expected_inputs
    assert targets.tolist() == expected_targets
    assert np.all((inputs == 0) == (targets == 0))


def test_history_handles_large_batches_in_chunks():
    seq = _random_sequences(np.random.default_rng(5), num_users=3000)
    users = np.arange(seq.num_users)
    out = seq.history(users, split="test", max_len=2048)  # > one chunk of cells
    prefixes = _sequences_lists(seq)
    for user in (0, 1499, 2999):
        sequence = prefixes[user] + (
            [int(seq.val_items[user])] if seq.val_items[user] >= 0 else []
        )
        assert out[user].tolist() == _reference_window(sequence, 2048)


def test_history_errors():
    seq = _random_sequences(np.random.default_rng(1))
    with pytest.raises(ValueError, match="unknown split"):
        seq.history([0], split="valid", max_len=3)
    with pytest.raises(ValueError, match="max_len"):
        seq.history([0], split="val", max_len=0)
    with pytest.raises(ValueError, match=r"users: indices must be in \[0, 40\)"):
        seq.history([40], split="val", max_len=3)
    assert seq.history([], split="val", max_len=3).shape == (0, 3)


# ------------------------------------------------------------------- set view
def test_to_interactions_hand_computed_with_repeats():
    seq = Sequences(
        train_indptr=[0, 3, 4, 4],
        # user 0 repeats item 1 and then its val item 2 (already in the prefix);
        # user 1's test item equals its val item; user 2 has no prefix, no val.
        train_items=[1, 2, 1, 0],
        val_items=[2, 3, -1],
        test_items=[0, 3, 1],
        user_ids=["u0", "u1", "u2"],
        item_ids=["a", "b", "c", "d"],
        name="toy",
    )
    data = seq.to_interactions()
    assert data.train.toarray().tolist() == [[0, 1, 1, 0], [1, 0, 0, 0], [0, 0, 0, 0]]
    assert data.val.toarray().tolist() == [[0, 0, 0, 0], [0, 0, 0, 1], [0, 0, 0, 0]]
    assert data.test.toarray().tolist() == [[1, 0, 0, 0], [0, 0, 0, 0], [0, 1, 0, 0]]
    assert data.user_ids.tolist() == ["u0", "u1", "u2"]
    assert data.item_ids.tolist() == ["a", "b", "c", "d"]
    assert data.info["num_val_repeats_dropped"] == 1
    assert data.info["num_test_repeats_dropped"] == 1
    assert data.name == "toy"


def test_to_interactions_matches_slow_sets():
    seq = _random_sequences(np.random.default_rng(3))
    data = seq.to_interactions()
    prefixes = _sequences_lists(seq)
    for user in range(seq.num_users):
        train = set(prefixes[user])
        val, test = int(seq.val_items[user]), int(seq.test_items[user])
        val_set = {val} - train if val >= 0 else set()
        test_set = (
            {test} - train - ({val} if val >= 0 else set()) if test >= 0 else set()
        )
        for matrix, expected in ((data.train, train), (data.val, val_set)):
            assert set(matrix[user].indices.tolist()) == expected
        assert set(data.test[user].indices.tolist()) == test_set
    for a, b in (("train", "val"), ("train", "test"), ("val", "test")):
        assert data.split(a).multiply(data.split(b)).nnz == 0


# --------------------------------------------------------- truncate / subset
def test_truncate_and_subset_match_slow_loops():
    seq = _random_sequences(np.random.default_rng(4))
    prefixes = _sequences_lists(seq)
    short = seq.truncate(3)
    assert _sequences_lists(short) == [p[-3:] for p in prefixes]
    np.testing.assert_array_equal(short.val_items, seq.val_items)
    np.testing.assert_array_equal(short.test_items, seq.test_items)
    assert short.info["truncated_to"] == 3
    users = [7, 2, 30, 0]
    part = seq.subset(users)
    assert _sequences_lists(part) == [prefixes[u] for u in users]
    assert part.user_ids.tolist() == [seq.user_ids[u] for u in users]
    assert part.val_items.tolist() == [seq.val_items[u] for u in users]
    assert part.test_items.tolist() == [seq.test_items[u] for u in users]
    np.testing.assert_array_equal(part.item_ids, seq.item_ids)
    assert seq.subset([]).num_users == 0
    with pytest.raises(ValueError, match="distinct"):
        seq.subset([1, 1])


def test_properties_and_id_maps():
    seq = _random_sequences(np.random.default_rng(6))
    assert seq.num_users == 40 and seq.num_items == 12
    np.testing.assert_array_equal(seq.lengths, [len(p) for p in _sequences_lists(seq)])
    counts = seq.num_interactions
    assert counts["train"] == seq.train_items.size
    assert counts["val"] == int(np.sum(seq.val_items >= 0))
    assert seq.user_index[30] == 3 and seq.item_index["item5"] == 5
    assert seq.users_to_index([30, 0]).tolist() == [3, 0]
    assert seq.items_to_index(["item11"]).tolist() == [11]
    with pytest.raises(KeyError):
        seq.users_to_index([31])
    assert seq.prefix(3).tolist() == _sequences_lists(seq)[3]


@pytest.mark.parametrize(
    "change, pattern",
    [
        ({"train_indptr": [0, 1]}, r"train_indptr: expected shape \(3,\)"),
        ({"train_indptr": [0, 2, 1]}, "never decrease"),
        ({"train_indptr": [0, 1, 2]}, "ends at 2, but train_items has 3"),
        ({"train_items": [0, 1, 5]}, r"train_items: item indices must be in \[0, 3\)"),
        ({"train_items": [0.0, 1.0, 2.0]}, "train_items: expected integers"),
        ({"val_items": [0, -2]}, "val_items: item indices must be in"),
        ({"test_items": [0]}, r"test_items: expected shape \(2,\)"),
        ({"user_ids": [1, 1]}, "user_ids: raw ids must be unique"),
        ({"info": []}, "info: expected a dict"),
    ],
)
def test_constructor_validation(change, pattern):
    fields = {
        "train_indptr": [0, 2, 3],
        "train_items": [0, 1, 2],
        "val_items": [1, -1],
        "test_items": [2, 0],
        "user_ids": [1, 2],
        "item_ids": [5, 6, 7],
    }
    with pytest.raises(ValueError, match=pattern):
        Sequences(**{**fields, **change})


# ------------------------------------------------------------ RecBole files
HEADER = "user_id:token\titem_id_list:token_seq\titem_id:token"
# Items A..G are indices 0..6 (map listed out of order); users u0..u3 -> 3, 0, 1, 2.
# User u1 (index 0): prefix A B C D E, val F, test G, histories truncated to 3.
# User u2 (index 1): prefix G F, val A, test A (a repeat).
# User u3 (index 2): no train rows, val history C -> B, test C B -> D.
# User u0 (index 3): in the map only.
TRAIN = ["0\t1 2 3\t4", "0\t0 1 2\t3", "0\t0 1\t2", "0\t0\t1", "1\t6\t5"]
VALID = ["0\t2 3 4\t5", "1\t6 5\t0", "2\t2\t1"]
TEST = ["0\t3 4 5\t6", "1\t6 5 0\t0", "2\t2 1\t3"]
ITEM_MAP = ["C\t2", "A\t0", "B\t1", "D\t3", "G\t6", "E\t4", "F\t5"]
USER_MAP = ["u1\t0", "u2\t1", "u3\t2", "u0\t3"]


def _write_fixture(directory, *, name="toy", bom=False, crlf=False, gz=(), **files):
    contents = {
        "train.inter": files.get("train", TRAIN),
        "valid.inter": files.get("valid", VALID),
        "test.inter": files.get("test", TEST),
        "item2index": files.get("item_map", ITEM_MAP),
        "user2index": files.get("user_map", USER_MAP),
    }
    for suffix in ("train.inter", "valid.inter", "test.inter"):
        if contents[suffix] is not None:
            contents[suffix] = [HEADER, *contents[suffix]]
    directory.mkdir(parents=True, exist_ok=True)
    for suffix, lines in contents.items():
        if lines is None:
            continue
        text = ("\r\n" if crlf else "\n").join(lines) + ("\r\n" if crlf else "\n")
        payload = (b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8")
        path = directory / f"{name}.{suffix}"
        if suffix in gz:
            path = path.with_name(path.name + ".gz")
            payload = gzip.compress(payload)
        path.write_bytes(payload)
    return directory / name


def test_load_recbole_sequences_fixture(tmp_path):
    prefix = _write_fixture(tmp_path / "toy")
    seq = load_recbole_sequences(prefix)
    assert seq.user_ids.tolist() == ["u1", "u2", "u3", "u0"]
    assert seq.item_ids.tolist() == list("ABCDEFG")
    assert _decoded(seq) == {
        "u1": (list("ABCDE"), "F", "G"),
        "u2": (["G", "F"], "A", "A"),
        "u3": (["C"], "B", "D"),
        "u0": ([], None, None),
    }
    assert seq.name == "toy"
    assert seq.info["history_truncation"] == {"train": 3, "val": 3, "test": 3}
    assert seq.info["num_users_without_rows"] == 1
    # The files' own inputs come back with max_len = the truncation length.
    assert seq.history([0], split="val", max_len=3).tolist() == [[3, 4, 5]]
    assert seq.history([0], split="test", max_len=3).tolist() == [[4, 5, 6]]
    # A directory with one dataset works too.
    again = load_recbole_sequences(tmp_path / "toy")
    np.testing.assert_array_equal(again.train_items, seq.train_items)
    assert data_lib.load_recbole_sequences is load_recbole_sequences


def test_load_recbole_sequences_bom_crlf_gz_and_no_maps(tmp_path):
    plain = load_recbole_sequences(_write_fixture(tmp_path / "a"))
    other = load_recbole_sequences(
        _write_fixture(
            tmp_path / "b", bom=True, crlf=True, gz=("train.inter", "item2index")
        )
    )
    for field in ("train_indptr", "train_items", "val_items", "test_items"):
        np.testing.assert_array_equal(getattr(other, field), getattr(plain, field))
    np.testing.assert_array_equal(other.item_ids, plain.item_ids)
    np.testing.assert_array_equal(other.user_ids, plain.user_ids)
    bare = load_recbole_sequences(
        _write_fixture(tmp_path / "c", item_map=None, user_map=None)
    )
    # Without maps the tokens are the ids (int64), ascending; u0 has no rows.
    assert bare.user_ids.tolist() == [0, 1, 2]
    assert bare.item_ids.tolist() == list(range(7))
    assert _decoded(bare) == {
        0: ([0, 1, 2, 3, 4], 5, 6),
        1: ([6, 5], 0, 0),
        2: ([2], 1, 3),
    }


def test_load_recbole_sequences_raw_tokens_translated_by_map(tmp_path):
    letters = "ABCDEFG"

    def to_letters(lines):
        out = []
        for line in lines:
            user, history, item = line.split("\t")
            history = " ".join(letters[int(t)] for t in history.split())
            out.append(f"{user}\t{history}\t{letters[int(item)]}")
        return out

    seq = load_recbole_sequences(
        _write_fixture(
            tmp_path / "raw",
            train=to_letters(TRAIN),
            valid=to_letters(VALID),
            test=to_letters(TEST),
        )
    )
    assert _decoded(seq)["u1"] == (list("ABCDE"), "F", "G")


@pytest.mark.parametrize(
    "files, pattern",
    [
        # u1's valid history skips an item of the rebuilt prefix.
        (
            {"valid": ["0\t1 3 4\t5", *VALID[1:]]},
            r"toy\.valid\.inter: line 2: item_id_list of user '0' \(3 items",
        ),
        # u3's test history is not its prefix plus its validation item.
        (
            {"test": [*TEST[:2], "2\t1 2\t3"]},
            r"toy\.test\.inter: line 4: item_id_list of user '2'",
        ),
        # A gap in u1's train rows (the 2-item prefix row is missing).
        (
            {"train": [TRAIN[0], TRAIN[1], TRAIN[3], TRAIN[4]]},
            r"toy\.train\.inter: line 2: item_id_list of user '0' .*does not continue",
        ),
        # Two train rows of the same (untruncated) length for one user.
        (
            {"train": [*TRAIN, "1\t5\t6"]},
            r"toy\.train\.inter: line 7: item_id_list of user '1' has 1 items, like "
            r"line 6",
        ),
        # A user twice in the valid file.
        (
            {"valid": [*VALID, "1\t6 5\t0"]},
            r"toy\.valid\.inter: line 5: user_id '1' already has a row on line 3",
        ),
        # An item token that is neither an index nor a raw id of the map.
        (
            {"train": [*TRAIN[:4], "1\t9\t5"]},
            r"toy\.train\.inter: line 6: item_id_list '9' is neither an index 0\.\.6",
        ),
        # A map with a repeated index.
        (
            {"item_map": [*ITEM_MAP[:-1], "F\t4"]},
            r"toy\.item2index: line 7: index 4 repeats line 6",
        ),
        # A missing file.
        (
            {"valid": None},
            r"no such file: .*toy\.valid\.inter",
        ),
    ],
)
def test_load_recbole_sequences_inconsistent_files(tmp_path, files, pattern):
    prefix = _write_fixture(tmp_path / "bad", **files)
    error = FileNotFoundError if files.get("valid", "") is None else ValueError
    with pytest.raises(error, match=pattern):
        load_recbole_sequences(prefix)


def test_load_recbole_sequences_header_errors(tmp_path):
    prefix = _write_fixture(tmp_path / "h")
    (tmp_path / "h" / "toy.test.inter").write_text(
        "user_id:token\titem_id_list:token\titem_id:token\n0\t1\t2\n"
    )
    with pytest.raises(ValueError, match=r"toy\.test\.inter: line 1: .*token_seq"):
        load_recbole_sequences(prefix)
    (tmp_path / "h" / "toy.test.inter").write_text("user_id:token\titem_id:token\n")
    with pytest.raises(ValueError, match=r"line 1: no field 'item_id_list'"):
        load_recbole_sequences(prefix)
    with pytest.raises(FileNotFoundError, match="no <name>.train.inter"):
        load_recbole_sequences(tmp_path)


# ------------------------------------------------------------------ real data
def _read_rows(path):
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        lines = handle.read().splitlines()[1:]
    rows = []
    for line in lines:
        user, history, item = line.split("\t")
        rows.append((int(user), [int(t) for t in history.split()], int(item)))
    return rows


def test_real_scientific(real_data):
    directory = real_data("unisrec_scientific")
    start = time.perf_counter()
    seq = load_recbole_sequences(directory)
    assert time.perf_counter() - start < MAX_LOAD_SECONDS
    assert (seq.num_users, seq.num_items) == (8442, 4385)
    assert np.all(seq.val_items >= 0) and np.all(seq.test_items >= 0)
    counts = seq.num_interactions
    assert sum(counts.values()) == 59427  # the UniSRec paper's count
    assert counts == {"train": 42543, "val": 8442, "test": 8442}
    assert seq.user_ids[0] == "ABW8NXS7SV55K" and seq.item_ids[0] == "B00TNNWMXI"
    # Independent check against the files parsed line by line.
    for split, name in (("val", "valid"), ("test", "test")):
        rows = _read_rows(directory / f"Scientific.{name}.inter.gz")
        users = np.array([user for user, _, _ in rows])
        inputs = seq.history(users, split=split, max_len=50)
        targets = seq.val_items if split == "val" else seq.test_items
        for row, (user, history, item) in enumerate(rows):
            assert [i - 1 for i in inputs[row] if i] == history
            assert targets[user] == item
    expected_train = {}
    prefixes = _sequences_lists(seq)
    for user, prefix in enumerate(prefixes):
        for position in range(1, len(prefix)):
            window = prefix[max(0, position - 50) : position]
            expected_train.setdefault(user, []).append(
                (tuple(window), prefix[position])
            )
    actual_train = {}
    for user, history, item in _read_rows(directory / "Scientific.train.inter.gz"):
        actual_train.setdefault(user, []).append((tuple(history), item))
    assert {u: sorted(v) for u, v in actual_train.items()} == {
        u: sorted(v) for u, v in expected_train.items()
    }
    data = seq.to_interactions()
    assert data.shape == (8442, 4385)


def test_real_movielens_1m_partial(real_data):
    path = real_data("movielens/ml-1m/ratings.users0001-2999.partial.dat.gz")
    raw = loaders.load_movielens(path)
    start = time.perf_counter()
    seq = Sequences.from_raw(raw)
    assert time.perf_counter() - start < MAX_LOAD_SECONDS
    # ML-1M, first 2,999 users: every user has >= 20 ratings, none repeated.
    assert (seq.num_users, seq.num_items) == (2999, 3615)
    assert seq.num_interactions == {"train": 481652, "val": 2999, "test": 2999}
    assert seq.user_ids.tolist() == list(range(1, 3000))
    _check_latest_held_out(seq, raw)


def test_real_movielens_100k(real_data):
    raw = loaders.load_movielens(real_data("movielens/ml-100k.zip"))
    seq = Sequences.from_raw(raw)
    assert (seq.num_users, seq.num_items) == (943, 1682)
    assert sum(seq.num_interactions.values()) == 100000
    assert seq.lengths.min() >= 18  # every ML-100K user has >= 20 ratings
    _check_latest_held_out(seq, raw)


def test_real_amazon_gift_cards(real_data):
    raw = loaders.load_amazon_json(real_data("amazon2018/Gift_Cards_5.json.gz"))
    seq = Sequences.from_raw(raw)
    expected = _reference_from_raw(
        raw.users.tolist(),
        raw.items.tolist(),
        raw.timestamps.tolist(),
        min_length=3,
        dedup="first",
    )
    assert _decoded(seq) == expected
    assert seq.num_users == 458 and seq.info["num_duplicate_rows_dropped"] == 7


def _check_latest_held_out(seq, raw):
    """The test item has the user's latest time and the val item the one before."""
    user_index = seq.users_to_index(raw.users)
    item_index = seq.items_to_index(raw.items)
    order = np.lexsort((np.arange(len(raw)), raw.timestamps, user_index))
    sorted_users, sorted_items = user_index[order], item_index[order]
    last = np.r_[sorted_users[1:] != sorted_users[:-1], True]
    np.testing.assert_array_equal(sorted_items[last], seq.test_items)
    second = np.r_[last[1:], False]
    np.testing.assert_array_equal(sorted_items[second], seq.val_items)


# ------------------------------------------------------------- Markov chain
def _transition_counts(seq):
    counts = np.zeros((seq.num_items, seq.num_items), np.int64)
    for user, prefix in enumerate(_sequences_lists(seq)):
        sequence = prefix + [int(seq.val_items[user]), int(seq.test_items[user])]
        for before, after in zip(sequence[:-1], sequence[1:], strict=True):
            counts[before, after] += 1
    return counts


def _chi_square_p_value(counts, transition):
    """Pearson chi-square of observed rows vs the chain, small cells pooled."""
    statistic, dof = 0.0, 0
    for row in range(transition.shape[0]):
        total = counts[row].sum()
        expected = total * transition[row]
        big = expected >= MIN_EXPECTED_COUNT
        observed = np.append(counts[row, big], counts[row, ~big].sum())
        expected = np.append(expected[big], expected[~big].sum())
        keep = expected > 0
        statistic += float(
            np.sum((observed[keep] - expected[keep]) ** 2 / expected[keep])
        )
        dof += int(keep.sum()) - 1
    return scipy.stats.chi2.sf(statistic, dof)


def test_markov_transitions_match_the_planted_chain():
    seq, transition = make_markov_sequences(2000, 40, mean_length=30, seed=0)
    assert transition.shape == (40, 40)
    np.testing.assert_allclose(transition.sum(1), 1.0, rtol=0, atol=1e-12)
    assert np.all(np.diag(transition) == transition.min(1))  # no self-successor
    counts = _transition_counts(seq)
    assert _chi_square_p_value(counts, transition) > MIN_P_VALUE_PLANTED
    _, other = make_markov_sequences(10, 40, mean_length=5, seed=1)
    assert _chi_square_p_value(counts, other) < MAX_P_VALUE_WRONG
    lengths = seq.lengths + 2
    assert lengths.min() >= 3 and abs(lengths.mean() - 30) < 0.5
    assert np.all(seq.val_items >= 0) and np.all(seq.test_items >= 0)


def test_markov_oracle_scores():
    seq, transition = make_markov_sequences(3000, 30, mean_length=10, seed=2)
    users = np.arange(seq.num_users)
    scores = markov_oracle_scores(seq, transition, users, split="test")
    last = seq.val_items  # the test query ends with the validation item
    np.testing.assert_array_equal(scores, transition[last])
    top10 = np.argsort(-scores, axis=1, kind="stable")[:, :10]
    hits = np.any(top10 == seq.test_items[:, None], axis=1)
    expected = np.take_along_axis(scores, top10, axis=1).sum(1)
    error = np.sqrt(np.sum(expected * (1 - expected))) / users.size
    assert abs(hits.mean() - expected.mean()) < ORACLE_HIT_SIGMAS * error
    assert expected.mean() > 0.9  # peaked rows: the oracle is near certain
    val_scores = markov_oracle_scores(seq, transition, users[:5], split="val")
    last_prefix = [_sequences_lists(seq)[u][-1] for u in range(5)]
    np.testing.assert_array_equal(val_scores, transition[last_prefix])


def test_markov_generator_is_seeded_and_validates():
    first, p1 = make_markov_sequences(50, 10, mean_length=6, seed=3)
    second, p2 = make_markov_sequences(50, 10, mean_length=6, seed=3)
    np.testing.assert_array_equal(p1, p2)
    np.testing.assert_array_equal(first.train_items, second.train_items)
    with pytest.raises(ValueError, match="mean_length"):
        make_markov_sequences(5, 10, mean_length=2, seed=0)
    with pytest.raises(ValueError, match="num_successors"):
        make_markov_sequences(5, 3, mean_length=4, seed=0, num_successors=3)


def test_last_train_times_follow_the_prefix():
    raw = RawInteractions(
        users=np.array([1, 1, 1, 1, 2, 2, 2, 3, 3, 3]),
        items=np.array([5, 6, 7, 8, 5, 6, 7, 5, 6, 8]),
        ratings=None,
        timestamps=np.array([40, 10, 30, 20, 1, 2, 3, 7, 7, 7]),
        source="hand-made",
    )
    seqs = Sequences.from_raw(raw)
    # User 1 in time order: 6 (10), 8 (20), 7 (30), 5 (40): the prefix ends at 20.
    # User 3: all ties, file order: prefix [5], its time 7.
    np.testing.assert_array_equal(seqs.last_train_times, [20.0, 1.0, 7.0])
    np.testing.assert_array_equal(seqs.subset([2, 0]).last_train_times, [7.0, 20.0])
    assert seqs.truncate(1).last_train_times is seqs.last_train_times
