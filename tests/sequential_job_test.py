"""End-to-end test of the sequential job on a planted Markov chain."""

import json

import pytest

from configs import sasrec_quick
from experiments import pipeline
from infinite_ae import io


def _config():
    config = sasrec_quick.get_config()
    config.data.synthetic.num_users = 200
    config.data.synthetic.num_items = 40
    config.data.synthetic.mean_degree = 15.0
    config.sequential.max_len = 16
    config.sequential.max_epochs = 4
    config.sequential.eval_every = 2
    config.sequential.floors = ("popularity", "markov", "ease")
    return config


@pytest.mark.slow  # a training and three floors through the shell: about 10 s
def test_sequential_job_writes_results_and_floors(tmp_path):
    results = pipeline.run(_config(), tmp_path)
    written = json.loads((tmp_path / "results.json").read_text())
    for key in ("ndcg@10", "ndcg@20", "recall@10", "recall@20", "mrr@10"):
        assert 0 <= written["test"][key] <= 100
    assert set(written["floors"]) == {"popularity", "markov", "ease"}
    assert written["protocol"]["mask_history"] is True
    # After four epochs on a first-order chain the model already beats popularity.
    assert results["test"]["ndcg@10"] > written["floors"]["popularity"]["ndcg@10"]
    steps = [
        json.loads(line)["step"]
        for line in (tmp_path / "metrics.jsonl").read_text().splitlines()
    ]
    assert steps == [2, 4]
    # The training left resumable snapshots of its last two evaluations.
    assert io.list_checkpoints(tmp_path / "checkpoints" / "training") == [1, 3]


# Five trainings and a distillation, twice: about 20 s.
@pytest.mark.slow
def test_distill_to_sequential_resumes_finished_trainings(tmp_path):
    from configs import distill_to_sasrec_quick

    config = distill_to_sasrec_quick.get_config()
    config.data.synthetic.num_users = 200
    config.data.synthetic.num_items = 30
    config.distill.num_steps = 4
    config.distill.eval_every = 2
    config.sequential.max_epochs = 2
    config.sequential.eval_every = 1
    config.adapter.baselines = ("random_users", "longest", "most_recent")
    results = pipeline.run(config, tmp_path)
    budget = results["per_budget"][0]
    # Four sampled chains of each of the 20 synthetic users' item sets.
    assert budget["num_users"] == 20 and budget["adapted_sequences"] == 80
    # Generated sequences have no timestamps: most_recent is skipped, not faked.
    assert set(budget["baselines"]) == {"random_users", "longest"}
    assert "retention/sasrec/ndcg@10" in results["retention"]
    assert "baselines/random_users/ndcg@10" in results["baselines"]
    trained = sorted(p.name for p in (tmp_path / "trained").iterdir())
    assert trained == ["distilled_20.json", "full_data.json", "longest_20.json",
                       "random_users_20.json"]  # fmt: skip
    # Finished trainings keep their result, not their epoch snapshots.
    assert not list((tmp_path / "checkpoints" / "trained").iterdir())
    # A re-run of the same config reuses every finished training.
    again = pipeline.run(config, tmp_path)
    assert again["per_budget"][0]["distilled"] == budget["distilled"]
    assert again["full_data"] == results["full_data"]
