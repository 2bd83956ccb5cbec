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
# # AutoSample: choosing the negative sampler by search
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/infinite-ae/infinite_ae/blob/main/notebooks/05_autosample.ipynb)
#
# Pairwise (BPR) recommenders learn from (user, positive item, negative item)
# triples, and how the negative is drawn changes what the model learns. The project
# has seven negative samplers behind one interface
# (`infinite_ae/trainers/negatives.py`):
#
# * `uniform`: a uniform non-positive item (RNS);
# * `popularity`: q(j) ∝ pop(j)^0.75 (PNS);
# * `dns`: the highest-scored of 16 uniform candidates (Zhang et al., SIGIR 2013);
# * `softmax_dns`: a draw from softmax(score / τ) over 16 uniform candidates (Shi
#   et al., WWW 2023);
# * `in_batch`: the positive item of another row of the batch;
# * `aobpr`: an item high in the ranking of a factor the user weighs (Rendle &
#   Freudenthaler, WSDM 2014);
# * `mixgcf`: a synthetic negative, per layer the positive mixed into the hardest
#   of 16 candidates (Huang et al., KDD 2021; graph models such as LightGCN only).
#
# Which one trains the best model depends on the model and the data. This notebook
#
# 1. runs the AutoSample-style search of `configs/autosample_quick.py`, which picks
#    a sampler for BPR-MF within one training run, and compares it with every
#    candidate trained alone (the exhaustive search, whose winner is the oracle);
# 2. draws negatives with each sampler under a trained model, to show that the hard
#    samplers (DNS, AOBPR) pick items the model scores higher than uniform does;
# 3. shows why the search's weights must follow a validation objective: driven by
#    the training loss, they collapse onto the easiest sampler.

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
# One switch sets every size: `full` is `configs/autosample_quick.py` (600 users ×
# 300 items, four candidate samplers; about two minutes on a 2-core CPU); `ci`
# shrinks the data, the model, the candidates and every run so the notebook tests
# execute it in seconds (its numbers mean little). Set `INFINITE_AE_NOTEBOOK_SCALE`
# before starting the kernel, or edit the line below.

# %%
import functools
import pathlib

import jax.numpy as jnp
import numpy as np
from IPython.display import Image, display

from configs import autosample_quick
from experiments import datasets, pipeline, settings
from experiments.jobs import autosample as autosample_job
from infinite_ae import autosample, trainers
from infinite_ae.trainers import negatives

SCALE = os.environ.get("INFINITE_AE_NOTEBOOK_SCALE", "full")
if SCALE not in ("full", "ci"):
    raise ValueError(f"INFINITE_AE_NOTEBOOK_SCALE={SCALE!r}; valid: full, ci")
WORKDIR = pathlib.Path("runs") / f"05_autosample_{SCALE}"

config = autosample_quick.get_config()
config.lock()  # a misspelt field below raises instead of adding a new one
if SCALE == "ci":
    config.data.synthetic.update(num_users=200, num_items=100, mean_degree=15.0)
    config.autosample.update(
        samplers=("uniform", "dns"), search_epochs=3, val_batch_size=128
    )
    config.autosample.trainer.update(max_epochs=3, batch_size=512, embedding_dim=8)
# The samplers whose draws are compared below (every one BPR-MF takes; at ci the
# two hard ones and uniform).
DEMO_SAMPLERS = (
    ("uniform", "popularity", "dns", "softmax_dns", "in_batch", "aobpr")
    if SCALE == "full"
    else ("uniform", "dns", "aobpr")
)
cfg = config.autosample
synthetic = config.data.synthetic
print(
    f"scale {SCALE}: {synthetic.num_users} users x {synthetic.num_items} items; "
    f"candidates {list(cfg.samplers)}, {cfg.search_epochs} search epochs, "
    f"every training at most {cfg.trainer.max_epochs} epochs"
)

# %% [markdown]
# ## AutoSample-style search
#
# AutoSample ("Towards Automated Negative Sampling in Implicit Recommendation",
# arXiv 2311.03526) searches over candidate samplers during one training run. Only
# its abstract is public: **everything here beyond its three components is a
# reconstruction from the abstract** (`infinite_ae/autosample/`, whose docstring
# says what is ours):
#
# * a loss-to-instance weighted mixture: every training row draws one negative
#   from each candidate sampler and the loss is Σ_s α_s L_s, α = softmax(a / T);
# * an adaptive search: the logits a follow the hypergradient of a validation loss
#   through a one-step unroll θ' = θ − ξ Σ_s α_s g_s (first order, since the loss
#   is linear in α) while T anneals from 1 to 0.2; the sampler with the largest
#   weight averaged over the last 30 % of the search is chosen;
# * retraining with the chosen sampler, starting from the search's parameters.
#
# The job (`python -m experiments.run --config=configs/autosample_quick.py`) runs
# the search and the warm retraining of BPR-MF on the built-in power-law dataset
# (split per user 80/10/10 at random), the same retraining from scratch, and the
# exhaustive search: every candidate trained alone, the best on validation nDCG@10
# being the oracle. It prints the table (validation nDCG@10, test nDCG@20 /
# Recall@20 × 100 and seconds of each training) and what AutoSample cost as a
# fraction of the exhaustive search. It runs first in this notebook, so its
# timings include all of its own compilation and none from the cells below.

