"""Distill-CF on ML-1M's set view -> sequential adapter -> SASRec.

Run:   python -m experiments.run --config=configs/distill_to_sasrec_ml1m.py
Data:  ML-1M's first 2,999 users (as configs/sasrec_ml1m.py), leave-one-out by
       time; Distill-CF sees the set view of the training prefixes only.
Expect: SASRec trained on the adapted summary of 10 % of the users keeps at least
80 % of its full-data test nDCG@10 and beats the equal-budget real-sequence
baselines (random users, the longest, the most recent).
"""

from configs import distill_ml1m, sasrec_ml1m


def get_config(arg=None):
    config = sasrec_ml1m.get_config(arg)
    config.method = "distill_to_sequential"
    # Distill-CF with the ML-1M settings of configs/distill_ml1m.py; the number of
    # synthetic users comes from each budget.
    config.distill = distill_ml1m.get_config().distill
    config.model.select_metric = "ndcg@10"
    config.adapter.budgets = (0.1,)
    # Each summary row, as its round(mass) most likely items, in four orders drawn
    # from the real transition distribution (chosen on ML-100K validation nDCG@10;
    # benchmarks/README.md, "Adapter variants").
    config.adapter.ordering = "sampled_chain"
    config.adapter.num_sequences = 4
    config.adapter.sets = "kept"
    config.sequential.floors = ()
    # Every training set gets the full data's 24 batches of 128 windows per epoch
    # (2,999 users), so small budgets train for as many updates.
    config.sequential.min_batches_per_epoch = 24
    return config
