"""End-to-end tests of the shell: experiments.run on tiny configs, config handling."""

import json
import logging
import subprocess
import sys

import pytest
from absl import flags

from configs import base
from experiments import datasets, jobs, pipeline, settings
from experiments import workdir as workdir_lib
from infinite_ae import io
from tests.conftest import PROJECT_ROOT


def _tiny_config(method="infinite_ae"):
    config = base.get_config()
    config.method = method
    config.data.synthetic.num_users = 300
    config.data.synthetic.num_items = 120
    config.data.synthetic.mean_degree = 15.0
    config.model.reg_grid = (1.0, 5.0)
    config.model.ease_reg_grid = (10.0, 100.0)
    config.eval.batch_size = 128
    return config


@pytest.mark.parametrize("method", ["infinite_ae", "ease", "popularity"])
def test_pipeline_writes_artefacts(tmp_path, method):
    results = pipeline.run(_tiny_config(method), tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["method"] == method
    written = json.loads((tmp_path / "results.json").read_text())
    assert written["test"]["ndcg@10"] == pytest.approx(results["test"]["ndcg@10"])
    for key in ("ndcg@10", "hr@10", "hr@100", "psp@10", "auc"):
        assert 0 <= written["test"][key] <= 100
    assert len(written["data"]["checksum"]) == 64
    assert written["versions"]["jax"] and written["timings"]["total"] > 0
    records = io.read_jsonl(tmp_path / "metrics.jsonl")
    if method == "popularity":
        assert "reg" not in written and records == []
    else:
        assert written["reg"] in (1.0, 5.0, 10.0, 100.0)
        assert [r["step"] for r in records] == [0, 1]


# Two pipeline runs with Mult-VAE trainings: about 15 s.
@pytest.mark.slow
def test_multvae_job_and_its_comparison_row(tmp_path):
    config = _tiny_config("multvae")
    config.model.select_metric = "ndcg@10"
    vae = config.multvae
    vae.hidden, vae.latent, vae.max_epochs, vae.batch_size = 32, 8, 6, 100
    results = pipeline.run(config, tmp_path / "job")
    assert results["best_epoch"] >= 0 and 0 < results["test"]["ndcg@10"] <= 100
    records = io.read_jsonl(tmp_path / "job" / "metrics.jsonl")
    assert [r["step"] for r in records] == list(range(6))  # epochs 0-5
    # In Distill-CF's comparison Mult-VAE trains on full / distilled / random users.
    config = _tiny_config("distill_cf")
    config.model.select_metric = "ndcg@10"
    vae = config.multvae
    vae.hidden, vae.latent, vae.max_epochs, vae.batch_size = 32, 8, 6, 100
    config.distill.num_users, config.distill.num_steps = 10, 2
    config.distill.eval_every, config.distill.num_samples = 1, 15
    config.distill.compare = ("multvae",)
    compared = pipeline.run(config, tmp_path / "compare")["compare"]["multvae"]
    assert [compared[k]["users"] for k in ("full", "distilled", "random_users")] == [
        300,
        10,
        10,
    ]
    assert compared["full"]["test"]["ndcg@10"] == pytest.approx(
        results["test"]["ndcg@10"]
    )


@pytest.mark.slow  # two pipeline runs: about 3 s
def test_same_seed_same_results(tmp_path):
    a = pipeline.run(_tiny_config(), tmp_path / "a")
    b = pipeline.run(_tiny_config(), tmp_path / "b")
    assert a["test"] == b["test"] and a["data"]["checksum"] == b["data"]["checksum"]


def test_resume_refuses_a_different_config(tmp_path):
    pipeline.run(_tiny_config(), tmp_path)
    io.save_checkpoint(tmp_path / "checkpoints", 0, {"x": 0})
    changed = _tiny_config()
    changed.seed = 7
    with pytest.raises(ValueError, match="seed"):
        pipeline.run(changed, tmp_path)


def test_unknown_method_and_dataset_are_named():
    with pytest.raises(ValueError, match="valid"):
        jobs.get_job("nope")
    config = _tiny_config()
    config.data.name = "nope"
    with pytest.raises(ValueError, match="config.data.name='nope': valid: 'synthetic'"):
        settings.from_config(config)
    config.data.name = "csv"
    config.data.path = "/does/not/exist.csv"
    with pytest.raises(FileNotFoundError, match="config.data.path"):
        datasets.load(settings.from_config(config).data, seed=0)


def test_format_table_lists_val_and_test():
    table = pipeline.format_table(
        {
            "val": {"hr@100": 50.0, "ndcg@10": 20.0, "num_users": 3},
            "test": {"hr@100": 55.0, "ndcg@10": 22.0},
        }
    )
    lines = table.splitlines()
    assert lines[0].split() == ["metric", "val", "test"]
    assert lines[1].split() == ["hr@100", "50.0000", "55.0000"]
    assert "num_users" not in table


def test_default_workdir_names_config_and_arg():
    assert pipeline.default_workdir("configs/distill_ml1m.py:tiny").endswith(
        "runs/distill_ml1m_tiny"
    )


@pytest.mark.slow  # the README's first command in a subprocess: about 17 s
def test_cli_runs_quickstart_with_overrides(tmp_path):
    cmd = [
        sys.executable,
        "-m",
        "experiments.run",
        "--config=configs/quickstart.py",
        f"--workdir={tmp_path}",
        "--config.data.synthetic.num_users=200",
        "--config.data.synthetic.num_items=80",
        "--config.distill.num_users=8",
        "--config.distill.num_steps=4",
        "--config.distill.eval_every=2",
        "--config.distill.batch_size=100",
        "--config.eval.auc_negatives=10",
    ]
    out = subprocess.run(
        cmd, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
    # The first line says which devices run; no failed backend probe comes first.
    assert "JAX" in out.stderr.splitlines()[0], out.stderr[:500]
    assert "libtpu" not in out.stderr
    # The comparison table: each model on full / distilled / random users.
    table = out.stdout[out.stdout.index("model ") :].splitlines()
    assert table[0].split()[-1] == "speed-up"
    assert [line.split()[:3] for line in table[1:7]] == [
        [model, trained_on, users]
        for model in ("infinite_ae", "ease")
        for trained_on, users in (
            ("full", "200"),
            ("distilled", "8"),
            ("random_users", "8"),
        )
    ]
    results = json.loads((tmp_path / "results.json").read_text())
    compared = results["compare"]["infinite_ae"]
    # ∞-AE on the summary in the table is the job's own test result.
    assert compared["distilled"]["test"]["ndcg@10"] == pytest.approx(
        results["test"]["ndcg@10"], abs=1e-4
    )
    assert compared["full"]["speedup"] == 1.0
    assert (tmp_path / "compare.png").stat().st_size > 0
    bad = subprocess.run(
        cmd[:4] + ["--config.model.no_such_field=1"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert bad.returncode != 0 and "no_such_field" in bad.stderr


@pytest.mark.slow
def test_infinite_ae_ml1m_reproduces_the_paper_split_numbers(tmp_path, real_data):
    real_data("infinite_ae_cf/ml-1m/index.npz")
    from configs import infinite_ae_ml1m

    results = pipeline.run(infinite_ae_ml1m.get_config(), tmp_path)
    # The original code's numbers on this split: nDCG@10 33.39, HR@10 31.91 (λ* = 5).
    assert results["reg"] == 5.0
    assert results["test"]["ndcg@10"] == pytest.approx(33.39, abs=0.10)
    assert results["test"]["hr@10"] == pytest.approx(31.91, abs=0.10)
    assert results["val"]["hr@100"] == pytest.approx(58.23, abs=0.10)


@pytest.mark.slow
def test_ease_ml1m_matches_the_reference_ease(tmp_path, real_data):
    real_data("infinite_ae_cf/ml-1m/index.npz")
    from configs import ease_ml1m

    results = pipeline.run(ease_ml1m.get_config(), tmp_path)
    # A float64 NumPy EASE through the original evaluation: λ* 1000, nDCG@10 34.07.
    assert results["reg"] == 1000.0
    assert results["test"]["ndcg@10"] == pytest.approx(34.07, abs=0.10)
    assert results["test"]["hr@10"] == pytest.approx(32.26, abs=0.10)


def test_workdir_of_a_different_config_is_refused_without_checkpoints(tmp_path):
    config = _tiny_config("popularity")
    pipeline.run(config, tmp_path)
    before = (tmp_path / "results.json").read_text()
    changed = _tiny_config("popularity")
    changed.seed = config.seed + 1
    with pytest.raises(ValueError) as error:
        pipeline.run(changed, tmp_path)
    message = str(error.value)
    assert str(tmp_path) in message and "config.json" in message
    assert f"seed ({config.seed} -> {config.seed + 1})" in message
    assert "--overwrite" in message and "--workdir" in message
    assert (tmp_path / "results.json").read_text() == before
    assert json.loads((tmp_path / "config.json").read_text())["seed"] == config.seed


def test_workdir_with_results_of_a_different_config_is_refused(tmp_path):
    config = _tiny_config("popularity")
    io.atomic_write_json(tmp_path / "results.json", {"config_hash": "0123abcd"})
    with pytest.raises(ValueError, match="results.json has config_hash 0123abcd"):
        workdir_lib.prepare_workdir(tmp_path, config)
    io.atomic_write_json(
        tmp_path / "results.json", {"config_hash": workdir_lib.config_hash(config)}
    )
    workdir_lib.prepare_workdir(tmp_path, config)
    assert json.loads((tmp_path / "config.json").read_text())["method"] == "popularity"


def test_checkpoints_without_config_json_are_refused(tmp_path):
    io.save_checkpoint(tmp_path / "checkpoints", 3, {"x": 0})
    with pytest.raises(ValueError, match="no config.json") as error:
        workdir_lib.prepare_workdir(tmp_path, _tiny_config())
    assert str(tmp_path / "checkpoints") in str(error.value)


def test_overwrite_removes_the_old_run_first(tmp_path, caplog):
    pipeline.run(_tiny_config("popularity"), tmp_path)
    io.save_checkpoint(tmp_path / "checkpoints", 0, {"x": 0})
    io.atomic_save_npz(tmp_path / "distilled.npz", data=[1, 2])
    io.MetricWriter(tmp_path / "metrics.jsonl").write_scalars(5, {"loss": 1.0})
    changed = _tiny_config("popularity")
    changed.seed = 7
    with caplog.at_level(logging.WARNING):
        results = pipeline.run(changed, tmp_path, overwrite=True)
    assert "removing the previous run" in caplog.text
    for name in ("checkpoints/", "distilled.npz", "metrics.jsonl", "results.json"):
        assert name in caplog.text
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "config.json",
        "metrics.jsonl",
        "results.json",
    ]
    assert io.read_jsonl(tmp_path / "metrics.jsonl") == []
    assert json.loads((tmp_path / "config.json").read_text())["seed"] == 7
    written = json.loads((tmp_path / "results.json").read_text())
    assert written["config_hash"] == results["config_hash"]
    assert written["config_hash"] == workdir_lib.config_hash(changed)


def test_clear_workdir_leaves_a_directory_without_run_artefacts(tmp_path):
    (tmp_path / "notes.txt").write_text("keep me")
    assert workdir_lib.clear_workdir(tmp_path) == []
    assert (tmp_path / "notes.txt").read_text() == "keep me"
    workdir_lib.prepare_workdir(tmp_path, _tiny_config(), overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "notes.txt"]


def test_same_config_resumes_from_the_newest_readable_checkpoint(tmp_path, caplog):
    config = _tiny_config()
    checkpoint_dir = tmp_path / "checkpoints"
    workdir_lib.prepare_workdir(tmp_path, config)
    io.save_checkpoint(checkpoint_dir, 2, {"x": 0})
    newest = io.save_checkpoint(checkpoint_dir, 4, {"x": 1})
    newest.write_bytes(b"")
    workdir_lib.prepare_workdir(tmp_path, config)
    with caplog.at_level(logging.WARNING):
        assert workdir_lib.find_resume_step(checkpoint_dir) == 2
    assert str(newest) in caplog.text and "empty" in caplog.text
    assert io.latest_checkpoint(checkpoint_dir) == 2
    assert (checkpoint_dir / "step_00000004.npz.unreadable").exists()


# config_flags loads the config file with the deprecated `load_module`.
@pytest.mark.filterwarnings("ignore:the load_module:DeprecationWarning")
def test_cli_passes_overwrite(tmp_path, monkeypatch):
    from experiments import run as run_cli

    calls = []
    monkeypatch.setattr(
        pipeline,
        "run",
        lambda config, workdir, *, overwrite=False: calls.append((workdir, overwrite)),
    )
    argv = [
        "run",
        f"--config={PROJECT_ROOT / 'configs' / 'quickstart.py'}",
        f"--workdir={tmp_path}",
    ]
    try:
        for extra, expected in (([], False), (["--overwrite"], True)):
            flags.FLAGS.unparse_flags()
            flags.FLAGS(argv + extra)
            run_cli.main(["run"])
            assert calls[-1] == (str(tmp_path), expected)
    finally:
        flags.FLAGS.unparse_flags()


@pytest.mark.slow
def test_real_data_configs_find_their_files(real_data):
    """Every real-data path a config names resolves through the shell's loader."""
    from configs import sasrec_scientific  # noqa: PLC0415

    real_data("unisrec_scientific/Scientific.train.inter.gz")
    run_settings = settings.from_config(sasrec_scientific.get_config())
    sequences = datasets.load(run_settings.data, seed=run_settings.seed)
    assert (sequences.num_users, sequences.num_items) == (8442, 4385)
