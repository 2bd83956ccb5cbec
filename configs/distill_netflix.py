"""Distill-CF on the Netflix-shaped synthetic dataset (480,189 x 17,770, 100.5M).

Run:   python -m experiments.run --config=configs/distill_netflix.py
Small: python -m experiments.run --config=configs/distill_netflix.py:small
       (5,000 users x all 17,770 items, 50 synthetic users, 10 steps: a couple of
       minutes on a 2-core CPU)
Expect: about 26 min on a 2-core CPU (generation 10-12 min, 50 steps about 4 min,
the test evaluation of all 480,189 users about 11 min); test nDCG@10 about 36 and
HR@100 about 63 for the kept summary, which is the initialisation (500 random users):
on this synthetic data the 50 steps at lr 0.2 lower validation HR@100, so these
settings show scale, not quality. The measured run: benchmarks/README.md,
"Distill-CF on the Netflix shape".

The data is generated, not downloaded: `profiles.netflix_shape` (Netflix Prize degree
and popularity distributions) through `profiles.make_shaped`, whose item calibration
makes the realised item counts follow Netflix's (docs/scaling.md). The item count
stays 17,770 in the small variant: Netflix's most popular movie has 41x the mean
count, so with fewer items it would need more interactions than there are users.

Nothing dense in the number of users is built: training steps draw `batch_size` real
users and densify only their rows; validation (`val_batch_size`) and the final
evaluation go through the users in batches. The test evaluation plans its batches
from a 1 GiB budget (`eval.budget_mb`; 2,476 users per batch at S = 500); the step
and validation batch sizes follow the same plan of docs/scaling.md (1,369 users per
Distill-CF step). Validation (and the choice of λ) uses a fixed random
subset of 20,000 users with validation items (`distill.val_users`), at the
initialisation and at the last step. The AUC part of the test evaluation keeps only
each batch's valid AUC scores (an estimated few hundred MB here).
"""

from configs import base


def get_config(arg=None):
    config = base.get_config(arg)
    config.method = "distill_cf"
    config.data.name = "synthetic"
    syn = config.data.synthetic
    # Netflix's degree / popularity distributions (experiments/datasets.py).
    syn.profile = "netflix"
    # Calibrate the item weights so the realised popularity matches Netflix's.
    syn.calibrate = True
    # All Netflix users and movies.
    syn.num_users = 480_189
    syn.num_items = 17_770
    distill = config.distill
    # μ = 500 synthetic users (0.1 % of the users), γ and τ as distill_ml1m.
    distill.num_users = 500
    distill.num_samples = 200
    distill.temperature = 10.0
    # 4 rescaled draws per step, 50 for the validated sample (as distill_ml1m).
    distill.num_draws = 4
    distill.eval_num_draws = 50
    # Adam lr 0.2, cosine-decayed to 0 over the 50 steps.
    distill.learning_rate = 0.2
    distill.num_steps = 50
    distill.lr_decay_steps = distill.num_steps
    # Real users per step, streamed from the sparse train matrix (1 GiB plan).
    distill.batch_size = 1369
    # Validation batches (0 would densify all users at once: 68 GB here).
    distill.val_batch_size = 2476
    # Validate (and pick λ) on 20,000 random users with validation items: a sweep
    # over all 480,189 users for the 6-value λ grid takes well over 20 min here.
    distill.val_users = 20_000
    # Validate at the initialisation (always) and at the last step only.
    distill.eval_every = distill.num_steps
    distill.checkpoint_every = 10
    distill.log_every = 5
    # The λ grid of distill_ml1m for training; the final fit searches it too.
    distill.reg_grid = (1e-5, 1e-3, 0.01, 0.1, 1.0, 5.0)
    distill.eval_reg_grid = (1e-5, 1e-3, 0.01, 0.1, 1.0, 5.0)
    # Test-evaluation batches planned from a 1 GiB budget; AUC negatives as the
    # original.
    config.eval.budget_mb = 1024
    config.eval.auc_negatives = 50
    if arg == "small":
        # 5,000 users, every item (see the module docstring): ~1.05M interactions.
        syn.num_users = 5_000
        distill.num_users = 50
        distill.num_samples = 50
        distill.eval_num_draws = 0
        distill.num_steps = 10
        distill.lr_decay_steps = distill.num_steps
        distill.batch_size = 512
        distill.eval_every = 5
        distill.val_batch_size = 1024
        config.eval.budget_mb = 0
        config.eval.batch_size = 1024
    elif arg is not None:
        raise ValueError(f"distill_netflix: unknown arg {arg!r}; valid: small")
    return config
