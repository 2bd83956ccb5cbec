# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Distill-CF on MovieLens-1M: a budget curve and the exported summary
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/infinite-ae/infinite_ae/blob/main/notebooks/02_distill_ml1m.ipynb)
#
# Distill-CF summarises MovieLens-1M (6,040 users × 3,706 items, the original ∞-AE
# split) into S synthetic users, for several budgets S. For each budget, ∞-AE is
# trained on the summary and on S random real users and tested on the real users'
# held-out items: the budget curve. The largest summary is then exported for other
# libraries, as a RecBole atomic `.inter` file and as a CSV.
#
# The settings are those of `configs/distill_ml1m.py` (README, "Results": 500
# synthetic users keep 99 % of full-data ∞-AE nDCG@10); only the budget changes.

# %%
# Setup. On Colab: clone the repository and install it, with the JAX build of the
# runtime's accelerator (TPU or GPU). Elsewhere, install the project first (the
# README's install command).
import glob
import os
import shutil
import subprocess
import sys

REPOSITORY = "https://github.com/infinite-ae/infinite_ae"
if "google.colab" in sys.modules:
    CHECKOUT = "/content/infinite_ae"
    if not os.path.isdir(CHECKOUT):
        subprocess.run(["git", "clone", "--depth=1", REPOSITORY, CHECKOUT], check=True)
    packages = [CHECKOUT]
    if "COLAB_TPU_ADDR" in os.environ or glob.glob("/dev/accel*"):
        packages.append("jax[tpu]")
    elif shutil.which("nvidia-smi"):
        packages.append("jax[cuda12]")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", *packages], check=True
    )
    # The checkout first on the path: its configs/ and benchmarks/ import from there.
    sys.path.insert(0, CHECKOUT)
    from importlib import metadata

    upgraded = [
        name
        for name in ("numpy", "scipy", "matplotlib", "jax")
        if name in sys.modules
        and metadata.version(name) != sys.modules[name].__version__
    ]
    if upgraded:
        raise RuntimeError(
            f"the install upgraded {upgraded}, already imported: restart the "
            "session (Runtime > Restart session), then run all cells again"
        )

import jax

print(jax.devices())

# %% [markdown]
# ## Sizes and data
#
# `full` distils four budgets with the ML-1M config (about two minutes per budget on
# a 2-core CPU, far less on an accelerator) and trains ∞-AE on all 6,040 users as
# the reference; `ci` runs two tiny budgets with a few steps, so the notebook tests
# execute it quickly (its numbers mean little).
#
# ML-1M is read from `$INFINITE_AE_DATA` (default `../shared/data` beside the
# project): the original ∞-AE split files `infinite_ae_cf/ml-1m/` when they are
# there, else GroupLens' `movielens/ml-1m.zip`, else the library downloads the
# archive from GroupLens (md5-checked) into `$INFINITE_AE_CACHE`. When none of this
# works (offline, no local copy), the notebook says so and continues on the built-in
# synthetic dataset at the `ci` sizes, so it still runs end to end; every number is
# then labelled as synthetic.

# %%
import contextlib
import io
import pathlib

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Image, display

from configs import distill_ml1m
from experiments import datasets, pipeline, settings
from experiments.jobs import compare
from infinite_ae import io as io_lib
from infinite_ae.data import download
from infinite_ae.distill import export

SCALE = os.environ.get("INFINITE_AE_NOTEBOOK_SCALE", "full")
if SCALE not in ("full", "ci"):
    raise ValueError(f"INFINITE_AE_NOTEBOOK_SCALE={SCALE!r}; valid: full, ci")

base = distill_ml1m.get_config()
base.lock()  # a misspelt field below raises instead of adding a new one
# The equal-budget real-user baseline is evaluated with every summary.
base.distill.baselines = ("random_users",)
try:
    data = datasets.load(settings.from_config(base).data, seed=base.seed)
    DATASET = "ML-1M"
    print(f"ML-1M from {data.info.get('source')}")
except (download.DownloadError, FileNotFoundError) as error:
    SCALE = "ci"
    base.data.name = "synthetic"
    base.data.synthetic.update(num_users=300, num_items=200, mean_degree=15.0)
    data = datasets.load(settings.from_config(base).data, seed=base.seed)
    DATASET = "synthetic (ML-1M unavailable)"
    print(
        "!" * 79 + "\nML-1M IS NOT AVAILABLE: this run continues on the built-in "
        "SYNTHETIC dataset\nat the ci sizes. No number below is about ML-1M.\n"
        f"Why: {error}\n" + "!" * 79
    )
print(f"{DATASET}: {data.num_users} users x {data.num_items} items, scale {SCALE}")

# %%
if SCALE == "full":
    BUDGETS = (50, 100, 200, 500)
else:
    BUDGETS = (10, 30)
    steps = 4
    base.distill.update(
        num_samples=50,
        num_draws=4,
        eval_num_draws=4,
        num_steps=steps,
        lr_decay_steps=steps,
        eval_every=2,
        log_every=2,
        checkpoint_every=steps,
        batch_size=512,
        val_users=500,
        reg_grid=(1e-3, 0.1),
        eval_reg_grid=(1e-3, 0.1),
    )
    base.model.reg_grid = (5.0,)
WORKDIR = pathlib.Path("runs") / f"02_distill_ml1m_{SCALE}"
print(f"budgets {BUDGETS}, {base.distill.num_steps} Distill-CF steps each")