# %%
results = pipeline.run(config, WORKDIR, overwrite=True)

# %% [markdown]
# The sampler weights over the search (`weights.png` in the workdir): the mean α of
# each candidate per epoch.

# %%
display(Image(filename=str(WORKDIR / "weights.png")))

# %% [markdown]
# The headline: AutoSample's test nDCG@20 against the oracle's and the median
# single sampler's, and its compute (search + retraining, compilation included)
# against the exhaustive search's (the sum of the single trainings).

# %%
info, oracle = results["autosample"], results["oracle"]
alone = {label: r["test"]["ndcg@20"] for label, r in oracle["results"].items()}
print(f"AutoSample chose {info['selected']}; the oracle is {oracle['best']}")
print(
    f"test nDCG@20: AutoSample {results['test']['ndcg@20']:.2f}, "
    f"oracle {alone[oracle['best']]:.2f}, "
    f"median single sampler {np.median(list(alone.values())):.2f}"
)
print(
    f"compute: {info['total_seconds']:.1f} s against {oracle['seconds']:.1f} s, "
    f"{oracle['autosample_over_exhaustive_seconds']:.2f} of the exhaustive search"
)

# %% [markdown]
# At this size the compute ratio says little: compiling is a large part of every
# training (the search is one larger program), and the exhaustive search's
# training of the chosen sampler reuses the step the retraining compiled (its short
# time in the table). `benchmarks/autosample_bench.py` (below) measures it on real
# datasets.
#
# ## What the samplers draw
#
# A sampler is a frozen dataclass built by `negatives.get_sampler(name,
# num_items=...)`. It says what it reads of the current model (`needs`: item ids
# only, the model's scores, or a graph model's per-layer embeddings), keeps an
# explicit state (`init_sampler_state`: the popularity CDF, AOBPR's item rankings)
# and draws with the pure `sample(key, inputs, state)`; `sampler_inputs` evaluates
# the model only for the samplers that read it. No sampler returns one of the row
# user's training positives.
#
# The model is the job's BPR-MF trained alone with uniform negatives, the oracle's
# `uniform` training above (same data, options and seed, so the same parameters).
# Each sampler draws one negative for each of 256 training rows; for each negative:
# its score under the model and its percentile among the row user's non-positive
# items (a uniform draw averages 0.5). MixGCF is left out: it mixes the layers of a
# graph model (`config.autosample.model = "lightgcn"` adds it to the candidates).

# %%
run_settings = settings.from_config(config)  # the job's typed settings
data = datasets.load(run_settings.data, seed=config.seed)
train = data.train.tocoo()
users, items = train.row.astype(np.int32), train.col.astype(np.int32)
model = trainers.get_trainer(cfg.model)(
    num_users=data.num_users,
    num_items=data.num_items,
    embedding_dim=cfg.trainer.embedding_dim,
    reg_weight=cfg.trainer.reg_weight,
)
fit = trainers.fit(
    model,
    users,
    items,
    data,
    sampler="uniform",
    **autosample_job.fit_options(run_settings.autosample),
    seed=config.seed,
)
print(
    f"BPR-MF with uniform negatives: validation nDCG@10 {fit.val['ndcg@10']:.2f} "
    f"(the oracle's: {oracle['results']['uniform']['val']['ndcg@10']:.2f})"
)

rows = np.random.default_rng(config.seed).choice(users.size, size=256, replace=False)
batch_users, batch_items = users[rows], items[rows]
excluded_keys = jnp.asarray(negatives.exclusion_keys(users, items, data.num_items))
item_counts = np.bincount(items, minlength=data.num_items)
samplers = tuple(
    negatives.get_sampler(name, num_items=data.num_items) for name in DEMO_SAMPLERS
)
states = tuple(negatives.init_sampler_state(s, item_counts, model) for s in samplers)


