"""Default `config.autosample` section (AutoSample, `experiments/jobs/autosample.py`).

AutoSample-style sampler search, reconstructed from the abstract (see
infinite_ae/autosample/__init__.py): a weighted mixture of candidate negative
samplers whose weights follow a validation loss through a one-step unroll, then
retraining with the chosen sampler from the search's parameters.
"""

import ml_collections


def get_section() -> ml_collections.ConfigDict:
    autosample = ml_collections.ConfigDict()
    # The negative-sampling model: bprmf | lightgcn (BPR loss on the set view,
    # trained as `trainer` below) | sasrec | gru4rec (sequence data; the backbone, its
    # sampled loss bce | gbce and its training, patience and metrics come from
    # config.sequential, whose model must match; weighted mode only).
    autosample.model = "bprmf"
    # BPR-MF / LightGCN training (retraining, from-scratch comparison and oracle).
    autosample.trainer = trainer = ml_collections.ConfigDict()
    # Adam learning rate (also theta's in the search).
    trainer.learning_rate = 1e-3
    # Rows per mini-batch (also in the search).
    trainer.batch_size = 4096
    # At most this many epochs (early stopping on validation nDCG@10).
    trainer.max_epochs = 300
    # Embedding size d.
    trainer.embedding_dim = 64
    # L2 coefficient on the batch's ego embeddings.
    trainer.reg_weight = 1e-4
    # LightGCN propagation layers (ignored by BPR-MF).
    trainer.num_layers = 3
    # Evaluations without improvement before stopping.
    autosample.patience = 10
    # Candidate samplers (infinite_ae/trainers/negatives.py): uniform | popularity |
    # dns | softmax_dns | in_batch | aobpr | mixgcf (LightGCN only).
    autosample.samplers = (
        "uniform",
        "popularity",
        "dns",
        "softmax_dns",
        "in_batch",
        "aobpr",
    )
    # popularity: q(j) ∝ pop(j)^gamma.
    autosample.popularity_gamma = 0.75
    # dns, softmax_dns, mixgcf: uniform candidates scored per row.
    autosample.num_candidates = 16
    # softmax_dns: temperature of the softmax over the candidates' scores.
    autosample.softmax_temperature = 1.0
    # aobpr: the geometric rank scale as a fraction of the items.
    autosample.aobpr_rank_scale = 0.05
    # Search: weighted (annealed, hypergradient) | bandit (EXP3, one sampler per
    # epoch, rewarded by the validation nDCG@10 gain).
    autosample.mode = "weighted"
    # Search epochs.
    autosample.search_epochs = 10
    # Adam learning rate of the sampler logits (weighted search).
    autosample.arch_learning_rate = 3e-3
    # Temperature of alpha = softmax(a / T), annealed geometrically start -> end.
    autosample.temperature_start = 1.0
    autosample.temperature_end = 0.2
    # Unroll step size xi of the hypergradient (0: the model's learning rate).
    autosample.xi = 0.0
    # The validation loss the weights follow: top_bpr (the validation item against
    # the 20 items the model ranks highest, training items excluded: top-heavy like
    # the metrics) | softmax (full-catalogue cross-entropy, which favours uniform
    # negatives).
    autosample.val_objective = "top_bpr"
    # Validation rows per search step.
    autosample.val_batch_size = 1024
    # The weights averaged over this last fraction of the search select the sampler.
    autosample.select_fraction = 0.3
    # EXP3 exploration rate and the nDCG@10 points that move the reward 0.5 -> 1.
    autosample.bandit_gamma = 0.2
    autosample.bandit_reward_scale = 1.0
    # Retraining starts from: search (the search's parameters) | scratch.
    autosample.retrain_init = "search"
    # Also retrain from scratch with the chosen sampler, for the comparison.
    autosample.compare_scratch = False
    # Also train every sampler alone (the exhaustive oracle; S trainings, each
    # cached under <workdir>/oracle as it finishes).
    autosample.oracle = False
    # Directory of the oracle's cached single-sampler trainings ("" = <workdir>/
    # oracle); entries are keyed by data, model, trainer, sampler and seed, so
    # runs that differ only in search settings share them.
    autosample.oracle_cache = ""
    # Test-time mask: train (RecBole full sort) | train+val (∞-AE).
    autosample.test_mask = "train"
    # Ranking cut-offs of the reported metrics (10 drives early stopping).
    autosample.ks = (10, 20)
    return autosample
