"""Distill-CF -> sequential adapter -> SASRec on a planted Markov chain (seconds).

Run:   python -m experiments.run --config=configs/distill_to_sasrec_quick.py
Expect: about a minute on a 2-core CPU; the adapted summary of 10 % of the users
trains SASRec to well above popularity.
"""

from configs import sasrec_quick


def get_config(arg=None):
    config = sasrec_quick.get_config(arg)
    config.method = "distill_to_sequential"
    # Distill-CF on the set view: 10 % of the 600 users, a short run.
    distill = config.distill
    distill.num_samples = 20
    distill.num_steps = 20
    distill.eval_every = 10
    distill.log_every = 10
    distill.checkpoint_every = 10
    distill.batch_size = 256
    # The equal-budget baselines and the full-data reference.
    config.adapter.budgets = (0.1,)
    config.adapter.baselines = ("random_users", "longest")
    # No closed-form floors in this job.
    config.sequential.floors = ()
    return config
