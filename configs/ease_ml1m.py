"""EASE on MovieLens-1M with the original ∞-AE split, ridge tuned on validation HR@100.

Run:   python -m experiments.run --config=configs/ease_ml1m.py
Expect: test nDCG@10 about 34.1 (λ* = 1000 in the reference measurement).
"""

from configs import infinite_ae_ml1m


def get_config(arg=None):
    config = infinite_ae_ml1m.get_config(arg)
    config.method = "ease"
    return config
