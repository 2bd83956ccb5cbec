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
# # Sequential recommendation: SASRec, and distilled users as training sequences
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/infinite-ae/infinite_ae/blob/main/notebooks/04_sequential.ipynb)
#
# SASRec (causal self-attention over a user's recent items, full-softmax
# cross-entropy) on sequences sampled from a planted first-order Markov chain, where
# the true next-item distribution is known. Then the bridge from set-based
# distillation to sequential models: Distill-CF summarises the users' item *sets*,
# and the adapter (`infinite_ae/adapters/sequential.py`) orders each synthetic
# user's items with the real item-to-next-item transitions, so SASRec can train on
# the summary (`configs/distill_to_sasrec_quick.py` runs the same flow).

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
# ## Sizes and the planted chain
#
# `full` is `configs/sasrec_quick.py` (600 users over 80 items, sequences of about 20
# items; about a minute on a 2-core CPU for both jobs); `ci` shrinks the data, the
# model and the runs so the notebook tests execute it in seconds (its numbers mean
# little).
#
# `make_markov_sequences` gives every item four planted successors with peaked
# Dirichlet weights (plus a 5 % uniform jump), samples each user's sequence from the
# chain and splits it leave-one-out: the last item is the test item, the one before
# it the validation item. The jobs below generate the same data from the config.

# %%
import pathlib

import numpy as np

from configs import distill_to_sasrec_quick, sasrec_quick
from experiments import pipeline
from infinite_ae import data as data_lib
from infinite_ae.adapters import sequential as adapter_lib

SCALE = os.environ.get("INFINITE_AE_NOTEBOOK_SCALE", "full")
if SCALE not in ("full", "ci"):
    raise ValueError(f"INFINITE_AE_NOTEBOOK_SCALE={SCALE!r}; valid: full, ci")
WORKDIR = pathlib.Path("runs") / f"04_sequential_{SCALE}"


def scaled(config):
    """``config`` locked, with the ci sizes when SCALE is "ci"."""
    config.lock()  # a misspelt field raises instead of adding a new one
    if SCALE == "ci":
        config.data.synthetic.update(num_users=200, num_items=40, mean_degree=12.0)
        # One batch holds every training window, so all training sets share one
        # compiled epoch.
        config.sequential.update(
            max_len=12, embedding_dim=16, batch_size=256, max_epochs=12, eval_every=2
        )
    return config


sasrec_config = scaled(sasrec_quick.get_config())
if SCALE == "ci":
    sasrec_config.sequential.floors = ("popularity", "markov")
synthetic = sasrec_config.data.synthetic
sequences, transition = data_lib.make_markov_sequences(
    synthetic.num_users,
    synthetic.num_items,
    mean_length=synthetic.mean_degree,
    seed=sasrec_config.seed,
)
print(sequences.summary())
for user in range(3):
    print(
        f"user {user}: prefix {sequences.prefix(user).tolist()}, "
        f"validation {sequences.val_items[user]}, test {sequences.test_items[user]}"
    )
top = np.sort(transition, axis=1)[:, ::-1]
print(
    f"the chain: an item's likeliest successor has probability {top[:, 0].mean():.2f} "
    f"on average, its four planted ones {top[:, :4].sum(1).mean():.2f}"
)

# %% [markdown]
# ## SASRec on the planted chain
#
# The sequential job (`configs/sasrec_quick.py`): SASRec trained with early stopping
# on validation nDCG@10, then tested with full ranking over all items (history items
# masked), next to quality floors on the same split: popularity and the first-order
# Markov chain estimated from the training prefixes (the true model family of this
# data), and at `full` EASE and ∞-AE on the set view.

# %%
sasrec = pipeline.run(sasrec_config, WORKDIR / "sasrec", overwrite=True)
assert sasrec["data"]["checksum"] == sequences.checksum()  # the same data as above

# %%
print(f"{'model':<12}{'nDCG@10':>9}{'Recall@10':>11}")
rows = {"sasrec": sasrec["test"], **sasrec["floors"]}
for name, test in rows.items():
    print(f"{name:<12}{test['ndcg@10']:>9.2f}{test['recall@10']:>11.2f}")

# %% [markdown]
# ## Inside the adapter: ordering an item set
#
# A Distill-CF row is an item set; SASRec needs an order. `sequence_stats` collects
# the real training prefixes' first items, mean relative positions and
# item-to-next-item transition counts; `order_items` orders a set by one of
# `adapter_lib.ORDERINGS`. On this data the planted chain says how plausible an
# order is: the mean log-probability of its transitions under the true chain. Here
# real users' item sets (repeats dropped) are ordered each way and scored.

# %%
stats = adapter_lib.sequence_stats(sequences)
rng = np.random.default_rng(0)


def first_occurrences(items):
    return items[np.sort(np.unique(items, return_index=True)[1])]


