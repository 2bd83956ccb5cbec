"""A text-based SASRec: items enter through frozen text embeddings (flax.linen).

UniSRec-style (Hou et al., KDD 2022, the parameter-efficient variant): every item j
has a frozen text embedding t_j (e.g. all-MiniLM-L6-v2 of its title, `infinite_ae.
text`); a trainable adaptor maps it to the model's item embedding

  e_j = LayerNorm(W (t_j - b)),

which replaces SASRec's item table both at the input and in the output scores
(h_t · e_j). The sequence body is SASRec's (`sasrec.encode`). Items therefore share
statistical strength through their text, and an item seen in no training sequence
still has a usable embedding.

The text table lives in the parameters (``params["params"]["text_embedding"]``,
copied in by `init`) behind a stop-gradient, so every trainer and checkpoint treat
the model as any other while Adam leaves the table exactly unchanged (zero
gradients, no weight decay). `ItemText` carries the table in the model's (hashable,
jit-static) dataclass by its digest.

Beyond SASRec's methods (`init`, `hidden`, `output_embeddings`, `logits`,
`scores`, so `trainers.sequential` trains it unchanged), `item_embeddings(params,
items)` adapts only the given items (a subset's cost) and `hidden_from_embeddings`
runs the body on given input embeddings (soft synthetic sequences).
"""

from __future__ import annotations

import dataclasses
import hashlib

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from infinite_ae.trainers.sasrec import (
    LAYER_NORM_EPSILON,
    Block,
    NextItemScores,
    check_inputs,
    dropout_rngs,
    encode,
)
from infinite_ae.types import Array, ArrayLike, PRNGKey, PyTree


class ByDigest:
    """Hash and equality by a ``digest`` attribute (same type, same digest), so
    large array-holding model attributes are cheap, content-defined jit keys."""

    digest: str

    def __hash__(self):
        return hash(self.digest)

    def __eq__(self, other):
        return type(other) is type(self) and other.digest == self.digest


@dataclasses.dataclass(frozen=True, eq=False)
class ItemText(ByDigest):
    """Frozen item-text embeddings [I, D] (row j = item j), hashable by digest.

    Two tables are equal (and share compiled programs) iff their float32 bytes and
    shape are equal.
    """

    embeddings: np.ndarray
    digest: str = dataclasses.field(init=False)

    def __post_init__(self):
        table = np.ascontiguousarray(self.embeddings, dtype=np.float32)
        if table.ndim != 2 or table.shape[0] < 1 or table.shape[1] < 1:
            raise ValueError(f"item text embeddings must be [I, D], got {table.shape}")
        if not np.all(np.isfinite(table)):
            bad = np.flatnonzero(~np.all(np.isfinite(table), axis=1))
            raise ValueError(f"non-finite text embeddings at items {bad[:5].tolist()}")
        table.setflags(write=False)
        object.__setattr__(self, "embeddings", table)
        digest = hashlib.sha256(str(table.shape).encode() + table.tobytes())
        object.__setattr__(self, "digest", digest.hexdigest())

    @property
    def num_items(self) -> int:
        return self.embeddings.shape[0]

    @property
    def dim(self) -> int:
        return self.embeddings.shape[1]


class _TextSASRecNet(nn.Module):
    num_items: int
    text_dim: int
    max_len: int
    embedding_dim: int
    num_blocks: int
    num_heads: int
    ffn_dim: int
    dropout_rate: float

    def setup(self):
        self.text_embedding = self.param(
            "text_embedding", nn.initializers.zeros, (self.num_items, self.text_dim)
        )
        self.setup_body()

    def setup_body(self):
        """Everything but the item-text source (shared with subclasses)."""
        init = nn.initializers.glorot_uniform()
        self.text_bias = self.param(
            "text_bias", nn.initializers.zeros, (self.text_dim,)
        )
        self.adaptor = nn.Dense(self.embedding_dim, use_bias=False)
        self.adaptor_norm = nn.LayerNorm(epsilon=LAYER_NORM_EPSILON)
        self.position_embedding = nn.Embed(
            self.max_len, self.embedding_dim, embedding_init=init
        )
        self.blocks = [
            Block(self.num_heads, self.ffn_dim, self.dropout_rate)
            for _ in range(self.num_blocks)
        ]
        self.embedding_dropout = nn.Dropout(self.dropout_rate)
        self.final_norm = nn.LayerNorm(epsilon=LAYER_NORM_EPSILON)

    def item_text(self, items):
        """[..., D] text vectors of 0-based `items` (the frozen table's rows)."""
        return jax.lax.stop_gradient(self.text_embedding)[items]

    def item_embeddings(self, items):
        """[..., d] adapted embeddings of 0-based `items` (only those rows)."""
        text = self.item_text(items)
        bias = self.text_bias.reshape((1,) * (text.ndim - 1) + (-1,))
        return self.adaptor_norm(self.adaptor(text - bias))

    def output_table(self):
        return self.item_embeddings(jnp.arange(self.num_items))

    def __call__(self, inputs, deterministic: bool = True):
        valid = inputs > 0
        x = self.item_embeddings(jnp.maximum(inputs - 1, 0))
        return encode(self, x, valid, deterministic)

    def from_embeddings(self, x, valid, deterministic: bool = True):
        return encode(self, x, valid, deterministic)


