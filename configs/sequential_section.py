"""Default `config.sequential` section (`experiments/jobs/sequential.py`).

SASRec with a full softmax cross-entropy over all items (the strongest loss under
full ranking), the sizes of the SASRec paper's ML-1M setting with the commonly used
64-dimensional embeddings.
"""

import ml_collections


def get_section() -> ml_collections.ConfigDict:
    sequential = ml_collections.ConfigDict()
    # Backbone: sasrec (causal self-attention) | gru4rec.
    sequential.model = "sasrec"
    # L, the most recent items a model sees (the SASRec paper: 200 on ML-1M).
    sequential.max_len = 200
    # Item embedding / hidden size d.
    sequential.embedding_dim = 64
    # Self-attention blocks (SASRec; GRU layers for gru4rec).
    sequential.num_blocks = 2
    # Attention heads (must divide embedding_dim; SASRec only).
    sequential.num_heads = 1
    # Dropout on embeddings and sub-layer outputs (the paper: 0.2 on ML-1M).
    sequential.dropout_rate = 0.2
    # Score with the input item table (True, the paper) or a separate output table.
    sequential.shared_embeddings = True
    # Training loss: ce (full softmax) | bce (k sampled negatives, the paper with
    # k = 1) | gbce (gSASRec's calibrated BCE).
    sequential.loss = "ce"
    # k, sampled negatives per position for bce / gbce.
    sequential.num_negatives = 1
    # gBCE calibration t.
    sequential.gbce_t = 0.75
    # Adam learning rate.
    sequential.learning_rate = 1e-3
    # Training windows per batch.
    sequential.batch_size = 128
    # Repeat a small training set's windows so an epoch has at least this many
    # batches (1: never repeat). Equal-budget comparisons set it to the full data's
    # batches per epoch, so every training set gets as many updates per evaluation.
    sequential.min_batches_per_epoch = 1
    # At most this many epochs; early stopping on validation nDCG@10.
    sequential.max_epochs = 200
    # Evaluations without improvement before stopping.
    sequential.patience = 5
    # Evaluate on validation every this many epochs.
    sequential.eval_every = 2
    # Mask the user's history items when ranking (reported numbers say which).
    sequential.mask_history = True
    # Cut-offs of nDCG / Recall (10 is required: early stopping uses nDCG@10).
    sequential.ks = (10, 20)
    # Quality floors evaluated on the same split and protocol:
    # popularity | markov | ease | infinite_ae (the last two on the set view).
    sequential.floors = ("popularity", "markov", "ease", "infinite_ae")
    return sequential


def get_adapter_section() -> ml_collections.ConfigDict:
    """Default `config.adapter` (`experiments/jobs/distill_to_sequential.py`)."""
    adapter = ml_collections.ConfigDict()
    # Budgets as fractions of the real users: Distill-CF distils that many synthetic
    # users; the baselines train on that many real users.
    adapter.budgets = (0.1,)
    # Order of each synthetic user's items: random | mean_position | greedy_chain |
    # sampled_chain (the chain drawn from the real transition distribution).
    adapter.ordering = "sampled_chain"
    # Sequences per synthetic user: 1 orders the discretised row; with more, `sets`
    # says where each sequence's items come from: sampled (drawn from the continuous
    # row, each of its rounded mass) | kept (the discretised row, ordered anew).
    adapter.num_sequences = 4
    adapter.sets = "kept"
    # How a continuous summary row becomes an item set (unless sets are sampled):
    # topk (its round(row mass) most likely items) | sample | threshold (>= 0.5).
    adapter.discretize = "topk"
    # With topk, the set size of each synthetic user: mass (round(row mass), set by
    # Distill-CF's γ) | real (drawn from the real training-prefix lengths, so the
    # adapted sequences are as long as real ones).
    adapter.length = "mass"
    # Equal-budget baselines: random_users | longest | most_recent (needs
    # timestamps) real sequences.
    adapter.baselines = ("random_users", "longest", "most_recent")
    # Also train on the full data (the reference of `retention`).
    adapter.full_data = True
    return adapter
