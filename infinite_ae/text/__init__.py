"""Item-text encoders: a JAX BERT forward pass (all-MiniLM-L6-v2), bag of words,
and a disk cache of embeddings. `tokenizers` and `safetensors` (the `text` extra)
are needed only by the BERT encoder, and imported on first use."""

from infinite_ae.text import bert, tokenization, weights
from infinite_ae.text.bag_of_words import BagOfWordsEncoder, split_words
from infinite_ae.text.bert import BertConfig, embed_tokens, init_params
from infinite_ae.text.cache import cache_path, cached_encode
from infinite_ae.text.encoder import (
    BertTextEncoder,
    TextEncoder,
    load_minilm,
    random_bert_encoder,
)
from infinite_ae.text.weights import MINILM_INSTALL, MissingWeightsError

__all__ = [
    "MINILM_INSTALL",
    "BagOfWordsEncoder",
    "BertConfig",
    "BertTextEncoder",
    "MissingWeightsError",
    "TextEncoder",
    "bert",
    "cache_path",
    "cached_encode",
    "embed_tokens",
    "init_params",
    "load_minilm",
    "random_bert_encoder",
    "split_words",
    "tokenization",
    "weights",
]
