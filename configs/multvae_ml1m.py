"""Mult-VAE on MovieLens-1M with the original ∞-AE split.

Run:   python -m experiments.run --config=configs/multvae_ml1m.py
Data:  as configs/infinite_ae_ml1m.py.
Expect: test nDCG@10 at least the ∞-AE paper's 22.14 for Mult-VAE; the kept epoch
is chosen on validation nDCG@10.
To train Mult-VAE on a Distill-CF summary against random users of the same
budget, run configs/distill_ml1m.py with --config.distill.compare='("multvae",)'.
"""

from configs import base


def get_config(arg=None):
    config = base.get_config(arg)
    config.method = "multvae"
    config.data.name = "movielens"
    config.data.variant = "ml-1m"
    config.model.select_metric = "ndcg@10"
    return config
