"""End-to-end test of the sequential job on a planted Markov chain."""

import json

from configs import sasrec_quick
from experiments import pipeline


def _config():
    config = sasrec_quick.get_config()
    config.data.synthetic.num_users = 300
    config.data.synthetic.num_items = 40
    config.data.synthetic.mean_degree = 15.0
    config.sequential.max_epochs = 6
    config.sequential.eval_every = 2
    config.sequential.floors = ("popularity", "markov", "ease")
    return config


def test_sequential_job_writes_results_and_floors(tmp_path):
    results = pipeline.run(_config(), tmp_path)
    written = json.loads((tmp_path / "results.json").read_text())
    for key in ("ndcg@10", "ndcg@20", "recall@10", "recall@20", "mrr@10"):
        assert 0 <= written["test"][key] <= 100
    assert set(written["floors"]) == {"popularity", "markov", "ease"}
    assert written["protocol"]["mask_history"] is True
    # On a first-order chain the learned model beats popularity by far.
    assert results["test"]["ndcg@10"] > written["floors"]["popularity"]["ndcg@10"] + 10
    steps = [
        json.loads(line)["step"]
        for line in (tmp_path / "metrics.jsonl").read_text().splitlines()
    ]
    assert steps == [2, 4, 6]
