"""Tests of infinite_ae.distill.export: binarisations and file round trips."""

import tempfile

import numpy as np
import scipy.sparse as sp
from absl.testing import absltest, parameterized

from infinite_ae.distill import export


def _summary(seed=0, shape=(6, 9)):
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal(shape).astype(np.float32) * 2
    continuous = np.clip(
        np.exp(logits) / np.exp(logits).sum(1, keepdims=True) * 4, 0, 1
    )
    return continuous.astype(np.float32), logits


ITEM_IDS = np.array([f"movie_{i}" for i in (3, 1, 4, 15, 9, 2, 6, 5, 35)])


class BinarizeTest(parameterized.TestCase):
    def test_threshold(self):
        cont, logits = _summary()
        out = export.binarize(cont, logits, mode="threshold", threshold=0.3)
        np.testing.assert_array_equal(out.toarray(), (cont >= 0.3).astype(np.float32))

    def test_topk_fixed_and_row_sum(self):
        cont, logits = _summary()
        out = export.binarize(cont, logits, mode="topk", k=2)
        np.testing.assert_array_equal(np.diff(out.indptr), 2)
        for u in range(cont.shape[0]):
            self.assertEqual(set(out[u].indices), set(np.argsort(-cont[u])[:2]))
        auto = export.binarize(cont, logits, mode="topk")
        np.testing.assert_array_equal(
            np.diff(auto.indptr), np.clip(np.rint(cont.sum(1)), 1, cont.shape[1])
        )

    def test_sample_follows_the_logits(self):
        logits = np.full((2, 5), -30.0, np.float32)
        logits[0, 1] = logits[1, 3] = 0.0
        out = export.binarize(
            np.zeros_like(logits),
            logits,
            mode="sample",
            rng=np.random.default_rng(0),
            num_samples=10,
        )
        np.testing.assert_array_equal(out.toarray(), np.eye(5)[[1, 3]])

    def test_unknown_mode(self):
        cont, logits = _summary()
        with self.assertRaises(ValueError):
            export.binarize(cont, logits, mode="nope")


class FilesTest(absltest.TestCase):
    def test_npz_round_trip_with_raw_ids(self):
        cont, logits = _summary()
        discrete = {
            "threshold": export.binarize(cont, logits, mode="threshold"),
            "topk": export.binarize(cont, logits, mode="topk", k=3),
        }
        path = tempfile.mkdtemp() + "/distilled.npz"
        export.save_npz(
            path,
            continuous=cont,
            logits=logits,
            discrete=discrete,
            item_ids=ITEM_IDS,
            config_hash="abc",
        )
        data = export.load_npz(path)
        np.testing.assert_array_equal(data.item_ids, ITEM_IDS)
        np.testing.assert_allclose(data.train.toarray(), cont)
        self.assertEqual(data.num_users, cont.shape[0])
        topk = export.load_npz(path, variant="topk")
        np.testing.assert_array_equal(topk.train.toarray(), discrete["topk"].toarray())
        with np.load(path) as f:
            np.testing.assert_allclose(f["logits"], logits)
            self.assertEqual(str(f["config_hash"]), "abc")
        with self.assertRaises(ValueError):
            export.load_npz(path, variant="sample")

    def test_recbole_and_csv_round_trip(self):
        cont, logits = _summary()
        matrix = export.binarize(cont, logits, mode="topk", k=2)
        tmp = tempfile.mkdtemp()
        for writer, name in (
            (export.write_recbole_inter, "d.inter"),
            (export.write_csv, "d.csv"),
        ):
            path = writer(f"{tmp}/{name}", matrix, item_ids=ITEM_IDS)
            back = export.read_table(path, item_ids=ITEM_IDS)
            np.testing.assert_array_equal(back.train.toarray(), matrix.toarray())
            np.testing.assert_array_equal(back.user_ids, export.synthetic_user_ids(6))
        header = open(f"{tmp}/d.inter").readline().strip()
        self.assertEqual(header, "user_id:token\titem_id:token\trating:float")

    def test_to_interactions_keeps_fractions(self):
        cont, _ = _summary()
        data = export.to_interactions(sp.csr_matrix(cont), ITEM_IDS)
        np.testing.assert_allclose(data.train.toarray(), cont)


if __name__ == "__main__":
    absltest.main()
