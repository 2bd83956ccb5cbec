"""A bag-of-words text encoder: TF-IDF word weights, randomly projected to `dim`.

For machines without the MiniLM weights; the same `TextEncoder` interface
(`text.encoder`). A text's words are the maximal runs of Unicode word characters
(`\\w+`) of its lower-cased NFKC form. With term counts c_w and inverse document
frequencies idf_w (1 unless `fit_idf` was called), the embedding is

  e = normalise(Σ_w (1 + ln c_w) · idf_w · r_w),   r_w ~ N(0, I_dim / dim),

the sublinear TF-IDF vector (Salton & Buckley 1988; scikit-learn's
`sublinear_tf`, smooth idf_w = ln((1 + n) / (1 + df_w)) + 1) times a Gaussian
random projection (Johnson-Lindenstrauss), so inner products approximate the
cosine similarity of the TF-IDF vectors. r_w is drawn from a generator seeded by
(seed, BLAKE2b hash of w): deterministic across processes and machines, with no
vocabulary or [vocabulary, dim] matrix to store. A text with no word embeds as the
normalised r of a reserved token, one fixed unit vector.
"""

from __future__ import annotations

import collections
import hashlib
import math
import re
import unicodedata
from collections.abc import Mapping, Sequence

import numpy as np

from infinite_ae.text.encoder import check_texts, digest

_WORD = re.compile(r"\w+")
_EMPTY = "\x00empty"
"""The reserved token of texts without words (no text word contains NUL)."""


def split_words(text: str) -> list[str]:
    """The words of a text: runs of `\\w` in its lower-cased NFKC form.

    >>> split_words("Crème-Brûlée, 2 x 50ml!")
    ['crème', 'brûlée', '2', 'x', '50ml']
    """
    return _WORD.findall(unicodedata.normalize("NFKC", text).lower())


def _token_seed(token: str) -> int:
    return int.from_bytes(
        hashlib.blake2b(token.encode(), digest_size=8).digest(), "little"
    )


class BagOfWordsEncoder:
    """Sublinear TF-IDF word counts, randomly projected and L2-normalised.

    Args:
      dim: output dimension.
      seed: of the random projection (with the word's hash).
      idf: word -> inverse document frequency (from `fit_idf`); None weighs every
        word 1.
      default_idf: the weight of words missing from `idf`.

    >>> encoder = BagOfWordsEncoder(dim=16, seed=0)
    >>> out = encoder.encode(["red glass beaker", "glass beaker, red", ""])
    >>> out.shape, bool(np.allclose(out[0], out[1]))
    ((3, 16), True)
    """

    def __init__(
        self,
        *,
        dim: int = 384,
        seed: int = 0,
        idf: Mapping[str, float] | None = None,
        default_idf: float = 1.0,
    ):
        if dim < 1 or seed < 0:
            raise ValueError(f"dim must be positive and seed >= 0, got {dim}, {seed}")
        self._dim, self.seed = dim, seed
        self.idf = dict(idf or {})
        self.default_idf = float(default_idf)
        self._vectors: dict[str, np.ndarray] = {}

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def identity(self) -> str:
        """Digest of the class, dim, seed and idf weights."""
        idf = ";".join(f"{word}={value!r}" for word, value in sorted(self.idf.items()))
        return digest(
            type(self).__name__,
            str(self.dim),
            str(self.seed),
            repr(self.default_idf),
            idf,
        )

    def fit_idf(self, corpus: Sequence[str]) -> BagOfWordsEncoder:
        """A copy weighing words by smooth idf = ln((1 + n) / (1 + df)) + 1.

        Args:
          corpus: n texts (e.g. every item text of a catalogue); df_w counts the
            texts that contain w. Unseen words get df = 0.
        """
        corpus = check_texts(corpus)
        counts = collections.Counter()
        for text in corpus:
            counts.update(set(split_words(text)))
        n = len(corpus)
        idf = {word: math.log((1 + n) / (1 + df)) + 1 for word, df in counts.items()}
        return BagOfWordsEncoder(
            dim=self.dim, seed=self.seed, idf=idf, default_idf=math.log(1 + n) + 1
        )

    def _vector(self, token: str) -> np.ndarray:
        vector = self._vectors.get(token)
        if vector is None:
            generator = np.random.default_rng([self.seed, _token_seed(token)])
            vector = generator.standard_normal(self.dim) / math.sqrt(self.dim)
            self._vectors[token] = vector
        return vector

    def _embed(self, text: str) -> np.ndarray:
        counts = collections.Counter(split_words(text))
        if not counts:
            vector = self._vector(_EMPTY)
        else:
            vector = np.zeros(self.dim)
            for word, count in sorted(counts.items()):
                weight = (1 + math.log(count)) * self.idf.get(word, self.default_idf)
                vector += weight * self._vector(word)
        return vector / np.linalg.norm(vector)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embeds texts one by one (in float64, returned as float32).

        Args:
          texts: n strings.

        Returns:
          [n, dim] float32 rows of unit L2 norm; equal texts give equal rows
          whatever else is in the batch.
        """
        texts = check_texts(texts)
        out = np.zeros((len(texts), self.dim), np.float32)
        for row, text in enumerate(texts):
            out[row] = self._embed(text)
        return out
