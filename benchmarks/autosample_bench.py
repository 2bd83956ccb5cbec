"""AutoSample against every single sampler and the exhaustive oracle.

For each (model, dataset) pair, `configs/autosample_ml1m.py` with the dataset's
data section runs through the pipeline in its own workdir under ``--workroot``
(AutoSample's search and warm-started retraining, a from-scratch retraining, and
every candidate sampler trained alone: the oracle, each result cached as it
finishes), then the oracle's sampler is retrained with two more seeds for the seed
noise. Every piece is cached, so the full table can be completed over several runs
on a small CPU; a rerun only computes what is missing.

Per pair: AutoSample's test Recall@20 / nDCG@20 against the oracle (the sampler
best on validation nDCG@10, trained alone), the median single sampler and the seed
noise (standard deviation of the oracle sampler's test nDCG@20 over 3 seeds);
"within noise" is AutoSample >= oracle - 2 sd. Compute: search + retraining wall
time against the exhaustive search (the sum of the single trainings), compilation
included on both sides.

Models: BPR-MF and LightGCN (LightGCN adds MixGCF to the candidates) on each
dataset's set view, and SASRec with the SASRec paper's sampled BCE loss (one
negative per position) on leave-one-out sequences (`SEQUENCES`): ML-100K and
ML-1M ordered by timestamp (ML-1M: the first 2,999 users, the file the data root
holds), Scientific's own split, and Amazon Magazine's 5-core reviews (348 users,
157 items: a different view from the ∞-AE Magazine files the BPR models use).

Run:    python benchmarks/autosample_bench.py --workroot=DIR [--datasets=ml100k]
Smoke:  python benchmarks/autosample_bench.py --smoke   (synthetic data, a minute)

Writes STEM.json (one row per pair: this run's pairs merged with the other pairs
an earlier STEM.json holds), STEM.png (the sampler weights over each search) and
prints the table.
"""

from __future__ import annotations

import json
import math
import pathlib
import sys
import tempfile

import numpy as np
from absl import app, flags, logging

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from configs import autosample_ml1m, autosample_quick  # noqa: E402
from experiments import datasets, pipeline, settings  # noqa: E402
from experiments import workdir as workdir_lib  # noqa: E402
from experiments.jobs import autosample as job  # noqa: E402
from infinite_ae import io, progress  # noqa: E402
from infinite_ae.autosample import selector  # noqa: E402


def _ml1m(config):
    return config  # ratings >= 3 of the ∞-AE hdf5, random 80/10/10


def _ml100k(config):
    config.data.name = "movielens"
    config.data.variant = "ml-100k"
    config.data.path = "movielens/ml-100k.zip"
    config.data.prefer_original_split = False
    return config


def _scientific(config):
    # The set view of UniSRec's leave-one-out split (one validation and one test
    # item per user).
    config.data.name = "sequences_recbole"
    config.data.path = "unisrec_scientific"
    config.data.rating_threshold = None
    return config


def _magazine(config):
    # The ∞-AE paper's Amazon Magazine files and split.
    config.data.name = "infinite_ae"
    config.data.path = "infinite_ae_cf/magazine"
    config.data.rating_threshold = None
    config.data.split = "infinite_ae"
    return config


def _sasrec(config, dataset: str):
    """SASRec with a sampled BCE loss on the dataset's leave-one-out sequences."""
    data, max_len = SEQUENCES[dataset]
    config.data.name, config.data.path = data
    config.data.rating_threshold = None
    seq = config.sequential
    seq.model = "sasrec"
    seq.loss = "bce"
    seq.num_negatives = 1
    seq.max_len = max_len
    seq.embedding_dim = 64
    seq.num_blocks = 2
    seq.num_heads = 1
    seq.dropout_rate = 0.2
    seq.learning_rate = 1e-3
    seq.batch_size = 128
    seq.min_batches_per_epoch = 8
    seq.max_epochs = 200
    seq.eval_every = 2
    seq.patience = 5
    seq.ks = (10, 20)
    config.autosample.val_batch_size = 256
    return config


ML1M_USERS_0001_2999 = "ratings.users0001-2999.partial.dat.gz"
# (data name, path) and the window length L of each dataset's sequences.
SEQUENCES = {
    "ml1m": (("sequences_movielens", f"movielens/ml-1m/{ML1M_USERS_0001_2999}"), 50),
    "ml100k": (("sequences_movielens", "movielens/ml-100k.zip"), 50),
    "scientific": (("sequences_recbole", "unisrec_scientific"), 20),
    "magazine": (
        ("sequences_amazon_json", "amazon2018/Magazine_Subscriptions_5.json.gz"),
        20,
    ),
}
DATASETS = {
    "ml1m": _ml1m,
    "ml100k": _ml100k,
    "scientific": _scientific,
    "magazine": _magazine,
}
NOISE_SEEDS = (1, 2)

