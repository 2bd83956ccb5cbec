"""FOSTER on planted Markov sequences with generated item texts (a couple of minutes).

Run:   python -m experiments.run --config=configs/foster_quick.py
Data:  400 users of a 60-item first-order chain (`data.name = "markov"`); each item's
       text names its most frequent successors (`item_text.successor_texts`),
       encoded by a small randomly initialised BERT (needs the `text` extra).
Shows: the pipeline end to end (expert trajectory, distillation at two budgets,
       trainings on the distilled and on equal-budget real sequences, retention);
       FOSTER-style, reconstructed from the abstract.
"""

from configs import base, foster_section


def get_config(arg=None):
    config = base.get_config(arg)
    config.method = "foster"
    config.data.name = "markov"
    config.data.synthetic.num_users = 400
    config.data.synthetic.num_items = 60
    config.data.synthetic.mean_degree = 12.0
    seq = config.sequential
    seq.model = "sasrec"
    seq.loss = "ce"
    seq.max_len = 12
    seq.embedding_dim = 32
    seq.num_blocks = 1
    seq.num_heads = 1
    seq.dropout_rate = 0.0
    seq.learning_rate = 1e-2
    seq.batch_size = 64
    seq.min_batches_per_epoch = 4
    seq.max_epochs = 30
    seq.eval_every = 2
    seq.patience = 3
    config.foster = foster = foster_section.get_section()
    foster.text_source = "generated"
    foster.text_path = ""
    foster.encoder = "small_bert"
    foster.budgets = (5, 10)
    foster.length = 12
    foster.expert_epochs = 30  # as many as the full-data training runs
    # Its first 15 epochs sit on a loss plateau (near-uniform models): start from
    # epoch 20.
    foster.anchor_start = 0.67
    foster.steps = 100
    foster.batch_size = 16
    foster.subset_size = 60
    foster.reset_every = 25
    foster.lr_theta = 1e-2
    foster.lr_prime = 1e-2
    foster.cooc_top_k = 5
    return config
