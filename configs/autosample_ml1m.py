"""AutoSample with BPR-MF on MovieLens-1M: ratings >= 3 as positives, per-user
random 80/10/10 split (RecBole RS), full ranking with training items masked.

Ratings come from the ∞-AE hdf5 (all 1,000,209 ML-1M ratings), re-split by
`config.data.split = "random"`, as configs/dconrec_ml1m.py.

Run:   python -m experiments.run --config=configs/autosample_ml1m.py
LightGCN: --config.autosample.model=lightgcn (add "mixgcf" to the samplers).
Oracle:   --config.autosample.oracle=True (every sampler trained alone, cached).
"""

from configs import base


def get_config(arg=None):
    config = base.get_config(arg)
    config.method = "autosample"
    # Seed 2020 as RecBole.
    config.seed = 2020
    data = config.data
    data.name = "infinite_ae_ratings"
    data.path = "infinite_ae_cf/ml-1m"
    # Ratings >= 3 are positives; no k-core, no user filter.
    data.rating_threshold = 3.0
    data.min_user_interactions = 0
    data.k_core = 0
    data.split = "random"
    cfg = config.autosample
    # Adam 1e-2 with batches of 16,384: BPR-MF converges in tens of epochs on a CPU
    # (the DConRec ML-1M setting for its costlier model).
    cfg.trainer.learning_rate = 1e-2
    cfg.trainer.batch_size = 16384
    cfg.trainer.max_epochs = 100
    cfg.compare_scratch = True
    # A short search with decisive weights: 6 epochs of 6 samplers cost about
    # half of the 6 single trainings on ML-100K; at 3e-3 the weights hardly
    # leave uniform in so few steps (16,384-row batches), at 3e-2 they separate.
    cfg.search_epochs = 6
    cfg.arch_learning_rate = 3e-2
    return config