# %% [markdown]
# ## The budget curve
#
# One Distill-CF run per budget, each in its own workdir (`pipeline.run` is what
# `experiments.run` calls; its printed tables are kept out of the notebook, every
# number is in each workdir's `results.json`). Each run tests ∞-AE on its summary
# and, as the baseline, on as many random real users, both with λ chosen on the
# real validation items.

# %%
curve = []
for num_users in BUDGETS:
    config = base.copy_and_resolve_references()
    config.distill.num_users = num_users
    with contextlib.redirect_stdout(io.StringIO()):
        results = pipeline.run(config, WORKDIR / f"budget_{num_users}", overwrite=True)
    random_users = results["baselines"]["random_users"]["test"]["ndcg@10"]
    curve.append((num_users, results["test"]["ndcg@10"], random_users))
    print(
        f"S = {num_users:>4}: ∞-AE test nDCG@10 {curve[-1][1]:6.2f} on the summary, "
        f"{random_users:6.2f} on random users "
        f"({results['timings']['distillation']:.0f} s to distil)"
    )

# %% [markdown]
# The reference: ∞-AE trained on every real user, λ chosen on validation
# (`experiments/jobs/compare.py`, as the quick start's comparison). At the `ci` scale
# it is skipped on ML-1M (a 6,040-user kernel takes about half a minute on a CPU).

# %%
full_ndcg = None
if SCALE == "full" or data.num_users <= 1000:
    run_settings = settings.from_config(base)
    reference = compare.train_and_test(
        "infinite_ae",
        None,
        data,
        run_settings,
        kernel_spec=run_settings.model.kernel.spec(),
        negatives=None,
        repeats=1,
    )
    full_ndcg = reference["test"]["ndcg@10"]
    print(f"full data ({data.num_users} users): test nDCG@10 {full_ndcg:.2f}")
    for num_users, distilled, random_users in curve:
        print(
            f"S = {num_users:>4} ({num_users / data.num_users:5.1%} of the users): "
            f"summary {distilled / full_ndcg:6.1%}, "
            f"random {random_users / full_ndcg:6.1%} of full-data nDCG@10"
        )
else:
    print("full-data reference skipped at the ci scale")

# %%
budgets, distilled, random_users = zip(*curve, strict=True)
fig, ax = plt.subplots(figsize=(6, 3.8))
ax.plot(budgets, distilled, "o-", color="#dd8452", label="Distill-CF summary")
ax.plot(budgets, random_users, "s--", color="#8c8c8c", label="random real users")
if full_ndcg is not None:
    ax.axhline(full_ndcg, color="k", ls=":", label=f"full data ({data.num_users})")
ax.set(
    xscale="log",
    xlabel="users trained on (synthetic or real)",
    ylabel="test nDCG@10 (×100)",
    title=f"∞-AE on {DATASET}",
)
ax.set_xticks(budgets, [str(b) for b in budgets])
ax.minorticks_off()
ax.grid(alpha=0.3)
ax.legend(fontsize=8)
fig.tight_layout()
io_lib.atomic_save_figure(WORKDIR / "budget_curve.png", fig, dpi=120)
plt.close(fig)
display(Image(filename=str(WORKDIR / "budget_curve.png")))

# %% [markdown]
# ## Exporting the summary
#
# The summary is continuous: each row is a clipped Gumbel-softmax sample of learned
# logits (`distilled.npz` keeps it, the logits and the raw item ids). Other
# libraries need discrete interactions; `infinite_ae.distill.export` offers three
# binarisations: `sample` (draws from the learned distribution), `topk` (each
# synthetic user's round(row mass) largest items) and `threshold` (entries ≥ t).
# Here the largest summary is binarised with `topk`, written as a RecBole atomic
# file and as a CSV, and read back.

# %%
largest = WORKDIR / f"budget_{BUDGETS[-1]}" / "distilled.npz"
with np.load(largest) as stored:
    continuous, logits, item_ids = stored["data"], stored["logits"], stored["item_ids"]
rows = export.binarize(continuous, logits, mode="topk")
print(
    f"{rows.shape[0]} synthetic users x {rows.shape[1]} items, {rows.nnz} "
    f"interactions ({rows.nnz / rows.shape[0]:.1f} per user; real users: "
    f"{data.train.nnz / data.num_users:.1f})"
)

# RecBole reads <data_path>/<dataset>/<dataset>.inter: set `dataset` to NAME and
# `data_path` to the export folder.
NAME = "distilled_ml1m" if DATASET == "ML-1M" else "distilled_synthetic"
EXPORT = WORKDIR / "export" / NAME
EXPORT.mkdir(parents=True, exist_ok=True)
inter = export.write_recbole_inter(EXPORT / f"{NAME}.inter", rows, item_ids=item_ids)
csv = export.write_csv(EXPORT / f"{NAME}.csv", rows, item_ids=item_ids)
for path in (inter, csv):
    print(f"\n{path}:")
    print("\n".join(path.read_text().splitlines()[:4]))

# %% [markdown]
# Both files load back with the raw item ids (`export.read_table`, or
# `infinite_ae.data.loaders.load_recbole` for the `.inter` file) into the same
# matrix.

# %%
for path in (inter, csv):
    loaded = export.read_table(path, item_ids=item_ids)
    same = (loaded.train != rows).nnz == 0
    print(
        f"{path.name}: {loaded.num_users} users, {loaded.train.nnz} rows, same: {same}"
    )
    assert same, path
