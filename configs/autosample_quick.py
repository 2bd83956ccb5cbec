"""AutoSample on the built-in synthetic dataset: a smoke run in seconds.

Run:   python -m experiments.run --config=configs/autosample_quick.py
Expect: the chosen sampler, its weight trajectory (weights.png), test Recall@20 /
nDCG@20 of the retrained BPR-MF, and the oracle table of every sampler alone.
"""

from configs import base


def get_config(arg=None):
    config = base.get_config(arg)
    config.method = "autosample"
    # A small power-law dataset, RecBole-style per-user random 80/10/10 split.
    config.data.synthetic.num_users = 600
    config.data.synthetic.num_items = 300
    config.data.synthetic.mean_degree = 25.0
    config.data.split = "random"
    cfg = config.autosample
    # Small batches and a larger learning rate: several steps per epoch, quick
    # convergence.
    cfg.trainer.learning_rate = 1e-2
    cfg.trainer.batch_size = 1024
    cfg.trainer.max_epochs = 40
    cfg.trainer.embedding_dim = 32
    cfg.patience = 5
    cfg.samplers = ("uniform", "popularity", "dns", "in_batch")
    cfg.search_epochs = 6
    cfg.arch_learning_rate = 3e-2
    cfg.val_batch_size = 512
    cfg.compare_scratch = True
    cfg.oracle = True
    return config
