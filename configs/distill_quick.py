"""Distill-CF on the small built-in synthetic dataset: a smoke run in about 30 s.

Run:   python -m experiments.run --config=configs/distill_quick.py
Expect: finishes in ~30 s on a 2-core CPU; ∞-AE on 20 synthetic users roughly matches
or beats ∞-AE on 20 random real users (the initialisation, kept as a candidate).
"""

from configs import base


def get_config(arg=None):
    config = base.get_config(arg)
    config.method = "distill_cf"
    # A small power-law dataset so every stage runs in seconds.
    config.data.synthetic.num_users = 600
    config.data.synthetic.num_items = 300
    config.data.synthetic.mean_degree = 20.0
    # Fewer AUC negatives: the synthetic items are few.
    config.eval.auc_negatives = 20
    distill = config.distill
    # 20 synthetic users out of 600 (3.3 %).
    distill.num_users = 20
    # Fewer draws per synthetic user (row mass 20 of ~20 real items per user).
    distill.num_samples = 20
    # All draws computed (no rescaled estimate) to exercise the exact sampler.
    distill.num_draws = 0
    # A short run: 30 steps, validated every 10.
    distill.num_steps = 30
    distill.eval_every = 10
    distill.log_every = 5
    distill.checkpoint_every = 5
    # Mini-batches of 256 real users exercise the streaming path.
    distill.batch_size = 256
    # Baselines are cheap at this size.
    distill.baselines = ("random_users", "head_users", "random_interactions")
    return config
