"""Tests for `experiments.settings`: configs become typed settings or named errors."""

# ruff: noqa: E501  (the table of bad fields reads best one case per line)

import dataclasses
import importlib
import pathlib

import pytest

from configs import base
from experiments import pipeline, settings, streams
from tests.conftest import PROJECT_ROOT

CONFIGS = sorted(
    p.stem
    for p in (PROJECT_ROOT / "configs").glob("*.py")
    if p.stem not in ("__init__", "base") and not p.stem.endswith("_section")
)


@pytest.mark.parametrize("name", CONFIGS)
def test_every_shipped_config_validates(name):
    config = importlib.import_module(f"configs.{name}").get_config()
    config.lock()
    run = settings.from_config(config)
    assert dataclasses.is_dataclass(run)
    with pytest.raises(dataclasses.FrozenInstanceError):
        run.seed = 1


def _config(method="infinite_ae"):
    config = base.get_config()
    config.method = method
    return config


@pytest.mark.parametrize(
    "method, field, value, message",
    [
        ("dconrec", "dconrec.budget", -0.5, r"config.dconrec.budget=-0.5: must be in \(0, 1\]"),
        ("dconrec", "dconrec.budget", 1.5, r"config.dconrec.budget=1.5: must be in \(0, 1\]"),
        ("dconrec", "dconrec.inner_lr", 0.0, r"config.dconrec.inner_lr=0.0: must be > 0"),
        ("dconrec", "dconrec.final_mode", "best", r"final_mode='best': valid: 'topk', 'sample'"),
        ("distill_cf", "distill.num_users", 0, r"config.distill.num_users=0: must be >= 1"),
        ("distill_cf", "distill.learning_rate", -0.1, r"learning_rate=-0.1: must be > 0"),
        ("distill_cf", "distill.reg_grid", (1.0, -5.0), r"reg_grid=\(1.0, -5.0\): must be a non-empty list of values > 0"),
        ("distill_cf", "distill.batch_size", 0, r"config.distill.batch_size=0: must be >= 1 or -1"),
        ("distill_cf", "distill.init", "zeros", r"config.distill.init='zeros': valid: 'random_users'"),
        ("infinite_ae", "model.reg_grid", (5.0, -5.0), r"config.model.reg_grid=\(5.0, -5.0\)"),
        ("infinite_ae", "model.kernel.kind", "rbf", r"config.model.kernel.kind='rbf': valid: 'ntk'"),
        ("infinite_ae", "model.select_metric", "hr@7", r"config.model.select_metric='hr@7': valid:"),
        ("infinite_ae", "model.dtype", "float16", r"config.model.dtype='float16'"),
        ("infinite_ae", "eval.ks", (10, 0), r"config.eval.ks=\(10, 0\)"),
        ("infinite_ae", "data.split", "loo", r"config.data.split='loo': valid:"),
        ("infinite_ae", "data.name", "csv", r"config.data.path='': config.data.name='csv'"),
        ("infinite_ae", "seed", -1, r"config.seed=-1: must be >= 0"),
        ("ease", "model.ease_reg_grid", (), r"ease_reg_grid=\(\): must be a non-empty"),
        ("multvae", "multvae.dropout_rate", 1.5, r"config.multvae.dropout_rate=1.5: must be in \[0, 1\]"),
        ("multvae", "multvae.learning_rate", 0.0, r"config.multvae.learning_rate=0.0: must be > 0"),
        ("distill_cf", "distill.compare", ("vae",), r"config.distill.compare\[0\]='vae': valid:"),
        ("distill_cf", "distill.bpr.foldin_reg", -1.0, r"config.distill.bpr.foldin_reg=-1.0: must be >= 0"),
        ("distill_cf", "distill.bpr.foldin_ego", "mean", r"config.distill.bpr.foldin_ego='mean': valid: 'ridge', 'zero'"),
        ("distill_to_sequential", "adapter.sets", "all", r"config.adapter.sets='all': valid: 'sampled', 'kept'"),
    ],
)  # fmt: skip
def test_bad_fields_are_named(method, field, value, message):
    config = _config(method)
    *parents, leaf = field.split(".")
    section = config
    for name in parents:
        section = section[name]
    section[leaf] = value
    with pytest.raises(settings.SettingsError, match=message):
        settings.from_config(config)


def test_bad_config_is_refused_before_the_workdir_is_touched(tmp_path):
    config = _config("dconrec")
    config.dconrec.budget = -0.5
    workdir = tmp_path / "run"
    with pytest.raises(settings.SettingsError, match="config.dconrec.budget"):
        pipeline.run(config, workdir)
    assert not workdir.exists()


def test_unused_sections_are_not_checked():
    config = _config("infinite_ae")
    config.dconrec.budget = -0.5  # not read by an ∞-AE run
    assert settings.from_config(config).dconrec is None


def test_bpr_models_in_the_comparison_read_the_trainer_section():
    config = _config("distill_cf")
    assert settings.from_config(config).trainers is None
    config.distill.compare = ("ease", "lightgcn")
    run = settings.from_config(config)
    assert list(run.trainers) == ["lightgcn"]
    assert run.distill.bpr.foldin_options("lightgcn")["ego"] == "ridge"
    config.dconrec.eval_settings.lightgcn.learning_rate = 0.0
    with pytest.raises(
        settings.SettingsError,
        match=r"config.dconrec.eval_settings.lightgcn.learning_rate=0.0: must be > 0",
    ):
        settings.from_config(config)


def test_official_preset_is_applied():
    config = _config("dconrec")
    config.dconrec.preset = "official_code"
    assert settings.from_config(config).dconrec.budget_mode == "official"


def test_distill_kernel_override():
    config = _config("distill_cf")
    config.distill.kernel.depth = 3
    run = settings.from_config(config)
    kernel = run.distill.kernel.apply(run.model.kernel)
    assert kernel.depth == 3 and kernel.kind == run.model.kernel.kind


def test_stream_ids_are_distinct_and_named():
    with pytest.raises(ValueError, match="distinct"):
        streams.StreamTable(numpy={"a": 1, "b": 1})
    with pytest.raises(ValueError, match="distinct"):
        streams.StreamTable(numpy={"a": streams.SHARED["auc_negatives"]})
    bound = streams.Streams(streams.StreamTable(numpy={"init": 1}), seed=3)
    a = bound.rng("init").random(4)
    b = bound.rng("auc_negatives").random(4)
    assert not (a == b).any()
    assert (bound.rng("init", 5).random(4) != a).all()


def test_jobs_share_the_auc_negative_stream():
    from experiments.jobs import dconrec, distill_cf, krr

    for job in (krr, distill_cf, dconrec):
        table = {**job.STREAMS.numpy, **streams.SHARED}
        assert table["auc_negatives"] == streams.SHARED["auc_negatives"]
        assert len(set(table.values())) == len(table)


def test_no_get_around_the_locked_config():
    # Every field is read through the typed settings, never with a default.
    for path in (PROJECT_ROOT / "experiments").rglob("*.py"):
        text = pathlib.Path(path).read_text()
        for bad in ("config.get(", "cfg.get(", "syn.get(", ".eval.get(", ".model.get("):
            assert bad not in text, f"{path}: {bad}"
