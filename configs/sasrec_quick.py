"""SASRec on a planted first-order Markov chain: a smoke run of the sequential job.

Run:   python -m experiments.run --config=configs/sasrec_quick.py
Expect: a minute on a 2-core CPU; SASRec close to the first-order Markov floor (the
true model of this data) and far above popularity.
"""

from configs import base


def get_config(arg=None):
    config = base.get_config(arg)
    config.method = "sequential"
    # 600 users over 80 items, sequences of about 20 items from a planted chain.
    config.data.name = "markov"
    config.data.synthetic.num_users = 600
    config.data.synthetic.num_items = 80
    config.data.synthetic.mean_degree = 20.0
    sequential = config.sequential
    # A small SASRec: short sequences, one block.
    sequential.max_len = 20
    sequential.embedding_dim = 32
    sequential.num_blocks = 1
    sequential.dropout_rate = 0.1
    sequential.batch_size = 64
    sequential.learning_rate = 3e-3
    sequential.max_epochs = 20
    sequential.eval_every = 2
    sequential.patience = 3
    # The closed-form floors are cheap at this size.
    sequential.floors = ("popularity", "markov", "ease", "infinite_ae")
    return config
