"""Item-text readers and their alignment to item indices."""

import gzip
import json

import numpy as np
import pytest

from infinite_ae.data import Sequences, item_text, load_recbole_sequences, loaders


def _write(path, text, *, compress=False, encoding="utf-8"):
    data = text.encode(encoding)
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


def test_recbole_text(tmp_path):
    path = _write(
        tmp_path / "x.text.gz",
        "item_id:token\ttext:token_seq\nA1\tSaw  blade. Tools.\nB2\tGlue.\n",
        compress=True,
    )
    expected = {"A1": "Saw blade. Tools.", "B2": "Glue."}
    assert item_text.read_recbole_text(path) == expected
    bad = _write(tmp_path / "bad.text", "id\ttext\nA1\tx\n")
    with pytest.raises(ValueError, match=r"bad.text: line 1: expected the header"):
        item_text.read_recbole_text(bad)
    twice = _write(tmp_path / "twice.text", "item_id:token\ttext\nA\tx\nA\ty\n")
    with pytest.raises(ValueError, match=r"line 3: item 'A' appears twice"):
        item_text.read_recbole_text(twice)
    no_tab = _write(tmp_path / "tab.text", "item_id:token\ttext\nA x\n")
    with pytest.raises(ValueError, match=r"line 2: expected 'item<TAB>text'"):
        item_text.read_recbole_text(no_tab)


def test_movielens_movies_both_formats(tmp_path):
    ml1m = _write(
        tmp_path / "movies.dat",
        "1::Toy Story (1995)::Animation|Children's|Comedy\n2::Café (2000)::Drama\n",
        encoding="iso-8859-1",
    )
    assert item_text.read_movielens_movies(ml1m) == {
        1: "Toy Story (1995). Animation, Children's, Comedy.",
        2: "Café (2000). Drama.",
    }
    flags = ["0"] * 19
    flags[1] = flags[16] = "1"  # Action, Thriller
    ml100k = _write(
        tmp_path / "u.item",
        "|".join(["7", "Heat (1995)", "01-Jan-1995", "", "http://x", *flags]) + "\n",
    )
    assert item_text.read_movielens_movies(ml100k) == {
        7: "Heat (1995). Action, Thriller."
    }
    bad = _write(tmp_path / "bad.dat", "x::Title::Drama\n")
    with pytest.raises(ValueError, match=r"bad.dat: line 1: movie id 'x'"):
        item_text.read_movielens_movies(bad)


def test_amazon_meta(tmp_path):
    records = [
        {"asin": "M1", "title": "Reason", "category": ["Mags", "Politics"]},
        {"asin": "M1", "title": "Later duplicate"},
        {
            "asin": "M2",
            "title": '<span class="a-size-medium"',
            "category": ["Mags", "Science"],
            "description": ["A  monthly  journal."],
            "brand": "Pub",
        },
        {"asin": "M3"},
    ]
    path = _write(
        tmp_path / "meta.json.gz",
        "\n".join(json.dumps(r) for r in records) + "\n",
        compress=True,
    )
    assert item_text.read_amazon_meta(path) == {
        "M1": "Reason. Politics.",
        "M2": "Science. Pub. A monthly journal.",
        "M3": "",
    }
    bad = _write(tmp_path / "bad.json", '{"asin": "A"}\n{"title": "x"}\n')
    with pytest.raises(ValueError, match=r"bad.json: line 2: no 'asin'"):
        item_text.read_amazon_meta(bad)


def test_item_texts_in_index_order():
    texts = {"b": "bee", "a": "ay"}
    assert item_text.item_texts(["a", "b"], texts) == ["ay", "bee"]
    with pytest.raises(ValueError, match=r"meta.json: no text for 1 of 3 items"):
        item_text.item_texts(["a", "b", "c"], texts, source="meta.json")
    assert item_text.item_texts(["c", "a"], texts, missing="empty") == ["", "ay"]


@pytest.mark.slow
def test_real_item_texts_cover_their_datasets(real_data):
    scientific = load_recbole_sequences(real_data("unisrec_scientific"))
    texts = item_text.read_recbole_text(
        real_data("unisrec_scientific/Scientific.text.gz")
    )
    aligned = item_text.item_texts(scientific.item_ids, texts)
    assert len(aligned) == scientific.num_items == 4385
    assert all(aligned)
    movies = item_text.read_movielens_movies(real_data("movielens/ml-1m/movies.dat.gz"))
    assert len(movies) == 3883
    assert movies[1] == "Toy Story (1995). Animation, Children's, Comedy."
    ratings = loaders.load_movielens(
        real_data("movielens/ml-1m/ratings.users0001-2999.partial.dat.gz")
    )
    assert set(ratings.items.tolist()) <= set(movies)
    magazine = loaders.load_amazon_json(
        real_data("amazon2018/Magazine_Subscriptions_5.json.gz")
    )
    meta = item_text.read_amazon_meta(
        real_data("amazon2018/meta_Magazine_Subscriptions.json.gz")
    )
    items = sorted(set(magazine.items.tolist()))
    with pytest.raises(ValueError, match="no text for 6 of 157 items"):
        item_text.item_texts(items, meta)
    texts = item_text.item_texts(items, meta, missing="empty")
    assert sum(map(bool, texts)) == 151


def test_successor_texts_name_the_most_frequent_next_items():
    seqs = Sequences(
        train_indptr=np.array([0, 4, 7]),
        train_items=np.array([0, 1, 0, 1, 0, 2, 3], np.int32),
        val_items=np.array([-1, -1], np.int32),
        test_items=np.array([-1, -1], np.int32),
        user_ids=np.array([0, 1]),
        item_ids=np.array([10, 11, 12, 13]),
    )
    # 0 -> 1 twice and 0 -> 2 once; 1 -> 0 once; 2 -> 3 once; 3 -> nothing.
    assert item_text.successor_texts(seqs, top=2) == [
        "item 0 then 1 2",
        "item 1 then 0",
        "item 2 then 3",
        "item 3",
    ]