@dataclasses.dataclass(frozen=True)
class TextSASRec(NextItemScores):
    """SASRec whose item embeddings are adapted frozen text embeddings.

    Attributes:
      text: `ItemText`, the [I, D] frozen table (I items).
      max_len: L_max, the longest input.
      embedding_dim: d.
      num_blocks, num_heads, ffn_dim, dropout_rate: as `SASRec`.

    >>> import jax, jax.numpy as jnp, numpy as np
    >>> text = ItemText(np.random.default_rng(0).normal(size=(5, 12)))
    >>> model = TextSASRec(text, max_len=4, embedding_dim=8, num_heads=2)
    >>> params = model.init(jax.random.key(0))
    >>> model.scores(params, jnp.array([[0, 0, 3, 1]])).shape
    (1, 5)
    """

    text: ItemText
    max_len: int
    embedding_dim: int = 64
    num_blocks: int = 2
    num_heads: int = 1
    ffn_dim: int | None = None
    dropout_rate: float = 0.2
    name = "text_sasrec"
    frozen_params = ("text_embedding",)
    """Top-level parameters behind a stop-gradient (never trained)."""

    def __post_init__(self):
        if self.embedding_dim % self.num_heads:
            raise ValueError(
                f"num_heads {self.num_heads} must divide embedding_dim "
                f"{self.embedding_dim}"
            )
        if self.max_len < 1:
            raise ValueError("max_len must be positive")

    @property
    def num_items(self) -> int:
        return self.text.num_items

    def body_fields(self) -> dict:
        """The network fields every text-based SASRec shares."""
        return dict(
            num_items=self.text.num_items,
            text_dim=self.text.dim,
            max_len=self.max_len,
            embedding_dim=self.embedding_dim,
            num_blocks=self.num_blocks,
            num_heads=self.num_heads,
            ffn_dim=self.ffn_dim or self.embedding_dim,
            dropout_rate=self.dropout_rate,
        )

    @property
    def net(self) -> _TextSASRecNet:
        return _TextSASRecNet(**self.body_fields())

    def init(self, init_key: PRNGKey) -> PyTree:
        """Fresh parameters with the text table copied in; the adaptor's bias b
        starts at the table's mean (centring, as whitening does)."""
        dummy = jnp.ones((1, self.max_len), jnp.int32)
        params = self.net.init(init_key, dummy)
        table = jnp.asarray(self.text.embeddings)
        inner = {**params["params"], "text_embedding": table}
        inner["text_bias"] = jnp.mean(table, axis=0)
        return {**params, "params": inner}

    def hidden(
        self, params: PyTree, inputs: ArrayLike, *, dropout_key: PRNGKey | None = None
    ) -> Array:
        """Per-position hidden states h_t, as `SASRec.hidden`."""
        inputs = check_inputs(inputs, self.max_len)
        deterministic, rngs = dropout_rngs(dropout_key)
        return self.net.apply(params, inputs, deterministic, rngs=rngs)

    def hidden_from_embeddings(
        self,
        params: PyTree,
        embeddings: Array,
        valid: Array,
        *,
        dropout_key: PRNGKey | None = None,
    ) -> Array:
        """Hidden states of given input embeddings [B, L, d] (e.g. mixtures of
        `item_embeddings` under soft synthetic sequences); `valid` [B, L] bool
        marks the real, right-aligned positions."""
        deterministic, rngs = dropout_rngs(dropout_key)
        return self.net.apply(
            params,
            embeddings,
            valid,
            deterministic,
            rngs=rngs,
            method=_TextSASRecNet.from_embeddings,
        )

    def item_embeddings(self, params: PyTree, items: ArrayLike) -> Array:
        """[..., d] adapted embeddings of 0-based `items`: only their rows of the
        text table go through the adaptor."""
        items = jnp.asarray(items, jnp.int32)
        return self.net.apply(params, items, method=_TextSASRecNet.item_embeddings)

    def output_embeddings(self, params: PyTree) -> Array:
        """[I, d] adapted item table e_j (inputs and scores share it)."""
        return self.net.apply(params, method=_TextSASRecNet.output_table)
