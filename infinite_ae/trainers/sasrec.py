"""SASRec: self-attentive sequential recommendation (flax.linen).

Kang & McAuley, "Self-Attentive Sequential Recommendation", ICDM 2018, Section III:
an item embedding table (row 0 = padding, so inputs are item index + 1) plus learned
position embeddings (III-A), `num_blocks` blocks of causal self-attention and a
point-wise two-layer feed-forward network (III-B), each sub-layer wrapped as
``x + Dropout(g(LayerNorm(x)))`` (III-C), a final layer norm (as the paper's code),
and the prediction ``r_{j,t} = h_t · e_j`` with the shared item embeddings (III-D);
``shared_embeddings=False`` gives a separate [I, d] output table, reported to
converge better by gSASRec.

The library uses one flax API everywhere: **flax.linen** (functional
``init``/``apply``; tested with flax 0.12.8). The network `_SASRecNet` is private;
the public `SASRec` is a frozen (hashable, jit-static) dataclass with pure methods

  init(init_key) -> params
  hidden(params, inputs [B, L], *, dropout_key=None) -> [B, L, d]
  output_embeddings(params) -> [I, d]
  scores(params, inputs [B, L]) -> [B, I]   (last position, eval mode)
  logits(params, hidden [B, L, d]) -> [B, L, I]

shared with `gru4rec.GRU4Rec`; losses and training live in `trainers.sequential`.

Padding (design): inputs are right-aligned (most recent item last) with 0 on the
left. Padding keys are masked in every attention, padding outputs are zeroed after
the embedding and after every block, and positions are counted from the first real
item (position p = number of real items up to and including p, minus 1). The paper's
code numbers positions from the left edge of the window instead; counting from the
first real item makes the hidden states of the real items independent of how many
padding zeros precede them, so a history scores the same under any window length.
Dropout is active only when `hidden` gets a `dropout_key` (train mode).
"""

from __future__ import annotations

import dataclasses

import flax.linen as nn
import jax.numpy as jnp

from infinite_ae.types import Array, ArrayLike, PRNGKey, PyTree

LAYER_NORM_EPSILON = 1e-8
"""As the paper's code (`pmixer/SASRec.pytorch`)."""


def check_inputs(inputs: ArrayLike, max_len: int) -> Array:
    """[B, L] int32 item sequences (item + 1, 0 = padding) with L <= max_len."""
    inputs = jnp.asarray(inputs)
    if inputs.ndim != 2 or inputs.shape[1] > max_len:
        raise ValueError(
            f"inputs must be [B, L] with L <= {max_len}, got {inputs.shape}"
        )
    if not jnp.issubdtype(inputs.dtype, jnp.integer):
        raise ValueError(f"inputs must be integers, got {inputs.dtype}")
    return inputs.astype(jnp.int32)


def dropout_rngs(dropout_key: PRNGKey | None) -> tuple[bool, dict[str, PRNGKey]]:
    """(deterministic, rngs) of a flax apply: train mode iff a key is given."""
    if dropout_key is None:
        return True, {}
    return False, {"dropout": dropout_key}


class Block(nn.Module):
    """Causal self-attention + point-wise FFN, pre-norm residual, padding zeroed."""

    num_heads: int
    ffn_dim: int
    dropout_rate: float

    @nn.compact
    def __call__(self, x, attention_mask, valid, deterministic: bool):
        dim = x.shape[-1]
        h = nn.LayerNorm(epsilon=LAYER_NORM_EPSILON)(x)
        h = nn.MultiHeadDotProductAttention(
            num_heads=self.num_heads,
            qkv_features=dim,
            out_features=dim,
            dropout_rate=self.dropout_rate,
        )(h, h, mask=attention_mask, deterministic=deterministic)
        x = x + nn.Dropout(self.dropout_rate)(h, deterministic=deterministic)
        h = nn.LayerNorm(epsilon=LAYER_NORM_EPSILON)(x)
        h = nn.relu(nn.Dense(self.ffn_dim)(h))
        h = nn.Dropout(self.dropout_rate)(h, deterministic=deterministic)
        h = nn.Dense(dim)(h)
        x = x + nn.Dropout(self.dropout_rate)(h, deterministic=deterministic)
        return x * valid[..., None]


def encode(net: nn.Module, x: Array, valid: Array, deterministic: bool) -> Array:
    """The SASRec body over input item embeddings: positions, causal blocks, norm.

    Shared by every SASRec-style net; ``net`` (inside its apply) has
    `position_embedding`, `embedding_dropout`, `blocks` and `final_norm`.

    Args:
      net: the calling module.
      x: [B, L, d] input item embeddings (any value at padding positions).
      valid: [B, L] bool, the real positions (right-aligned).
      deterministic: eval mode (no dropout).

    Returns:
      [B, L, d] hidden states, exactly zero at padding positions.
    """
    positions = jnp.maximum(jnp.cumsum(valid, axis=1) - 1, 0)
    x = x + net.position_embedding(positions)
    x = net.embedding_dropout(x, deterministic=deterministic)
    x = x * valid[..., None]
    attention_mask = nn.combine_masks(
        nn.make_causal_mask(valid), nn.make_attention_mask(valid, valid)
    )
    for block in net.blocks:
        x = block(x, attention_mask, valid, deterministic)
    return net.final_norm(x) * valid[..., None]


