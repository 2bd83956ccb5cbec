"""`configs/distill_netflix.py`: Distill-CF on the Netflix-shaped synthetic dataset.

The fast test runs the ``:small`` config scaled down further (600 users x 1,500
items, 2 steps) through `pipeline.run`; the slow one runs ``:small`` as shipped.
"""

import json

import numpy as np
import pytest

from configs import distill_netflix
from experiments import datasets, pipeline, settings


def _tiny_config():
    config = distill_netflix.get_config("small")
    syn = config.data.synthetic
    syn.num_users = 600
    syn.num_items = 1_500
    distill = config.distill
    distill.num_users = 8
    distill.num_samples = 8
    distill.num_steps = 2
    distill.lr_decay_steps = 2
    distill.eval_every = 2
    distill.batch_size = 128
    distill.val_batch_size = 256
    # The test evaluation plans its batches from a memory budget, as at full size.
    config.eval.budget_mb = 8
    config.eval.auc_negatives = 10
    return config


def test_configs_build():
    full = distill_netflix.get_config()
    assert full.data.synthetic.profile == "netflix"
    assert (full.data.synthetic.num_users, full.data.synthetic.num_items) == (
        480_189,
        17_770,
    )
    assert full.distill.batch_size > 0 and full.distill.val_batch_size > 0
    assert full.eval.budget_mb == 1024
    small = distill_netflix.get_config("small")
    assert small.data.synthetic.num_items == 17_770
    with pytest.raises(ValueError, match="small"):
        distill_netflix.get_config("big")


def test_dataset_profile():
    config = _tiny_config()
    data = datasets.load(settings.from_config(config).data, seed=3)
    assert data.shape == (600, 1_500)
    assert data.name == "netflix"
    assert data.info["item_calibration"] is not None
    degrees = sum(np.diff(m.indptr) for m in (data.train, data.val, data.test))
    assert np.median(degrees) == 96
    config.data.synthetic.calibrate = False
    uncalibrated = datasets.load(settings.from_config(config).data, seed=3)
    assert uncalibrated.info["item_calibration"] is None
    config.data.synthetic.profile = "amazon"
    with pytest.raises(
        ValueError, match="config.data.synthetic.profile='amazon': valid: '', 'netflix'"
    ):
        settings.from_config(config)


# A full pipeline run on generated Netflix-shaped data: about 10 s on 2 cores.
@pytest.mark.slow
def test_small_variant_end_to_end(tmp_path):
    results = pipeline.run(_tiny_config(), tmp_path)
    written = json.loads((tmp_path / "results.json").read_text())
    assert written["data"]["name"] == "netflix"
    assert written["summary"]["synthetic_users"] == 8
    assert written["last_step"] == 2
    for key in ("ndcg@10", "hr@100", "auc"):
        assert np.isfinite(results["test"][key])
    assert (tmp_path / "distilled.npz").exists()


@pytest.mark.slow
def test_small_config_as_shipped(tmp_path):
    results = pipeline.run(distill_netflix.get_config("small"), tmp_path)
    assert results["data"]["num_users"] == 5_000
    assert results["last_step"] == 10
    assert results["test"]["hr@100"] > 0
