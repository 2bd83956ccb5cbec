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
# # Quick start: Distill-CF on the built-in synthetic dataset
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/infinite-ae/infinite_ae/blob/main/notebooks/01_quickstart.ipynb)
#
# Distill-CF (Sachdeva et al., NeurIPS 2022) learns a small synthetic user × item
# summary of a recommendation dataset: the summary's rows are Gumbel-softmax samples
# of learned logits, trained through the closed-form ∞-AE solve so that ∞-AE fitted
# on the summary reconstructs the real users well.
#
# This notebook runs what the README's quick start runs
# (`python -m experiments.run --config=configs/quickstart.py`): Distill-CF shrinks
# the built-in power-law dataset (2,000 users × 1,000 items) to 40 synthetic users,
# then ∞-AE and EASE are trained three times, on the full data, on the summary and
# on 40 random real users, and tested on the real users' held-out items.

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
# ## Sizes
#
# One switch sets every size: `full` is the quick start's configuration (about half
# a minute on a 2-core CPU); `ci` shrinks the data and the run so the notebook tests
# execute it in seconds. Set `INFINITE_AE_NOTEBOOK_SCALE` before starting the kernel,
# or edit the line below.

# %%
import pathlib

from IPython.display import Image, display

from configs import quickstart
from experiments import pipeline

SCALE = os.environ.get("INFINITE_AE_NOTEBOOK_SCALE", "full")
if SCALE not in ("full", "ci"):
    raise ValueError(f"INFINITE_AE_NOTEBOOK_SCALE={SCALE!r}; valid: full, ci")
WORKDIR = pathlib.Path("runs") / f"01_quickstart_{SCALE}"

config = quickstart.get_config()
config.lock()  # a misspelt field below raises instead of adding a new one
if SCALE == "ci":
    config.data.synthetic.update(num_users=300, num_items=200, mean_degree=15.0)
    config.distill.update(
        num_users=10,
        num_samples=15,
        num_steps=10,
        eval_every=5,
        log_every=5,
        checkpoint_every=10,
        batch_size=128,
        reg_grid=(1e-3, 1.0),
        eval_reg_grid=(1e-3, 1.0),
    )
    config.model.update(reg_grid=(1.0, 20.0), ease_reg_grid=(50.0, 250.0))
    config.eval.auc_negatives = 20
synthetic = config.data.synthetic
print(
    f"scale {SCALE}: {synthetic.num_users} users x {synthetic.num_items} items -> "
    f"{config.distill.num_users} synthetic users, {config.distill.num_steps} steps"
)

# %% [markdown]
# ## Distil, then train on full / distilled / random users
#
# `pipeline.run` is what `experiments.run` calls: it validates the config, writes
# `config.json`, distils (checkpointed, validated on a schedule, the best sample
# kept), tests ∞-AE on the summary, exports it (`distilled.npz` / `.inter` /
# `.csv`) and, since the quick start sets `distill.compare`, trains each model on
# the three training sets with λ chosen on the real validation items. It prints
# ∞-AE's metrics on the summary and the comparison table (test metrics × 100; the
# fit time is one warm fit at the chosen λ).

# %%
results = pipeline.run(config, WORKDIR, overwrite=True)

# %% [markdown]
# The same comparison as a figure (`compare.png` in the workdir): test nDCG@10 and
# fit time of each model per training set.

# %%
display(Image(filename=str(WORKDIR / "compare.png")))

# %% [markdown]
# What the summary keeps: each model's test nDCG@10 trained on the summary and on as
# many random users, relative to the full data, and its fit-time speed-up.
# ∞-AE's fit cost grows with the number of users, so the summary trains it far
# faster; EASE's grows with the items, so it gains little time.

# %%
for model, records in results["compare"].items():
    full = records["full"]["test"]["ndcg@10"]
    for name in ("distilled", "random_users"):
        record = records[name]
        print(
            f"{model:<12} {name:<13} {record['users']:>5} users: "
            f"{record['test']['ndcg@10'] / full:6.1%} of full-data nDCG@10, "
            f"{record['speedup']:7.1f}x faster to fit"
        )
print(f"every number: {WORKDIR / 'results.json'}")

# %% [markdown]
# ## Next
#
# * `02_distill_ml1m`: Distill-CF on MovieLens-1M, a budget curve and the summary
#   exported for RecBole.
# * `03_speedup_curves`: training time against quality across budgets.
# * `04_sequential`: SASRec, and distilled users turned into training sequences.
# * `05_autosample`: negative samplers, and the AutoSample-style sampler search.
# * Every experiment of the project is a config under `configs/` (README, "Running
#   experiments"); `--config.FIELD=VALUE` overrides any field from the command line.
