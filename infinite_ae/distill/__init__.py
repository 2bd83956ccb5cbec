"""Distill-CF: learn a small synthetic user-item summary that ∞-AE trains on.

Modules: `core` (state, loss, update, inner learner), `validation` (cheap λ sweep
metrics), `baselines` (random users / interactions, head users at equal budget),
`coresets` (K-center and herding selection on embeddings),
`export` (binarisation and NPZ / RecBole / CSV files).
"""

from infinite_ae.distill.core import (
    DistillHParams,
    DistillSpec,
    DistillState,
    InnerLearner,
    KernelRidgeLearner,
    init_state,
    loss_fn,
    make_hparams,
    make_optimizer,
    reconstruction_loss,
    sample_support,
    update,
)

__all__ = [
    "DistillHParams",
    "DistillSpec",
    "DistillState",
    "InnerLearner",
    "KernelRidgeLearner",
    "init_state",
    "loss_fn",
    "make_hparams",
    "make_optimizer",
    "reconstruction_loss",
    "sample_support",
    "update",
]