_DATASETS = flags.DEFINE_list(
    "datasets", ["ml100k", "magazine", "scientific", "ml1m"], f"Of {sorted(DATASETS)}."
)
MODELS = ("bprmf", "lightgcn", "sasrec")
_MODELS = flags.DEFINE_list("models", list(MODELS), ", ".join(MODELS))
_WORKROOT = flags.DEFINE_string("workroot", None, "Cache of runs and cells.")
_OUT = flags.DEFINE_string("out", "benchmarks/results/autosample_bench", "Stem.")
_SMOKE = flags.DEFINE_bool("smoke", False, "Small synthetic data, one model.")


def _config(dataset: str, model: str, root: pathlib.Path):
    if _SMOKE.value:
        config = autosample_quick.get_config()
        config.data.synthetic.num_users = 200
        config.data.synthetic.num_items = 100
        cfg = config.autosample
        cfg.samplers = ("uniform", "dns")
        cfg.search_epochs = 2
        cfg.trainer.max_epochs = 3
        cfg.trainer.embedding_dim = 8
    else:
        config = DATASETS[dataset](autosample_ml1m.get_config())
        if model == "sasrec":
            config = _sasrec(config, dataset)
        cfg = config.autosample
    cfg.model = model
    cfg.oracle = True
    # Shared by runs that differ only in search settings.
    cfg.oracle_cache = str(root / "oracle_cache")
    cfg.compare_scratch = True
    if model == "lightgcn" and not _SMOKE.value:
        cfg.samplers = (*cfg.samplers, "mixgcf")
    return config


def _run(config, workdir: pathlib.Path) -> dict:
    """The pipeline's results, reused when the workdir holds this config's."""
    done = workdir / "results.json"
    if done.exists():
        results = json.loads(done.read_text())
        if results.get("config_hash") == workdir_lib.config_hash(config):
            return results
    # The oracle's trainings live in the shared cache, so a changed search
    # setting replaces the run but reuses them.
    return pipeline.run(config, workdir, overwrite=True)


def _noise(config, results, workdir: pathlib.Path) -> list[float]:
    """Test nDCG@20 of the oracle's sampler over seeds (cached per seed)."""
    run_settings = settings.from_config(config)
    cfg = run_settings.autosample
    best = results["oracle"]["best"]
    values = [results["oracle"]["results"][best]["test"]["ndcg@20"]]
    data = None
    for seed in NOISE_SEEDS:
        # Beside the run, not in it: a changed search setting replaces the run.
        path = workdir.parent / f"{workdir.name}_noise" / f"{best}_seed{seed}.json"
        if not path.exists():
            if data is None:
                data = datasets.load_for(run_settings)
            model, train_data = job.model_and_data(run_settings, data)
            specs = dict(
                zip(
                    selector.spec_labels(job.sampler_specs(cfg)),
                    job.sampler_specs(cfg),
                    strict=True,
                )
            )
            alone = job.exhaustive_search(
                run_settings,
                model,
                train_data,
                (specs[best],),
                seed=seed,
                progress=f"noise/{seed}",
            )
            (record,) = alone["results"].values()
            io.atomic_write_json(
                path, {"test": record["test"], "seconds": record["seconds"]}
            )
        values.append(json.loads(path.read_text())["test"]["ndcg@20"])
    return values


def _row(dataset, model, results, noise) -> dict:
    oracle = results["oracle"]
    single = {k: v["test"] for k, v in oracle["results"].items()}
    chosen = results["test"]
    sd = float(np.std(noise, ddof=1)) if len(noise) > 1 else 0.0
    median = float(np.median([t["ndcg@20"] for t in single.values()]))
    best = single[oracle["best"]]
    return {
        "dataset": dataset,
        "model": model,
        "data": results["data"],
        "selected": results["autosample"]["selected"],
        "oracle": oracle["best"],
        "weights": results["autosample"]["weights"],
        "trajectory": results["autosample"]["trajectory"],
        "labels": results["autosample"]["labels"],
        "autosample": {m: chosen[m] for m in ("recall@20", "ndcg@20")},
        "scratch": {m: results["scratch"]["test"][m] for m in ("recall@20", "ndcg@20")},
        "oracle_test": {m: best[m] for m in ("recall@20", "ndcg@20")},
        "single": {
            k: {m: v[m] for m in ("recall@20", "ndcg@20")} for k, v in single.items()
        },
        "median_single_ndcg@20": median,
        "oracle_seed_ndcg@20": noise,
        "noise_sd": sd,
        "within_noise": chosen["ndcg@20"] >= best["ndcg@20"] - 2 * sd,
        "at_least_median": chosen["ndcg@20"] >= median,
        "autosample_seconds": results["autosample"]["total_seconds"],
        "exhaustive_seconds": oracle["seconds"],
        "compute_ratio": oracle["autosample_over_exhaustive_seconds"],
    }


