"""DConRec on the small built-in synthetic dataset: a smoke run.

Run:   python -m experiments.run --config=configs/dconrec_quick.py
Expect: ~35 s of CPU time on a 2-core CPU (most of it XLA compilation; wall time
varies with the load); realised size 25 % of N_tr.
"""

from configs import base


def get_config(arg=None):
    config = base.get_config(arg)
    config.method = "dconrec"
    # A small power-law dataset so every stage runs in seconds.
    config.data.synthetic.num_users = 400
    config.data.synthetic.num_items = 200
    config.data.synthetic.mean_degree = 20.0
    # RecBole-style per-user random 80/10/10 split.
    config.data.split = "random"
    dconrec = config.dconrec
    # A short outer loop with frequent checkpoints (exercises resume).
    dconrec.outer_steps = 8
    dconrec.log_every = 4
    dconrec.checkpoint_every = 4
    # An inner lr that moves the one-epoch model (see configs/dconrec_ml1m.py).
    dconrec.inner_lr = 1e-2
    # Small batches so the epochs have several steps.
    dconrec.inner_batch_size = 512
    for name in ("bprmf", "lightgcn"):
        settings = dconrec.eval_settings[name]
        # Short trainings with a larger lr.
        settings.learning_rate = 0.01
        settings.batch_size = 512
        settings.max_epochs = 10
        settings.embedding_dim = 16
    # Fewer evaluations without improvement.
    dconrec.patience = 3
    return config
