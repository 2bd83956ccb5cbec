"""Default `config.distill` section (Distill-CF, `experiments/jobs/distill_cf.py`).

Defaults are the original Distill-CF code's default hyper-parameters (its
`hyper_params.py`) with the library's corrections: γ distinct draws (quirk 16) and the
initialisation kept as a candidate (quirk 15). The quirks of the original code, with
these numbers: docs/original_code.md.
"""

import ml_collections
from ml_collections import config_dict


def get_section() -> ml_collections.ConfigDict:
    distill = ml_collections.ConfigDict()
    # S, the number of synthetic users in the summary (the original's user_support).
    distill.num_users = 500
    # Initial logits: random_users (the original) | head_users | random_interactions
    # (rows from the baselines of the same name) | random_noise (N(0, 1) logits).
    distill.init = "random_users"
    # Initial logits = init_scale * the chosen binary rows (original: 1).
    distill.init_scale = 1.0
    # Gumbel-softmax temperature τ (original default 10; its grid used 0.3-5).
    distill.temperature = 10.0
    # γ, Gumbel-softmax draws summed per synthetic user (sets the row mass).
    distill.num_samples = 200
    # Draws actually computed per step; the sum is rescaled by num_samples/num_draws
    # (an unbiased estimate, see sampling.sample_synthetic_users). 0 means num_samples.
    distill.num_draws = 0
    # Draws computed for the validated sample (the candidate kept as the summary);
    # 0 means num_samples (exact). Forward only, so cheaper than a training step.
    distill.eval_num_draws = 0
    # c, weight of the cardinality term (mean synthetic degree / mean real degree).
    distill.cardinality_reg = 1e-3
    # Adam learning rate (traced through optax.inject_hyperparams).
    distill.learning_rate = 0.04
    # Cosine decay of the learning rate to lr_final_fraction * learning_rate over
    # this many steps; 0 keeps it constant (the original).
    distill.lr_decay_steps = 0
    # Final learning rate as a fraction of learning_rate (with lr_decay_steps > 0).
    distill.lr_final_fraction = 0.0
    # Maximum number of outer steps.
    distill.num_steps = 500
    # Real users per step, streamed from the sparse train matrix; -1 = all users.
    distill.batch_size = -1
    # Validate every this many steps (the original: 25).
    distill.eval_every = 25
    # Extra validation steps besides the multiples of eval_every (the original also
    # validated every log_freq = 40 steps).
    distill.eval_steps = ()
    # Stop when this many steps passed since the best validation (original: 150).
    distill.patience = 150
    # Ridge grid re-searched at every validation (relative λ; the Distill-CF grid).
    distill.reg_grid = (1e-5, 1e-3, 0.1, 1.0, 5.0, 50.0)
    # λ in the training loss: reselect_on_validation (original: the latest
    # validation's best λ, starting from the initialisation's) | fixed (= reg).
    distill.reg_schedule = "reselect_on_validation"
    # Validation metric that re-selects the training λ (the original: HR@100); the
    # kept summary and the final λ follow config.model.select_metric.
    distill.reg_select_metric = "hr@100"
    # λ for reg_schedule = fixed.
    distill.reg = 1.0
    # Keep the initialisation as a candidate for the kept summary (fixes quirk 15;
    # False reproduces the original).
    distill.include_init_candidate = True
    # Kernel of the inner learner during distillation; None fields inherit
    # config.model.kernel (the kernel used to evaluate the summary).
    distill.kernel = ml_collections.ConfigDict()
    distill.kernel.kind = config_dict.placeholder(str)
    distill.kernel.depth = config_dict.placeholder(int)
    distill.kernel.w_std = config_dict.placeholder(float)
    distill.kernel.b_std = config_dict.placeholder(float)
    # Ridge grid for the final ∞-AE trained on the summary (λ picked on val HR@100).
    distill.eval_reg_grid = (1e-5, 1e-3, 0.1, 1.0, 5.0, 50.0)
    # PRNG implementation of the JAX keys: threefry2x32 | rbg | unsafe_rbg.
    distill.prng_impl = "threefry2x32"
    # Log progress (absl + metrics.jsonl) every this many steps.
    distill.log_every = 10
    # Checkpoint every this many steps (and at every validation).
    distill.checkpoint_every = 25
    # Discrete exports stored in distilled.npz: sample | topk | threshold.
    distill.export_modes = ("sample", "topk", "threshold")
    # The export written to distilled.inter / distilled.csv and counted in `summary`.
    distill.export_primary = "sample"
    # Items per user for topk (0: round(row sum of the continuous sample)).
    distill.topk_k = 0
    # t for the threshold export.
    distill.threshold = 0.5
    # Baselines at the same user budget also evaluated on test:
    # random_users | head_users | random_interactions.
    distill.baselines = ()
    # Models trained on the full data, on the summary and on as many random users,
    # with fit times and speed-ups (a table, results["compare"], compare.png):
    # infinite_ae | ease | multvae | bprmf | lightgcn. BPR-MF and LightGCN train
    # with config.dconrec.eval_settings.<model> and distill.bpr below.
    distill.compare = ()
    # BPR-MF / LightGCN in the comparison: trained on a summary's (or random users')
    # rows, they score the real users by fold-in (`adapters.foldin`), with early
    # stopping on the real users' validation nDCG@10 (histories: the training
    # split; at test: training + validation, the test queries of every model).
    distill.bpr = bpr = ml_collections.ConfigDict()
    # Summary -> BPR rows (`foldin.summary_rows`): global_topk (the summary's
    # round(total mass) largest entries overall) | topk (each row's round(row
    # mass) largest entries, or distill.topk_k) | sample (distill.num_samples draws
    # from softmax(logits)) | threshold (entries >= distill.threshold).
    # global_topk trained BPR-MF best on the ML-1M summary (benchmarks/README.md).
    bpr.rows = "global_topk"
    # Early stopping: evaluate every eval_every epochs, stop after `patience`
    # evaluations without a better validation nDCG@10.
    bpr.patience = 10
    bpr.eval_every = 1
    # Fold-in ridge λ during training (early stopping), relative to trace(VᵀV)/d
    # of the item vectors; BPR-trained item vectors want a large one (on ML-1M 30
    # beat 1 by 3-4 validation nDCG@10 points).
    bpr.foldin_reg = 30.0
    # After training, the fold-in λ is chosen on the real validation items from
    # this grid (as λ of the closed-form models), and the test uses it.
    bpr.foldin_reg_grid = (0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0)
    # iALS confidence α (c_ui = 1 + α x_ui); 0 = plain ridge.
    bpr.foldin_confidence = 0.0
    # Use the fold-in λ as the ridge itself.
    bpr.foldin_absolute_reg = False
    # LightGCN ego vector of a folded-in user: ridge (solved so the final embedding
    # fits the history) | zero (propagation only).
    bpr.foldin_ego = "ridge"
    # Users per validation batch (0: all users in one batch).
    distill.val_batch_size = 0
    # Validate on this many users with validation items, a fixed random subset
    # (0: all). Keeps each validation's cost independent of the number of users.
    distill.val_users = 0
    return distill
