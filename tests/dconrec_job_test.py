"""End-to-end tests of the DConRec job: artefacts, export round trip, resume."""

import json
import pathlib
import tempfile

import numpy as np
import pytest
from absl.testing import absltest

from configs import dconrec_quick
from experiments import pipeline, settings
from experiments.jobs import dconrec
from infinite_ae import data as data_lib
from infinite_ae.dconrec import export


def _config():
    config = dconrec_quick.get_config()
    config.data.synthetic.num_users = 150
    config.data.synthetic.num_items = 80
    config.data.synthetic.mean_degree = 15.0
    cfg = config.dconrec
    cfg.outer_steps = 4
    cfg.log_every = 2
    cfg.checkpoint_every = 2
    cfg.num_masks = 2
    cfg.inner_batch_size = 256
    for name in ("bprmf", "lightgcn"):
        cfg.eval_settings[name].max_epochs = 3
        cfg.eval_settings[name].batch_size = 256
        cfg.eval_settings[name].embedding_dim = 8
    return config


class _Killed(Exception):
    pass


def _log(workdir):
    return [
        json.loads(line)
        for line in (workdir / "metrics.jsonl").read_text().splitlines()
    ]


# Three pipeline runs (uninterrupted, killed, resumed) of a tiny synthetic config;
# about 35 s of CPU time, most of it XLA compilation.
@pytest.mark.slow
class DConRecJobTest(absltest.TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.root = pathlib.Path(tempfile.mkdtemp()) / "dconrec_job"
        cls.reference = pipeline.run(_config(), cls.root / "uninterrupted")

    def test_artefacts(self):
        workdir = self.root / "uninterrupted"
        for name in (
            "config.json",
            "metrics.jsonl",
            "results.json",
            "condensed.npz",
            "condensed.inter",
            "condensed.csv",
        ):
            self.assertTrue((workdir / name).exists(), name)
        self.assertEqual(
            json.loads((workdir / "config.json").read_text())["method"], "dconrec"
        )
        results = json.loads((workdir / "results.json").read_text())
        for model in ("bprmf", "lightgcn"):
            for metric in ("recall@5", "recall@10", "ndcg@5", "ndcg@10"):
                self.assertIn(f"{model}/{metric}", results["test"])
                self.assertIn(f"{model}/{metric}", results["retention"])
                self.assertIn(f"random/{model}/{metric}", results["retention"])
        self.assertIn("ndcg@10", results["test"])
        summary = results["summary"]
        num_train = summary["num_train"]
        # Strict budget: tail + selected = round(0.25 N_tr) (topk final selection).
        self.assertEqual(summary["realised_size"], sum(summary["counts"].values()))
        self.assertLessEqual(abs(summary["realised_size"] - 0.25 * num_train), 1.0)
        self.assertAlmostEqual(
            summary["realised_ratio"], summary["realised_size"] / num_train
        )
        records = _log(workdir)
        outer = [r for r in records if "condense/outer_loss" in r]
        self.assertEqual([r["step"] for r in outer], [1, 2, 3, 4])
        for r in outer:  # the projection keeps sum s within the pool budget
            self.assertLessEqual(r["condense/sum_s"], summary["pool_budget"] + 1e-2)
        self.assertTrue(any("retention/bprmf/ndcg@10" in r for r in records))

    def test_export_loads_back(self):
        workdir = self.root / "uninterrupted"
        data = _load_data()
        back = export.load(workdir / "condensed.npz", data.user_ids, data.item_ids)
        summary = json.loads((workdir / "results.json").read_text())["summary"]
        self.assertLen(back.users, summary["realised_size"])
        self.assertEqual(back.counts(), summary["counts"])
        # Tail and original rows are training interactions; pseudo rows are not.
        train = data.train.toarray() > 0
        is_train = train[back.users, back.items]
        self.assertTrue(np.all(is_train[back.provenance != 1]))
        self.assertFalse(np.any(is_train[back.provenance == 1]))

    def test_resume_equals_uninterrupted(self):
        # The killed and resumed runs also share a reference cache: the resumed run
        # loads the proxy the killed run fitted and must still match the
        # uninterrupted, uncached run exactly.
        workdir = self.root / "resumed"
        cache = self.root / "reference_cache"
        config = _config()
        config.dconrec.reference_cache = str(cache)

        def kill_after_2(step):
            if step == 2:
                raise _Killed

        dconrec._after_step_hook = kill_after_2
        try:
            with self.assertRaises(_Killed):
                pipeline.run(config, workdir)
        finally:
            dconrec._after_step_hook = None
        self.assertFalse((workdir / "results.json").exists())
        self.assertEqual([p.name.split("-")[0] for p in cache.iterdir()], ["bprmf"])
        resumed = pipeline.run(config, workdir)
        self.assertEqual(
            sorted(p.name.split("-")[0] for p in cache.iterdir()), ["bprmf", "lightgcn"]
        )
        self.assertEqual(resumed["test"], self.reference["test"])
        self.assertEqual(resumed["retention"], self.reference["retention"])
        with (
            np.load(workdir / "condensed.npz") as a,
            np.load(self.root / "uninterrupted" / "condensed.npz") as b,
        ):
            for key in ("users", "items", "provenance", "probs"):
                np.testing.assert_array_equal(a[key], b[key])
        self.assertEqual(_log(workdir), _log(self.root / "uninterrupted"))


@pytest.mark.slow
class SamplerTest(absltest.TestCase):
    def test_condensation_and_trainers_take_another_sampler(self):
        config = _config()
        config.dconrec.sampler = "popularity"
        config.dconrec.eval_models = ("bprmf",)
        workdir = pathlib.Path(tempfile.mkdtemp()) / "dconrec_popularity"
        results = pipeline.run(config, workdir)
        self.assertTrue(np.isfinite(results["test"]["bprmf/ndcg@10"]))
        outer = [r for r in _log(workdir) if "condense/outer_loss" in r]
        self.assertLen(outer, 4)
        self.assertTrue(all(np.isfinite(r["condense/outer_loss"]) for r in outer))


class PresetTest(absltest.TestCase):
    def test_official_code_preset_overrides(self):
        config = _config()
        config.dconrec.preset = "official_code"
        config.lock()
        section = settings.from_config(config).dconrec
        self.assertFalse(section.variance_reduction)
        self.assertFalse(section.common_random_numbers)
        self.assertEqual(section.budget_mode, "official")
        self.assertEqual(section.final_mode, "sample")
        self.assertEqual(section.inner_lr, 5e-4)
        self.assertIsNone(section.pseudo_share)
        self.assertEqual(
            {int(k): v for k, v in section.outer_lr_schedule.items()},
            {0: 0.01, 70: 1e-3, 140: 1e-4, 210: 1e-5},
        )
        # The caller's config is not modified; "clean" passes through.
        self.assertTrue(config.dconrec.variance_reduction)
        config.dconrec.unlock()
        config.dconrec.preset = "clean"
        self.assertTrue(settings.from_config(config).dconrec.variance_reduction)
        config.dconrec.preset = "paper"
        with self.assertRaisesRegex(
            ValueError, "config.dconrec.preset='paper': valid: 'clean', 'official_code'"
        ):
            settings.from_config(config)


def _load_data():
    from experiments import datasets

    config = _config()
    data = datasets.load(settings.from_config(config).data, seed=config.seed)
    assert isinstance(data, data_lib.Interactions)
    return data


if __name__ == "__main__":
    absltest.main()
