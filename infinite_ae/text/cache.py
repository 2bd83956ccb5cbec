"""A disk cache of text embeddings: one `.npz` per (encoder, list of texts).

The file name is a digest of the encoder's `identity` (for a BERT encoder its
config, tokenizer, max_length and a hash of every weight; for bag of words its
dim, seed and idf) and of the texts in order. The file stores the embeddings with
both digests, which are checked on load; a file that cannot be read or does not
match is encoded again and replaced. Writes go through `io.atomic_save_npz`
(a temporary file, then `os.replace`), so concurrent writers and killed
processes never leave a partial file behind.
"""

from __future__ import annotations

import os
import pathlib
import zipfile
from collections.abc import Sequence

import numpy as np
from absl import logging

from infinite_ae import io
from infinite_ae.text.encoder import TextEncoder, check_texts, digest


def cache_path(
    encoder: TextEncoder, texts: Sequence[str], cache_dir: str | os.PathLike[str]
) -> pathlib.Path:
    """Where `cached_encode` keeps the embeddings of `texts` under `encoder`."""
    key = digest(encoder.identity, digest(*check_texts(texts)))
    return pathlib.Path(cache_dir) / f"text-{key[:32]}.npz"


def _load(path: pathlib.Path, identity: str, texts_digest: str, shape) -> np.ndarray:
    """The cached embeddings, or None if absent, unreadable or not these."""
    if not path.is_file():
        return None
    try:
        with np.load(path) as stored:
            if (
                str(stored["identity"]) == identity
                and str(stored["texts_digest"]) == texts_digest
                and stored["embeddings"].shape == shape
            ):
                return stored["embeddings"].astype(np.float32, copy=False)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
        logging.warning("text cache %s unreadable (%s); encoding again", path, error)
        return None
    logging.warning("text cache %s holds other texts or encoder; encoding again", path)
    return None


def cached_encode(
    encoder: TextEncoder,
    texts: Sequence[str],
    *,
    cache_dir: str | os.PathLike[str],
) -> np.ndarray:
    """`encoder.encode(texts)`, read from `cache_dir` when computed before.

    Args:
      encoder: any `TextEncoder`.
      texts: n strings; the cache entry is for this exact list, in this order.
      cache_dir: a directory (created if missing).

    Returns:
      [n, dim] float32, identical to what `encoder.encode(texts)` returned when
      the entry was written.

    >>> import tempfile
    >>> from infinite_ae.text.bag_of_words import BagOfWordsEncoder
    >>> encoder = BagOfWordsEncoder(dim=8)
    >>> with tempfile.TemporaryDirectory() as cache_dir:
    ...     first = cached_encode(encoder, ["a b", "c"], cache_dir=cache_dir)
    ...     again = cached_encode(encoder, ["a b", "c"], cache_dir=cache_dir)
    >>> bool((first == again).all())
    True
    """
    texts = check_texts(texts)
    identity, texts_digest = encoder.identity, digest(*texts)
    path = cache_path(encoder, texts, cache_dir)
    embeddings = _load(path, identity, texts_digest, (len(texts), encoder.dim))
    if embeddings is not None:
        logging.info("text embeddings %s read from %s", embeddings.shape, path)
        return embeddings
    embeddings = np.asarray(encoder.encode(texts), np.float32)
    io.atomic_save_npz(
        path, embeddings=embeddings, identity=identity, texts_digest=texts_digest
    )
    logging.info("text embeddings %s written to %s", embeddings.shape, path)
    return embeddings