def log_likelihood(order):
    return float(np.mean(np.log(transition[order[:-1], order[1:]])))


item_sets = [first_occurrences(sequences.prefix(u)) for u in range(sequences.num_users)]
item_sets = [s for s in item_sets if s.size >= 3]
scores = {"real order": [log_likelihood(s) for s in item_sets]}
for ordering in adapter_lib.ORDERINGS:
    scores[ordering] = [
        log_likelihood(
            adapter_lib.order_items(np.sort(s), ordering=ordering, stats=stats, rng=rng)
        )
        for s in item_sets
    ]
print(f"mean log-probability per transition ({len(item_sets)} real item sets):")
for name, values in scores.items():
    print(f"  {name:<14}{np.mean(values):7.3f}")
print(f"  {'uniform':<14}{np.log(1 / sequences.num_items):7.3f}")
example = item_sets[0]
print(f"\nset {np.sort(example).tolist()}")
print(f"real order:    {example.tolist()}")
chain = adapter_lib.order_items(
    np.sort(example), ordering="sampled_chain", stats=stats, rng=rng
)
print(f"sampled chain: {chain.tolist()}")

# %% [markdown]
# ## Distilled users as SASRec training sequences
#
# The job of `configs/distill_to_sasrec_quick.py`: Distill-CF distils 10 % of the
# users from the set view of the training prefixes; the adapter turns each synthetic
# user into four sequences (`sets="kept"`: the row's top items, each time ordered by
# a `sampled_chain`); SASRec trains on them and is validated and tested on the real
# users' next items. The same SASRec trains on as many real users' sequences (the
# equal-budget baselines) and on the full data, the reference of `retention`.

# %%
adapted_config = scaled(distill_to_sasrec_quick.get_config())
if SCALE == "ci":
    adapted_config.distill.update(
        num_samples=12,
        num_steps=4,
        eval_every=2,
        log_every=2,
        checkpoint_every=4,
        batch_size=100,
        reg_grid=(1e-3, 1.0),
        eval_reg_grid=(1e-3, 1.0),
    )
    adapted_config.adapter.baselines = ("random_users",)
adapted = pipeline.run(adapted_config, WORKDIR / "distill_to_sasrec", overwrite=True)

# %%
budget = adapted["per_budget"][0]
print(
    f"{budget['num_users']} synthetic users ({budget['fraction']:.0%} of the users) "
    f"-> {budget['adapted_sequences']} sequences of mean length "
    f"{budget['adapted_mean_length']:.1f}"
)
trained = {
    "full data": adapted["full_data"],
    "distilled": budget["distilled"],
    **budget["baselines"],
}
full_ndcg = adapted["full_data"]["test"]["ndcg@10"]
print(f"{'SASRec trained on':<18}{'sequences':>10}{'nDCG@10':>9}{'retention':>11}")
for name, record in trained.items():
    ndcg = record["test"]["ndcg@10"]
    print(
        f"{name:<18}{record['train_sequences']:>10}{ndcg:>9.2f}"
        f"{ndcg / full_ndcg:>11.2f}"
    )

# %% [markdown]
# ## Text-based distillation (FOSTER)
#
# FOSTER-style distillation (reconstructed from the paper's abstract) for a
# text-based SASRec: items enter through frozen text embeddings and a trainable
# adaptor. Here every item's text names its most frequent successors (the planted
# chain has no real text) and a bag of words encodes it (`configs/foster_scientific.py`
# uses all-MiniLM-L6-v2 on Amazon Scientific's titles). An expert trained on the full
# data gives the anchors; each first-order step updates a model copy on the
# synthetic sequences, another on real data, and the synthetic logits, on an item
# subset; the copies go back to an anchor every few steps. The distilled sequences
# then train the model from scratch, beside as many random and longest real ones.

# %%
from configs import foster_quick

foster_config = scaled(foster_quick.get_config())
foster_config.foster.encoder = "bag_of_words"  # no extra needed
if SCALE == "ci":
    foster_config.foster.update(budgets=(5,), steps=20, expert_epochs=3)
fostered = pipeline.run(foster_config, WORKDIR / "foster", overwrite=True)
full_ndcg = fostered["full_data"]["test"]["ndcg@10"]
for budget in fostered["per_budget"]:
    rows = {"FOSTER": budget["foster"], **budget["baselines"]}
    print(
        f"{budget['num_sequences']} sequences, distilled in "
        f"{budget['distill_seconds']:.1f} s "
        f"({budget['distill_step_seconds'] * 1e3:.1f} ms a step):"
    )
    for name, record in rows.items():
        ndcg = record["test"]["ndcg@10"]
        print(f"  {name:<14}nDCG@10 {ndcg:6.2f}  retention {ndcg / full_ndcg:.2f}")
