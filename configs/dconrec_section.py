"""Default `config.dconrec` section (DConRec, `experiments/jobs/dconrec.py`).

Defaults are the library's `clean` preset (CRN, mean baseline, fresh outer gradient,
exact pseudo exclusion, tail removed from the pool) with the official code's non-quirk
defaults (ρ = 0.25, K = 4, one inner epoch, batch 4096, proxy BPR-MF, pseudo minimum 5,
tail threshold 10, dim 64, reg 1e-4, patience 10, at most 300 epochs). The official
code's quirks, numbered as below, and what `preset="official_code"` reproduces:
docs/original_code.md, DConRec.
"""

import ml_collections
from ml_collections import config_dict


def _model_settings(learning_rate, batch_size, max_epochs, num_layers=3):
    settings = ml_collections.ConfigDict()
    # Adam learning rate of the model trained to convergence.
    settings.learning_rate = learning_rate
    # Rows per mini-batch.
    settings.batch_size = batch_size
    # At most this many epochs (early stopping on validation nDCG@10 usually ends
    # training earlier).
    settings.max_epochs = max_epochs
    # Embedding size d.
    settings.embedding_dim = 64
    # L2 coefficient on the batch's ego embeddings.
    settings.reg_weight = 1e-4
    # LightGCN propagation layers (ignored by BPR-MF).
    settings.num_layers = num_layers
    return settings


def get_section() -> ml_collections.ConfigDict:
    dconrec = ml_collections.ConfigDict()
    # Preset: clean (library default) | official_code (replicates DConRec quirks 1-4
    # and 6-8: also forces vr off, independent inner keys, the official budget, a
    # sampled final set, inner lr 5e-4, uniform init and the official lr schedule;
    # see OFFICIAL_OVERRIDES in experiments/settings.py).
    dconrec.preset = "clean"
    # ρ, the budget fraction.
    dconrec.budget = 0.25
    # strict: realised size (tail + original + pseudo) = ρ·N_tr; official: Σs <= ρ·N
    # with N = N_tr + N_p and the tail on top (DConRec quirk 3).
    dconrec.budget_mode = "strict"
    # Outer iterations.
    dconrec.outer_steps = 300
    # Piecewise-constant outer lr {from iteration: value}; the official effective
    # schedule (DConRec quirk 1) is 0.01 / 1e-3 / 1e-4 / 1e-5 at 0 / 70 / 140 / 210.
    dconrec.outer_lr_schedule = {"0": 0.01, "70": 1e-3, "140": 1e-4, "210": 1e-5}
    # K Bernoulli masks per outer step.
    dconrec.num_masks = 4
    # Mean baseline (the unbiased VR estimator); the official code has vr=False.
    dconrec.variance_reduction = True
    # Share init and epoch keys (shuffle, negatives) across the K inner models.
    dconrec.common_random_numbers = True
    # Projection onto the budget: exact (sort-based) | bisection.
    dconrec.projection = "exact"
    # Inner (condensation) model and its Adam lr; one epoch per mask.
    dconrec.condense_model = "bprmf"
    dconrec.inner_lr = 5e-4
    # Inner mini-batch size.
    dconrec.inner_batch_size = 4096
    # Proxy model for the pseudo-positives (trained to convergence on the full train).
    dconrec.proxy_model = "bprmf"
    # Add pseudo-positives to the pool (False: pool = training interactions only).
    dconrec.use_pseudo = True
    # Pseudo-positives per user = max(min, floor(ratio · training degree)).
    dconrec.pseudo_ratio = 0.3
    dconrec.pseudo_min_per_user = 5
    # Deviation (None = official uniform init): the share of the initial mass of s
    # put on the pseudo-positives; the rest is spread over the training candidates.
    dconrec.pseudo_share = config_dict.placeholder(float)
    # Deviation: how the training candidates' initial mass is spread: uniform
    # (official) | per_user (water-filling: every user keeps min(n_u, c) of his n_u
    # candidates in expectation; `pool.initial_probs`).
    dconrec.original_init = "uniform"
    # Users with training degree <= this are long-tail users (0 disables).
    dconrec.tail_threshold = 10
    # Final condensed set: topk (the round(budget) largest s; deterministic size) |
    # sample (one Bernoulli draw from s, as the code).
    dconrec.final_mode = "topk"
    # Models trained on the condensed / random / full data for the tables.
    dconrec.eval_models = ("bprmf", "lightgcn")
    # Per-model training settings (proxy, eval models and inner model dims).
    dconrec.eval_settings = ml_collections.ConfigDict()
    dconrec.eval_settings.bprmf = _model_settings(1e-3, 4096, 300)
    dconrec.eval_settings.lightgcn = _model_settings(1e-3, 4096, 300)
    # Directory caching the full-data fits (proxy and references) under a hash of
    # data, settings and seed, shared by runs that differ only in condensation
    # settings (None: no cache). The hash does not cover the trainer code: clear the
    # directory after changing it.
    dconrec.reference_cache = config_dict.placeholder(str)
    # Early-stopping patience in evaluations (RecBole stopping_step).
    dconrec.patience = 10
    # Test-time mask: train (RecBole full sort, DConRec) | train+val (∞-AE).
    dconrec.test_mask = "train"
    # Negative sampler of the inner training and of every trained model: uniform
    # (RecBole, DConRec) | popularity | dns | softmax_dns | in_batch | aobpr |
    # mixgcf (LightGCN only); see infinite_ae/trainers/negatives.py.
    dconrec.sampler = "uniform"
    # Log / checkpoint every this many outer steps.
    dconrec.log_every = 10
    dconrec.checkpoint_every = 10
    return dconrec
