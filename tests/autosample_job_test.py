"""The AutoSample job end to end: artefacts, the oracle cache, config checks."""

import json
import pathlib
import tempfile

import pytest
from absl.testing import absltest

from configs import autosample_quick
from experiments import pipeline, settings


def _config():
    config = autosample_quick.get_config()
    config.data.synthetic.num_users = 200
    config.data.synthetic.num_items = 100
    config.data.synthetic.mean_degree = 15.0
    cfg = config.autosample
    cfg.samplers = ("uniform", "dns")
    cfg.search_epochs = 3
    cfg.trainer.max_epochs = 3
    cfg.trainer.batch_size = 512
    cfg.trainer.embedding_dim = 8
    return config


def _sasrec_config():
    config = _config()
    config.data.name = "markov"
    config.data.synthetic.num_users = 150
    config.data.synthetic.num_items = 30
    config.data.synthetic.mean_degree = 8.0
    config.autosample.model = "sasrec"
    seq = config.sequential
    seq.model = "sasrec"
    seq.loss = "bce"
    seq.num_negatives = 2
    seq.max_len = 8
    seq.embedding_dim = 16
    seq.num_blocks = 1
    seq.num_heads = 1
    seq.dropout_rate = 0.0
    seq.learning_rate = 1e-2
    seq.batch_size = 64
    seq.max_epochs = 2
    config.autosample.val_batch_size = 32
    return config


@pytest.mark.slow
class AutoSampleJobTest(absltest.TestCase):
    def test_artefacts_and_oracle_cache(self):
        workdir = pathlib.Path(tempfile.mkdtemp()) / "autosample"
        results = pipeline.run(_config(), workdir)
        for name in ("config.json", "metrics.jsonl", "results.json", "weights.png"):
            self.assertTrue((workdir / name).exists(), name)
        info = results["autosample"]
        self.assertIn(info["selected"], ("uniform", "dns"))
        self.assertLen(info["trajectory"], 3)
        self.assertAlmostEqual(sum(info["weights"].values()), 1.0, places=5)
        self.assertIn("ndcg@20", results["test"])
        self.assertEqual(set(results["oracle"]["results"]), {"uniform", "dns"})
        self.assertIn("scratch", results)
        lines = [json.loads(x) for x in (workdir / "metrics.jsonl").open()]
        self.assertTrue(any("search/alpha/dns" in r for r in lines))
        self.assertTrue(any("retrain/val/ndcg@10" in r for r in lines))
        # The oracle's per-sampler results are cached: a changed cache entry is
        # read back instead of retrained.
        (cached,) = (workdir / "oracle").glob("dns-*.json")
        record = json.loads(cached.read_text())
        record["seconds"] = 1234.5
        cached.write_text(json.dumps(record))
        (workdir / "results.json").unlink()
        again = pipeline.run(_config(), workdir)
        self.assertEqual(again["oracle"]["results"]["dns"]["seconds"], 1234.5)

    def test_sasrec_searches_its_sampled_loss(self):
        workdir = pathlib.Path(tempfile.mkdtemp()) / "autosample_sasrec"
        results = pipeline.run(_sasrec_config(), workdir)
        info = results["autosample"]
        self.assertIn(info["selected"], ("uniform", "dns"))
        self.assertLen(info["trajectory"], 3)
        self.assertEqual(info["retrain"]["epochs"], 2)
        for key in ("ndcg@10", "recall@20", "mrr@10"):
            self.assertIn(key, results["test"])
        self.assertEqual(set(results["oracle"]["results"]), {"uniform", "dns"})
        self.assertLen(list((workdir / "oracle").glob("*.json")), 2)
        self.assertEqual(results["data"]["num_users"], 150)


class AutoSampleSettingsTest(absltest.TestCase):
    def test_errors_name_the_field(self):
        config = _config()
        config.autosample.samplers = ("uniform", "mixgcf")
        with self.assertRaisesRegex(settings.SettingsError, "samplers.*lightgcn"):
            settings.from_config(config)
        config = _config()
        config.autosample.samplers = ("uniform", "irgan")
        with self.assertRaisesRegex(settings.SettingsError, "autosample.samplers"):
            settings.from_config(config)
        config = _config()
        config.autosample.mode = "bandit"
        config.autosample.search_epochs = 2  # the bandit visits 2 samplers first
        with self.assertRaisesRegex(settings.SettingsError, "search_epochs"):
            settings.from_config(config)

    def test_sequential_models_need_a_sampled_loss_and_sequences(self):
        self.assertTrue(settings.from_config(_sasrec_config()).uses_sequences)
        self.assertFalse(settings.from_config(_config()).uses_sequences)
        config = _sasrec_config()
        config.sequential.loss = "ce"
        with self.assertRaisesRegex(settings.SettingsError, "sequential.loss.*bce"):
            settings.from_config(config)
        config = _sasrec_config()
        config.sequential.model = "gru4rec"
        with self.assertRaisesRegex(settings.SettingsError, "sequential.model"):
            settings.from_config(config)
        config = _sasrec_config()
        config.data.name = "synthetic"
        with self.assertRaisesRegex(settings.SettingsError, "data.name.*sequence"):
            settings.from_config(config)
        config = _sasrec_config()
        config.autosample.mode = "bandit"
        config.autosample.search_epochs = 4
        with self.assertRaisesRegex(settings.SettingsError, "autosample.mode"):
            settings.from_config(config)


if __name__ == "__main__":
    absltest.main()
