"""Distil the built-in synthetic dataset, then train ∞-AE and EASE three ways.

Run:   python -m experiments.run --config=configs/quickstart.py
Data:  the built-in power-law generator (2,000 users x 1,000 items; no download).
Does:  Distill-CF learns 40 synthetic users (2 % of the users); ∞-AE and EASE are
       then trained on the full data, on the summary and on 40 random users, and
       a table prints their test metrics, fit times and speed-ups (also in
       results.json under "compare" and in compare.png). 27 s on a
       2-core CPU.
"""

from configs import base


def get_config(arg=None):
    config = base.get_config(arg)
    config.method = "distill_cf"
    distill = config.distill
    distill.num_users = 40
    # Draws per synthetic user: the real users hold about 30 training items.
    distill.num_samples = 30
    distill.num_steps = 60
    distill.eval_every = 10
    distill.log_every = 10
    distill.checkpoint_every = 20
    distill.batch_size = 500
    distill.compare = ("infinite_ae", "ease")
    return config