class NextItemScores:
    """`logits` and `scores` of every sequential model, from its `hidden` and
    `output_embeddings` (SASRec, GRU4Rec and the text-based SASRec share them)."""

    def logits(self, params: PyTree, hidden: Array) -> Array:
        """[B, L, I] scores h_t · e_j of every item at every position."""
        return jnp.einsum("bld,id->bli", hidden, self.output_embeddings(params))

    def scores(self, params: PyTree, inputs: ArrayLike) -> Array:
        """[B, I] next-item scores at the last position, eval mode (for ranking)."""
        last = self.hidden(params, inputs)[:, -1]
        return last @ self.output_embeddings(params).T


class _SASRecNet(nn.Module):
    num_items: int
    max_len: int
    embedding_dim: int
    num_blocks: int
    num_heads: int
    ffn_dim: int
    dropout_rate: float
    shared_embeddings: bool

    def setup(self):
        init = nn.initializers.glorot_uniform()
        self.item_embedding = nn.Embed(
            self.num_items + 1, self.embedding_dim, embedding_init=init
        )
        self.position_embedding = nn.Embed(
            self.max_len, self.embedding_dim, embedding_init=init
        )
        if not self.shared_embeddings:
            self.output_embedding = self.param(
                "output_embedding", init, (self.num_items, self.embedding_dim)
            )
        self.blocks = [
            Block(self.num_heads, self.ffn_dim, self.dropout_rate)
            for _ in range(self.num_blocks)
        ]
        self.embedding_dropout = nn.Dropout(self.dropout_rate)
        self.final_norm = nn.LayerNorm(epsilon=LAYER_NORM_EPSILON)

    def __call__(self, inputs, deterministic: bool = True):
        return encode(self, self.item_embedding(inputs), inputs > 0, deterministic)

    def output_table(self):
        if self.shared_embeddings:
            return self.item_embedding.embedding[1:]
        return self.output_embedding


@dataclasses.dataclass(frozen=True)
class SASRec(NextItemScores):
    """SASRec with causal self-attention blocks (flax.linen inside).

    Attributes:
      num_items: I; inputs code item i as i + 1 and padding as 0.
      max_len: L_max, the longest input (size of the position table).
      embedding_dim: d (50 in the paper; gSASRec 128).
      num_blocks: self-attention blocks (2 in the paper).
      num_heads: attention heads (1 in the paper); must divide d.
      ffn_dim: hidden width of the point-wise FFN (None: d, as the paper).
      dropout_rate: dropout on embeddings, attention weights and sub-layer outputs
        (0.2 ML-1M, 0.5 sparse sets in the paper).
      shared_embeddings: score with the input item table (paper) or a separate
        [I, d] output table.

    >>> import jax, jax.numpy as jnp
    >>> model = SASRec(num_items=5, max_len=4, embedding_dim=8, num_heads=2)
    >>> params = model.init(jax.random.key(0))
    >>> model.scores(params, jnp.array([[0, 0, 3, 1]])).shape
    (1, 5)
    """

    num_items: int
    max_len: int
    embedding_dim: int = 64
    num_blocks: int = 2
    num_heads: int = 1
    ffn_dim: int | None = None
    dropout_rate: float = 0.2
    shared_embeddings: bool = True
    name = "sasrec"

    def __post_init__(self):
        if self.embedding_dim % self.num_heads:
            raise ValueError(
                f"num_heads {self.num_heads} must divide embedding_dim "
                f"{self.embedding_dim}"
            )
        if self.num_items < 1 or self.max_len < 1:
            raise ValueError("num_items and max_len must be positive")

    @property
    def net(self) -> _SASRecNet:
        return _SASRecNet(
            num_items=self.num_items,
            max_len=self.max_len,
            embedding_dim=self.embedding_dim,
            num_blocks=self.num_blocks,
            num_heads=self.num_heads,
            ffn_dim=self.ffn_dim or self.embedding_dim,
            dropout_rate=self.dropout_rate,
            shared_embeddings=self.shared_embeddings,
        )

    def init(self, init_key: PRNGKey) -> PyTree:
        """Fresh parameters (Glorot-uniform embeddings, flax defaults elsewhere)."""
        dummy = jnp.ones((1, self.max_len), jnp.int32)
        return self.net.init(init_key, dummy)

    def hidden(
        self, params: PyTree, inputs: ArrayLike, *, dropout_key: PRNGKey | None = None
    ) -> Array:
        """Per-position hidden states h_t; padding positions are exactly zero.

        Args:
          params: from `init`.
          inputs: [B, L] int32, right-aligned (item + 1, 0 = padding), L <= max_len.
          dropout_key: a key for train mode (dropout on); None for eval mode.

        Returns:
          [B, L, d] float32; h_t depends on inputs[:, :t + 1] only.
        """
        inputs = check_inputs(inputs, self.max_len)
        deterministic, rngs = dropout_rngs(dropout_key)
        return self.net.apply(params, inputs, deterministic, rngs=rngs)

    def output_embeddings(self, params: PyTree) -> Array:
        """[I, d] output item table e_j (item j in column j of the scores)."""
        return self.net.apply(params, method=_SASRecNet.output_table)
