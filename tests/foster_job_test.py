"""The FOSTER job end to end on planted sequences with generated texts."""

import json

import pytest

from configs import foster_quick
from experiments import pipeline, settings


def _config():
    config = foster_quick.get_config()
    config.data.synthetic.num_users = 120
    config.data.synthetic.num_items = 30
    config.sequential.max_epochs = 4
    config.foster.budgets = (4,)
    config.foster.expert_epochs = 2
    config.foster.steps = 6
    config.foster.batch_size = 4
    config.foster.subset_size = 30
    config.foster.reset_every = 3
    config.foster.ablations = ("reset",)
    return config


@pytest.mark.slow  # an expert, six trainings and two distillations: about 45 s
def test_foster_job_writes_results_and_resumes(tmp_path):
    results = pipeline.run(_config(), tmp_path)
    for key in ("ndcg@10", "recall@20", "mrr@10"):
        assert 0 <= results["test"][key] <= 100
    assert set(results["baselines"]) >= {
        "baselines/random_users/ndcg@10",
        "baselines/longest/ndcg@10",
        "baselines/k_center/ndcg@10",
        "baselines/herding/ndcg@10",
    }
    assert "retention/text_sasrec/ndcg@10" in results["retention"]
    (budget,) = results["per_budget"]
    assert budget["num_sequences"] == 4 and budget["foster"]["train_sequences"] == 4
    assert budget["distill_seconds"] > 0
    assert len(list((tmp_path / "anchors").glob("*.npz"))) == 2
    ablation = results["ablation"]
    assert ablation["num_sequences"] == 4 and set(ablation["rows"]) == {
        "foster",
        "no_reset",
    }
    assert ablation["rows"]["foster"]["test"] == results["test"]
    assert (tmp_path / "distilled" / "m4_no_reset.npz").exists()
    # A rerun loads every finished piece instead of recomputing it.
    record = tmp_path / "trained" / "foster_4.json"
    changed = json.loads(record.read_text())
    changed["test"]["ndcg@10"] = 123.0
    record.write_text(json.dumps(changed))
    (tmp_path / "results.json").unlink()
    again = pipeline.run(_config(), tmp_path)
    assert again["test"]["ndcg@10"] == 123.0


@pytest.mark.slow  # an expert, six trainings, a distillation: about 30 s
def test_foster_job_with_the_tuned_encoder(tmp_path):
    config = _config()
    config.foster.item_encoder = "tuned"
    config.foster.ablations = ()
    results = pipeline.run(config, tmp_path)
    assert 0 <= results["test"]["ndcg@10"] <= 100
    assert "retention/tuned_text_sasrec/ndcg@10" in results["retention"]
    assert "baselines/herding/ndcg@10" in results["baselines"]
    config.foster.tuned_layers = 3  # the small BERT has 2 blocks
    with pytest.raises(ValueError, match=r"config.foster.tuned_layers"):
        pipeline.run(config, tmp_path / "again")


def test_settings_name_the_field():
    config = _config()
    config.foster.length = 40  # > config.sequential.max_len (12)
    with pytest.raises(settings.SettingsError, match=r"foster.length.*max_len"):
        settings.from_config(config)
    config = _config()
    config.foster.encoder = "gpt"
    with pytest.raises(settings.SettingsError, match=r"config.foster.encoder"):
        settings.from_config(config)
    config = _config()
    config.foster.anchor_start = 1.0  # would skip every anchor
    with pytest.raises(settings.SettingsError, match=r"config.foster.anchor_start"):
        settings.from_config(config)
    config = _config()
    config.foster.encoder, config.foster.item_encoder = "bag_of_words", "tuned"
    with pytest.raises(settings.SettingsError, match=r"config.foster.item_encoder"):
        settings.from_config(config)
    config = _config()
    del config["foster"]
    with pytest.raises(settings.SettingsError, match=r"config.foster"):
        settings.from_config(config)
