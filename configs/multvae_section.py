"""Default `config.multvae`: Mult-VAE (`infinite_ae/trainers/multvae.py`).

Read by the multvae job and by Distill-CF's comparison (`distill.compare`).
"""

import ml_collections


def get_section() -> ml_collections.ConfigDict:
    multvae = ml_collections.ConfigDict()
    # The paper's network: [I] -> hidden -> latent (mean, log-var.) -> hidden -> [I].
    multvae.hidden = 600
    multvae.latent = 200
    # Dropout on the L2-normalised input row.
    multvae.dropout_rate = 0.5
    # AdamW (weight decay 0: plain Adam, as the paper's public ports).
    multvae.learning_rate = 1e-3
    multvae.weight_decay = 0.0
    # Rows per batch, made smaller for small training sets so that an epoch
    # takes at least `min_batches_per_epoch` updates (a 500-user summary: 10
    # batches of 50; one batch of 500 leaves it under-trained).
    multvae.batch_size = 500
    multvae.min_batches_per_epoch = 10
    # β = min(anneal_cap, updates / total_anneal_steps).
    multvae.anneal_cap = 0.2
    multvae.total_anneal_steps = 200_000
    # Early stopping on validation `config.model.select_metric`.
    multvae.max_epochs = 200
    multvae.patience = 10
    multvae.eval_every = 1
    return multvae