@functools.partial(jax.jit, static_argnums=0)
def draw(samplers, key, params, states, users, pos_items, excluded_keys):
    """One negative per row from each sampler (one compilation for all)."""
    weights = jnp.ones(users.shape, jnp.float32)
    drawn = []
    for index, (sampler, state) in enumerate(zip(samplers, states, strict=True)):
        inputs = negatives.sampler_inputs(
            model, sampler, params, None, users, pos_items, weights, excluded_keys
        )
        negative, _ = sampler.sample(jax.random.fold_in(key, index), inputs, state)
        drawn.append(negative)
    return drawn


drawn = draw(
    samplers,
    jax.random.key(config.seed),
    fit.params,
    states,
    jnp.asarray(batch_users),
    jnp.asarray(batch_items),
    excluded_keys,
)
user_emb, item_emb = (np.asarray(x) for x in model.embed(fit.params, None))
scores = user_emb[batch_users] @ item_emb.T  # [B, I]
free = ~data.train[batch_users].toarray().astype(bool)  # not a training positive
print(f"\n{'sampler':<12}{'needs':>7}{'mean score':>12}{'percentile':>12}")
positive = scores[np.arange(rows.size), batch_items]
print(f"{'(positives)':<12}{'':>7}{positive.mean():>12.3f}")
for sampler, negative in zip(samplers, drawn, strict=True):
    score = scores[np.arange(rows.size), np.asarray(negative)]
    percentile = ((scores < score[:, None]) & free).sum(1) / free.sum(1)
    print(
        f"{sampler.name:<12}{sampler.needs:>7}{score.mean():>12.3f}"
        f"{percentile.mean():>12.2f}"
    )

# %% [markdown]
# DNS keeps the best of 16 uniform candidates, so its negatives sit near the top of
# each user's ranking (percentile about 16/17). AOBPR's draws rank above uniform's
# too, less sharply: it oversamples the top of one factor the user weighs, not of
# the full score. Softmax DNS lies between DNS and uniform; popularity and in-batch
# negatives (popular items) are barely harder than uniform under this model. Hard
# negatives give larger gradients, and also more false negatives (items the user
# would like); the search weighs that trade-off on held-out items.
#
# ## The degenerate choice: weights that follow the training loss
#
# Why a validation objective? Moving the weights down the *training* loss
# (`objective="train"`: dL_train/dα_s = L_s) rewards whichever sampler gives the
# smallest loss, that is the easiest one: uniform negatives are mostly items the
# model already ranks low. Below, the job's search is run again with the same
# candidates, options and seed, only the objective changed, next to the job's own
# (validation) weights.

# %%
degenerate = autosample.search(
    model,
    users,
    items,
    data,
    samplers=autosample_job.sampler_specs(run_settings.autosample),
    **autosample_job.search_options(run_settings.autosample),
    objective="train",
    seed=config.seed,
)
trajectories = {
    "validation (the job)": np.asarray(info["trajectory"]),
    "train": degenerate.trajectory,
}
chosen = {"validation (the job)": info["selected"], "train": degenerate.selected_label}
print("weights per search epoch: " + ", ".join(degenerate.labels))
for objective, trajectory in trajectories.items():
    print(f"objective {objective}: chose {chosen[objective]}")
    for epoch, alpha in enumerate(trajectory):
        print(f"  epoch {epoch}: " + "  ".join(f"{a:.3f}" for a in alpha))

# %% [markdown]
# The training-loss weights rank the samplers by how easy their negatives are (the
# scores above): the hardest, DNS, loses its weight first and uniform ends with all
# of it, as it would on any data, so this search learns nothing about which sampler
# trains the better model. The validation weights move with what each sampler's
# step does to the loss on held-out items, and can favour a hard sampler before
# settling. Where uniform is also the oracle (as in the full run here), both
# objectives end on it, for different reasons; only the validation objective can
# end anywhere else.
#
# ## Next
#
# * `benchmarks/autosample_bench.py` is the multi-dataset comparison: for BPR-MF
#   and LightGCN (MixGCF added to its candidates) on ML-100K, Amazon Magazine,
#   Scientific and ML-1M, AutoSample against the oracle, the median single sampler
#   and the oracle sampler's seed noise, with the compute ratio. Every training is
#   cached, so the table can be filled over several runs
#   (`python benchmarks/autosample_bench.py --workroot=DIR --datasets=ml100k`);
#   `--smoke` runs it on synthetic data in about a minute.
# * `configs/autosample_ml1m.py` is the job on ML-1M; `config.autosample.mode =
#   "bandit"` swaps the weighted search for an EXP3 bandit over the samplers, and
#   `config.autosample.model = "lightgcn"` searches for LightGCN.