def _plot(rows, stem: pathlib.Path) -> None:
    cols = min(4, len(rows))
    nrows = math.ceil(len(rows) / cols)
    fig, axes = plt.subplots(
        nrows, cols, figsize=(3.6 * cols, 2.8 * nrows), squeeze=False
    )
    for ax, row in zip(axes.ravel(), rows, strict=False):
        traj = np.asarray(row["trajectory"])
        for s, label in enumerate(row["labels"]):
            ax.plot(range(1, len(traj) + 1), traj[:, s], label=label)
        ax.set_title(
            f"{row['model']} / {row['dataset']}: {row['selected']}", fontsize=8
        )
        ax.set_ylim(0, 1)
        ax.set_xlabel("search epoch", fontsize=7)
    for ax in axes.ravel()[len(rows) :]:
        ax.axis("off")
    axes.ravel()[0].legend(fontsize=6)
    fig.tight_layout()
    io.atomic_save_figure(stem.with_suffix(".png"), fig, dpi=110)
    plt.close(fig)


def _print(rows) -> None:
    print(
        f"\n{'model':<9}{'dataset':<11}{'chosen':<12}{'oracle':<12}"
        f"{'AS nDCG@20':>11}{'oracle':>8}{'median':>8}{'2sd':>6}{'ok':>4}"
        f"{'AS R@20':>9}{'compute':>9}"
    )
    for r in rows:
        print(
            f"{r['model']:<9}{r['dataset']:<11}{r['selected']:<12}{r['oracle']:<12}"
            f"{r['autosample']['ndcg@20']:>11.2f}{r['oracle_test']['ndcg@20']:>8.2f}"
            f"{r['median_single_ndcg@20']:>8.2f}{2 * r['noise_sd']:>6.2f}"
            f"{'yes' if r['within_noise'] else 'no':>4}"
            f"{r['autosample']['recall@20']:>9.2f}{r['compute_ratio']:>9.2f}"
        )


def main(argv):
    del argv
    datasets_ = ["synthetic"] if _SMOKE.value else _DATASETS.value
    models = ["bprmf"] if _SMOKE.value else _MODELS.value
    for name in datasets_:
        if name not in DATASETS and not _SMOKE.value:
            raise app.UsageError(f"--datasets: {name!r}; valid: {sorted(DATASETS)}")
    root = pathlib.Path(_WORKROOT.value or tempfile.mkdtemp(prefix="autosample_"))
    logging.info("runs and cells under %s", root)
    bar = progress.Progress(len(datasets_) * len(models), "autosample", unit="pair")
    stem = pathlib.Path(_OUT.value)
    rows = []
    for dataset in datasets_:
        for model in models:
            config = _config(dataset, model, root)
            workdir = root / dataset / model
            results = _run(config, workdir)
            rows.append(_row(dataset, model, results, _noise(config, results, workdir)))
            _write(rows, stem)  # after every pair: an interrupted sweep keeps them
            bar.update(pair=f"{model}/{dataset}")
    bar.close()
    record = _write(rows, stem)
    rows = record["rows"]
    print(
        json.dumps(
            {
                k: record[k]
                for k in ("benchmark", "within_noise", "at_least_median", "pairs")
            }
        )
    )
    _print(rows)


def _merged(rows, stem: pathlib.Path) -> list[dict]:
    """These rows with the other pairs of an earlier run's STEM.json, in the order
    of `DATASETS` and `MODELS` (so the table can be completed over several runs
    on subsets of the pairs)."""
    path = stem.with_suffix(".json")
    earlier = []
    if path.exists() and not _SMOKE.value:
        earlier = json.loads(path.read_text()).get("rows", [])
    by_pair = {(r["dataset"], r["model"]): r for r in [*earlier, *rows]}
    order = {d: i for i, d in enumerate(DATASETS)}
    models = {m: i for i, m in enumerate(MODELS)}
    return sorted(
        by_pair.values(),
        key=lambda r: (order.get(r["dataset"], -1), models.get(r["model"], -1)),
    )


def _write(rows, stem: pathlib.Path) -> dict:
    rows = _merged(rows, stem)
    record = {
        "benchmark": "autosample",
        "smoke": _SMOKE.value,
        "within_noise": sum(r["within_noise"] for r in rows),
        "at_least_median": sum(r["at_least_median"] for r in rows),
        "pairs": len(rows),
        "rows": rows,
        **pipeline.environment(),
    }
    io.atomic_write_json(stem.with_suffix(".json"), record)
    _plot(rows, stem)
    return record


if __name__ == "__main__":
    app.run(main)
