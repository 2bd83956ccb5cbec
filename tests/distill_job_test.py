"""End-to-end tests of the Distill-CF job: artefacts, and resume == uninterrupted."""

import json
import pathlib
import tempfile

import numpy as np
import pytest
from absl.testing import absltest

from configs import distill_quick
from experiments import pipeline
from experiments import settings as settings_lib
from experiments.jobs import compare as compare_lib
from experiments.jobs import distill_cf
from infinite_ae import data as data_lib


def _config():
    config = distill_quick.get_config()
    config.data.synthetic.num_users = 200
    config.data.synthetic.num_items = 120
    config.distill.num_users = 8
    config.distill.num_samples = 8
    config.distill.num_steps = 6
    config.distill.eval_every = 3
    config.distill.log_every = 2
    config.distill.checkpoint_every = 2
    config.distill.batch_size = 64
    config.distill.baselines = ("random_users",)
    config.eval.auc_negatives = 10
    return config


class _Killed(Exception):
    pass


@pytest.mark.slow  # a distillation run and its resume: about 14 s
class DistillJobTest(absltest.TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.root = pathlib.Path(tempfile.mkdtemp()) / "distill_job"
        cls.reference = pipeline.run(_config(), cls.root / "uninterrupted")

    def test_artefacts(self):
        workdir = self.root / "uninterrupted"
        for name in (
            "config.json",
            "metrics.jsonl",
            "results.json",
            "distilled.npz",
            "distilled.inter",
            "distilled.csv",
        ):
            self.assertTrue((workdir / name).exists(), name)
        results = json.loads((workdir / "results.json").read_text())
        for key in ("ndcg@10", "hr@10", "hr@100", "psp@10", "auc"):
            self.assertIn(key, results["test"])
        self.assertEqual(results["summary"]["synthetic_users"], 8)
        self.assertIn("distillation", results["timings"])
        self.assertIn("random_users", results["baselines"])
        steps = [
            json.loads(line)["step"]
            for line in (workdir / "metrics.jsonl").read_text().splitlines()
        ]
        self.assertEqual(steps[0], 0)
        self.assertEqual(max(steps), 6)

    def test_resume_equals_uninterrupted(self):
        workdir = self.root / "resumed"

        def kill_after_4(step):
            if step == 4:
                raise _Killed

        distill_cf._after_step_hook = kill_after_4
        try:
            with self.assertRaises(_Killed):
                pipeline.run(_config(), workdir)
        finally:
            distill_cf._after_step_hook = None
        self.assertFalse((workdir / "results.json").exists())
        resumed = pipeline.run(_config(), workdir)
        self.assertEqual(resumed["best"], self.reference["best"])
        self.assertEqual(resumed["test"], self.reference["test"])
        with (
            np.load(workdir / "distilled.npz") as a,
            np.load(self.root / "uninterrupted" / "distilled.npz") as b,
        ):
            np.testing.assert_array_equal(a["data"], b["data"])
            np.testing.assert_array_equal(a["logits"], b["logits"])
        log = lambda d: [
            json.loads(x) for x in (d / "metrics.jsonl").read_text().splitlines()
        ]
        strip = lambda recs: [
            {k: v for k, v in r.items() if "steps_per_sec" not in k} for r in recs
        ]
        self.assertEqual(strip(log(workdir)), strip(log(self.root / "uninterrupted")))


def _bpr_config(models):
    config = _config()
    config.distill.baselines = ()
    config.distill.compare = models
    config.distill.bpr.foldin_reg_grid = (1.0, 30.0)
    for name in ("bprmf", "lightgcn"):
        trainer = config.dconrec.eval_settings[name]
        trainer.embedding_dim, trainer.max_epochs = 8, 3
        trainer.batch_size, trainer.learning_rate = 1024, 1e-2
    config.dconrec.eval_settings.lightgcn.num_layers = 2
    return config


class BPRComparisonTest(absltest.TestCase):
    @pytest.mark.slow  # three BPR-MF trainings and a distillation: about 5 s
    def test_bprmf_on_a_summary_scores_real_users_by_fold_in(self):
        settings = settings_lib.from_config(_bpr_config(("bprmf",)))
        data = data_lib.make_synthetic(200, 120, mean_degree=10.0, seed=0)
        summary = np.random.default_rng(0).random((8, 120)).astype(np.float32) / 6
        record = compare_lib.train_and_test(
            "bprmf", summary, data, settings, kernel_spec=None, negatives=None
        )
        self.assertEqual(record["users"], 8)
        # global_topk: as many rows as the summary's mass.
        self.assertEqual(record["rows"], round(float(summary.sum())))
        self.assertIn(record["foldin_reg"], (1.0, 30.0))
        self.assertEqual(sorted(record["val_by_foldin_reg"]), ["1", "30"])
        self.assertBetween(record["epochs"], 1, 3)
        self.assertBetween(record["test"]["ndcg@10"], 0.0, 100.0)
        self.assertEqual(record["test"]["num_users"], 200)

    # Six BPR-MF / LightGCN fits after a distillation: about a minute.
    @pytest.mark.slow
    def test_bprmf_and_lightgcn_on_full_distilled_and_random_users(self):
        workdir = pathlib.Path(tempfile.mkdtemp()) / "bpr_compare"
        compared = pipeline.run(_bpr_config(("bprmf", "lightgcn")), workdir)["compare"]
        for name in ("bprmf", "lightgcn"):
            records = compared[name]
            self.assertEqual(
                [records[k]["users"] for k in ("full", "distilled", "random_users")],
                [200, 8, 8],
            )
            # The summary's rows: its γ · S = 64 largest entries.
            self.assertEqual(records["distilled"]["rows"], 8 * 8)
            self.assertNotIn("foldin_reg", records["full"])  # its own user vectors
            self.assertEqual(records["full"]["speedup"], 1.0)
            for record in records.values():
                self.assertBetween(record["epochs"], 1, 3)
                self.assertBetween(record["test"]["ndcg@10"], 0.0, 100.0)
                self.assertIn("auc", record["test"])
        self.assertTrue((workdir / "compare.png").exists())


class SelectMetricTest(absltest.TestCase):
    def test_unknown_validation_metric_is_named(self):
        config = _config()
        config.distill.reg_select_metric = "hr@7"
        workdir = pathlib.Path(tempfile.mkdtemp()) / "bad_metric"
        with self.assertRaisesRegex(
            ValueError, r"config.distill.reg_select_metric='hr@7': valid: hr@10"
        ):
            pipeline.run(config, workdir)
        self.assertFalse(workdir.exists())  # refused before anything was written


class ValidationRowsTest(absltest.TestCase):
    def test_fixed_subset_of_users_with_validation_items(self):
        data = data_lib.make_synthetic(300, 50, mean_degree=8.0, seed=1)
        rng = lambda: np.random.default_rng([3, 3])
        full = distill_cf._validation_rows(data, 0, rng())
        self.assertIs(full[0], data.train)
        train, val = distill_cf._validation_rows(data, 40, rng())
        self.assertEqual(train.shape, (40, 50))
        self.assertTrue(np.all(np.diff(val.indptr) > 0))
        again = distill_cf._validation_rows(data, 40, rng())
        np.testing.assert_array_equal(train.toarray(), again[0].toarray())

        def users_with(train_rows, val_rows):
            # Users whose train row AND val row equal the kept pair.
            all_train, all_val = data.train.toarray(), data.val.toarray()
            return [
                np.flatnonzero((all_train == t).all(1) & (all_val == v).all(1))
                for t, v in zip(train_rows, val_rows, strict=True)
            ]

        # Each kept row pairs a user's train row with the same user's val row ...
        matches = users_with(train.toarray(), val.toarray())
        self.assertTrue(all(len(m) >= 1 for m in matches))
        # ... which this check can tell from a shifted pairing.
        shifted = users_with(train.toarray(), np.roll(val.toarray(), 1, axis=0))
        self.assertFalse(all(len(m) >= 1 for m in shifted))


if __name__ == "__main__":
    absltest.main()
