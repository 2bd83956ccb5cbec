"""SASRec on Amazon "Scientific" (UniSRec's pre-split files), full ranking.

Run:   python -m experiments.run --config=configs/sasrec_scientific.py
Data:  `unisrec_scientific/` (its `Scientific.*.inter` files) under the data root
       (8,442 users, 4,385 items; the files' own leave-one-out split, histories of
       at most 50 items).
Expect: a few minutes on a 2-core CPU; above the popularity and Markov floors.
"""

from configs import base


def get_config(arg=None):
    config = base.get_config(arg)
    config.method = "sequential"
    config.data.name = "sequences_recbole"
    config.data.path = "unisrec_scientific"
    sequential = config.sequential
    # Short, sparse sequences (mean training length 5): the Amazon-set settings of
    # the SASRec paper (L = 50, dropout 0.5).
    sequential.max_len = 50
    sequential.embedding_dim = 64
    sequential.num_blocks = 2
    sequential.dropout_rate = 0.5
    sequential.loss = "ce"
    sequential.learning_rate = 1e-3
    sequential.batch_size = 256
    sequential.max_epochs = 200
    sequential.eval_every = 2
    sequential.patience = 5
    return config
