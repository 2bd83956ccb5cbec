"""BERT WordPiece tokenisation (Hugging Face `tokenizers`) and shape buckets.

Texts are tokenised to `[CLS] tokens [SEP]`, truncated to `max_length` tokens (the
special tokens included, as sentence-transformers does), and right-padded with
token 0 to a bucket length: the smallest of `MIN_LENGTH` times a power of two, or
1.5 times that, >= the longest text of the batch, or `max_length` (16, 24, 32, 48,
64, 96, 128, 192, 256: at most a third of a text's row is padding; 1,000 Amazon
Scientific item texts, 43,660 tokens, pad to 1.26 times that, 1.51 times with
powers of two alone).
Batches are padded to a power of two rows, so a jitted forward compiles once per
(rows, length) bucket: at most about log2(batch_size) * 2 log2(max_length / 16)
programs, and in practice a handful.

The `tokenizers` package is imported on first use, so the rest of `infinite_ae`
works without it (`pip install 'infinite_ae[text]'`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

MIN_LENGTH = 16
"""The shortest length bucket (shorter buckets save little and add compiles)."""

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
"""Special tokens of `wordpiece_tokenizer`, ids 0-4 in this order."""


def _tokenizers():
    try:
        import tokenizers
    except ModuleNotFoundError as error:
        raise ModuleNotFoundError(
            "text tokenisation needs the tokenizers package: pip install "
            "'infinite_ae[text]' (or pip install tokenizers)"
        ) from error
    return tokenizers


def _configure(tokenizer: Any, max_length: int) -> Any:
    """No padding (batches are padded to buckets here), truncation to max_length."""
    if max_length < 2:
        raise ValueError(f"max_length must be >= 2 ([CLS] and [SEP]), got {max_length}")
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length)
    return tokenizer


def load_tokenizer(path: str | os.PathLike[str], *, max_length: int) -> Any:
    """A `tokenizers.Tokenizer` from a `tokenizer.json`, truncating to max_length.

    The file's own padding and truncation settings are replaced.
    """
    return _configure(_tokenizers().Tokenizer.from_file(str(path)), max_length)


def wordpiece_tokenizer(words: Sequence[str], *, max_length: int) -> Any:
    """A small uncased BERT tokenizer over `words`, for random test encoders.

    Ids: `SPECIAL_TOKENS` take 0-4 and `words` (deduplicated, in order) follow;
    anything else is [UNK]. Normalisation and pre-tokenisation are BERT's.

    >>> tokenizer = wordpiece_tokenizer(["hello", "world"], max_length=8)
    >>> tokenizer.encode("Hello, world!").ids
    [2, 5, 1, 6, 1, 3]
    """
    tokenizers = _tokenizers()
    vocab = {token: index for index, token in enumerate(SPECIAL_TOKENS)}
    for word in words:
        vocab.setdefault(word, len(vocab))
    tokenizer = tokenizers.Tokenizer(
        tokenizers.models.WordPiece(vocab, unk_token="[UNK]")
    )
    tokenizer.normalizer = tokenizers.normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = tokenizers.pre_tokenizers.BertPreTokenizer()
    tokenizer.post_processor = tokenizers.processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
    )
    return _configure(tokenizer, max_length)


def bucket_sizes(
    limit: int, *, smallest: int = 1, fine: bool = False
) -> tuple[int, ...]:
    """Powers of two times `smallest` below `limit` (with `fine`, also the sizes
    halfway between them, 1.5 times a power of two), then `limit` itself.

    >>> bucket_sizes(256, smallest=16)
    (16, 32, 64, 128, 256)
    >>> bucket_sizes(256, smallest=16, fine=True)
    (16, 24, 32, 48, 64, 96, 128, 192, 256)
    >>> bucket_sizes(100, smallest=16), bucket_sizes(8, smallest=16)
    ((16, 32, 64, 100), (8,))
    """
    sizes, size = [], smallest
    while size < limit:
        sizes.append(size)
        if fine and size % 2 == 0 and size * 3 // 2 < limit:
            sizes.append(size * 3 // 2)
        size *= 2
    return (*sizes, limit)


def bucket_size(count: int, buckets: Sequence[int]) -> int:
    """The smallest bucket >= count (ValueError if none).

    >>> bucket_size(17, (16, 32, 64))
    32
    """
    for size in buckets:
        if size >= count:
            return size
    raise ValueError(f"{count} exceeds the largest bucket {max(buckets)}")


def plan_batches(
    lengths: Sequence[int], *, length_buckets: Sequence[int], batch_size: int
) -> list[tuple[np.ndarray, int]]:
    """Groups texts into batches that each pad to one length bucket.

    Texts are sorted by token count (stably) and grouped by their length bucket;
    each group is cut into batches of at most `batch_size` texts, so a short text
    is never padded to the bucket of a long one.

    Args:
      lengths: [n] token counts.
      length_buckets: ascending lengths, the last >= max(lengths).
      batch_size: the most texts per batch.

    Returns:
      (indices into `lengths`, padded length) per batch, covering each text once.

    >>> [(rows.tolist(), length) for rows, length in
    ...  plan_batches([20, 3, 40, 5, 9], length_buckets=(16, 32, 64), batch_size=2)]
    [([1, 3], 16), ([4], 16), ([0], 32), ([2], 64)]
    """
    lengths = np.asarray(lengths, np.int64)
    order = np.argsort(lengths, kind="stable")
    padded = np.array([bucket_size(count, length_buckets) for count in lengths])
    batches = []
    for length in length_buckets:
        group = order[padded[order] == length]
        for start in range(0, len(group), batch_size):
            batches.append((group[start : start + batch_size], int(length)))
    return batches


def pad_tokens(
    ids: Sequence[Sequence[int]], *, rows: int, length: int
) -> tuple[np.ndarray, np.ndarray]:
    """Right-pads token id lists into a [rows, length] batch.

    Args:
      ids: at most `rows` lists of at most `length` token ids each.
      rows: B, the padded batch size (extra rows are all padding).
      length: L, the padded length.

    Returns:
      token_ids [B, L] int32 (0 = padding) and attention_mask [B, L] int32.

    >>> token_ids, mask = pad_tokens([[2, 7, 3], [2, 3]], rows=2, length=4)
    >>> token_ids.tolist(), mask.tolist()
    ([[2, 7, 3, 0], [2, 3, 0, 0]], [[1, 1, 1, 0], [1, 1, 0, 0]])
    """
    if len(ids) > rows:
        raise ValueError(f"{len(ids)} texts do not fit a batch of {rows} rows")
    token_ids = np.zeros((rows, length), np.int32)
    mask = np.zeros((rows, length), np.int32)
    for row, tokens in enumerate(ids):
        if len(tokens) > length:
            raise ValueError(f"row {row} has {len(tokens)} tokens > length {length}")
        token_ids[row, : len(tokens)] = tokens
        mask[row, : len(tokens)] = 1
    return token_ids, mask
