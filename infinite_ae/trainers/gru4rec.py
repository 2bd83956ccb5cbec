"""GRU4Rec: recurrent sequential recommendation (flax.linen).

Hidasi et al., "Session-based Recommendations with Recurrent Neural Networks",
ICLR 2016, Section 3.1: a GRU over the item sequence whose state after item t scores
the next item. As in RecBole's `GRU4Rec` (and the sequential-recommendation
literature since) the input is an item embedding (row 0 = padding, so inputs are
item index + 1) with dropout, the GRU output is projected to the embedding size and
item j is scored by ``h_t · e_j`` with the input table (``shared_embeddings``) or a
separate [I, d] output table. The losses are those of `trainers.sequential`
(softmax cross-entropy by default) rather than the paper's session-parallel TOP1/BPR
mini-batches.

The library uses one flax API everywhere: **flax.linen** (functional
``init``/``apply``; tested with flax 0.12.8). `GRU4Rec` is a frozen (hashable,
jit-static) dataclass with the same pure interface as `sasrec.SASRec`: `init`,
`hidden`, `output_embeddings`, `logits`, `scores`.

Padding (design): inputs are right-aligned with 0 on the left. At a padding step the
GRU keeps its carry (the zero initial state before the first real item) and outputs
zero, so any number of leading zeros leaves every real position's state, and the
scores, exactly unchanged. The recurrence is causal by construction.
"""

from __future__ import annotations

import dataclasses

import flax.linen as nn
import jax.numpy as jnp

from infinite_ae.trainers.sasrec import NextItemScores, check_inputs, dropout_rngs
from infinite_ae.types import Array, ArrayLike, PRNGKey, PyTree


class _MaskedGRUStep(nn.Module):
    """One GRU step that leaves the carry unchanged at padding steps."""

    features: int

    @nn.compact
    def __call__(self, carry, step_inputs):
        x, valid = step_inputs
        new_carry, _ = nn.GRUCell(self.features)(carry, x)
        carry = jnp.where(valid[:, None], new_carry, carry)
        return carry, jnp.where(valid[:, None], carry, 0.0)


class _MaskedGRU(nn.Module):
    """A GRU layer over [B, L, D] with a [B, L] validity mask, zero initial state."""

    features: int

    @nn.compact
    def __call__(self, x, valid):
        scan = nn.scan(
            _MaskedGRUStep,
            variable_broadcast="params",
            split_rngs={"params": False},
            in_axes=1,
            out_axes=1,
        )
        carry = jnp.zeros((x.shape[0], self.features), x.dtype)
        _, outputs = scan(self.features)(carry, (x, valid))
        return outputs


class _GRU4RecNet(nn.Module):
    num_items: int
    embedding_dim: int
    hidden_dim: int
    num_layers: int
    dropout_rate: float
    shared_embeddings: bool

    def setup(self):
        init = nn.initializers.glorot_uniform()
        self.item_embedding = nn.Embed(
            self.num_items + 1, self.embedding_dim, embedding_init=init
        )
        if not self.shared_embeddings:
            self.output_embedding = self.param(
                "output_embedding", init, (self.num_items, self.embedding_dim)
            )
        self.layers = [_MaskedGRU(self.hidden_dim) for _ in range(self.num_layers)]
        self.dropout = nn.Dropout(self.dropout_rate)
        self.projection = nn.Dense(self.embedding_dim)

    def __call__(self, inputs, deterministic: bool = True):
        valid = inputs > 0
        x = self.dropout(self.item_embedding(inputs), deterministic=deterministic)
        for layer in self.layers:
            x = layer(x, valid)
        x = self.dropout(x, deterministic=deterministic)
        return self.projection(x) * valid[..., None]

    def output_table(self):
        if self.shared_embeddings:
            return self.item_embedding.embedding[1:]
        return self.output_embedding


@dataclasses.dataclass(frozen=True)
class GRU4Rec(NextItemScores):
    """GRU4Rec with a padding-aware GRU (flax.linen inside).

    Attributes:
      num_items: I; inputs code item i as i + 1 and padding as 0.
      max_len: L_max, the longest input accepted (the GRU itself has no limit).
      embedding_dim: d, item embedding and output size.
      hidden_dim: GRU state size (None: d).
      num_layers: stacked GRU layers.
      dropout_rate: dropout on the input embeddings and the GRU output (RecBole
        `dropout_prob` 0.3).
      shared_embeddings: score with the input item table or a separate output table.

    >>> import jax, jax.numpy as jnp
    >>> model = GRU4Rec(num_items=5, max_len=4, embedding_dim=8)
    >>> params = model.init(jax.random.key(0))
    >>> model.scores(params, jnp.array([[0, 0, 3, 1]])).shape
    (1, 5)
    """

    num_items: int
    max_len: int
    embedding_dim: int = 64
    hidden_dim: int | None = None
    num_layers: int = 1
    dropout_rate: float = 0.3
    shared_embeddings: bool = True
    name = "gru4rec"

    def __post_init__(self):
        if self.num_items < 1 or self.max_len < 1 or self.num_layers < 1:
            raise ValueError("num_items, max_len and num_layers must be positive")

    @property
    def net(self) -> _GRU4RecNet:
        return _GRU4RecNet(
            num_items=self.num_items,
            embedding_dim=self.embedding_dim,
            hidden_dim=self.hidden_dim or self.embedding_dim,
            num_layers=self.num_layers,
            dropout_rate=self.dropout_rate,
            shared_embeddings=self.shared_embeddings,
        )

    def init(self, init_key: PRNGKey) -> PyTree:
        """Fresh parameters (Glorot-uniform embeddings, flax GRU defaults)."""
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
        """[I, d] output item table e_j."""
        return self.net.apply(params, method=_GRU4RecNet.output_table)
