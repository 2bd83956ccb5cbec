"""The randomly initialised BERT shapes the text tests share (fast compiles)."""

from infinite_ae import text

CONFIG = text.BertConfig(
    vocab_size=32,
    hidden_size=16,
    num_layers=2,
    num_heads=4,
    intermediate_size=32,
    max_positions=64,
)
