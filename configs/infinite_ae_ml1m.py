"""∞-AE on MovieLens-1M with the original ∞-AE split (the paper's setting).

Run:   python -m experiments.run --config=configs/infinite_ae_ml1m.py
Uses $INFINITE_AE_DATA/infinite_ae_cf/ml-1m when present, else downloads GroupLens
ML-1M and splits it with the same protocol (seeded).
Expect: test nDCG@10 33.39, HR@10 31.91 (λ* = 5), about 20 s on a 2-core CPU.
"""

from configs import base


def get_config(arg=None):
    config = base.get_config(arg)
    config.method = "infinite_ae"
    config.data.name = "movielens"
    config.data.variant = "ml-1m"
    return config
