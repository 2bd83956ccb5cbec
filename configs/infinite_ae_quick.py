"""∞-AE on the built-in synthetic dataset: no download, about 10 s on a laptop CPU.

Run:   python -m experiments.run --config=configs/infinite_ae_quick.py
"""

from configs import base


def get_config(arg=None):
    return base.get_config(arg)
