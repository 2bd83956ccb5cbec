"""A text-based SASRec whose item encoder's top BERT block(s) train with it.

The trainable-encoder variant of `text_sasrec.TextSASRec` (Recformer-style
fine-tuning, kept affordable): every item's title is run once through the frozen
lower blocks of a BERT (`text.BertTextEncoder.lower_states`, cached as `ItemTokens`);
the top blocks from `first` on (`text.bert.BertTop`, initialised from the
pretrained ones) are parameters of the recommender, so an item's text vector

  t_j = normalise(mean_tokens(Top_phi(states_j)))

changes as the model trains, and goes through the same centring and adaptor,

  e_j = LayerNorm(W (t_j - b)),

into SASRec's body (`sasrec.encode`). The price is re-encoding: a step that needs
the whole item table (full-softmax training, scoring) runs the top blocks over
every item's tokens, and `item_embeddings(params, items)` over only the given
items, which is what FOSTER's item-subset sampling saves
(`benchmarks/foster_step_bench.py` times both).

The cached states and masks live in the parameters behind a stop-gradient, as the
frozen table of `TextSASRec` does (Adam keeps zero moments for them; a
catalogue of I items and T tokens costs 3 I T D floats with the optimiser).
"""

from __future__ import annotations

import dataclasses
import hashlib

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from infinite_ae.text import bert
from infinite_ae.trainers.sasrec import encode
from infinite_ae.trainers.text_sasrec import ByDigest, TextSASRec, _TextSASRecNet
from infinite_ae.types import PRNGKey, PyTree


@dataclasses.dataclass(frozen=True, eq=False)
class ItemTokens(ByDigest):
    """Every item's lower-block token states and the BERT top that finishes them.

    Hashable by digest (two instances are equal iff their arrays, config, `first`
    and top parameters are), so models holding them share compiled programs.

    Attributes:
      states: [I, T, D] float32 token states after blocks 0..first-1 (0 where padded).
      mask: [I, T] 1 for real tokens, 0 for padding.
      config: the BERT's shapes.
      first: index of the first trainable block.
      top: the pretrained top's parameters (`bert.top_params`).
    """

    states: np.ndarray
    mask: np.ndarray
    config: bert.BertConfig
    first: int
    top: PyTree
    digest: str = dataclasses.field(init=False)
    _vectors: np.ndarray | None = dataclasses.field(
        init=False, default=None, repr=False
    )

    def __post_init__(self):
        states = np.ascontiguousarray(self.states, np.float32)
        mask = np.ascontiguousarray(self.mask, np.float32)
        if states.ndim != 3 or mask.shape != states.shape[:2]:
            raise ValueError(
                f"states must be [I, T, D] and mask [I, T], got {states.shape}, "
                f"{mask.shape}"
            )
        if states.shape[2] != self.config.hidden_size:
            raise ValueError(
                f"states have width {states.shape[2]}, the config "
                f"{self.config.hidden_size}"
            )
        if not np.all(np.isfinite(states)):
            raise ValueError("non-finite token states")
        top = jax.tree.map(np.asarray, self.top)
        for array in (states, mask):
            array.setflags(write=False)
        object.__setattr__(self, "states", states)
        object.__setattr__(self, "mask", mask)
        object.__setattr__(self, "top", top)
        digest = hashlib.sha256(states.tobytes() + mask.tobytes())
        digest.update(repr((states.shape, self.config, self.first)).encode())
        leaves, tree = jax.tree.flatten(top)
        digest.update(str(tree).encode())
        for leaf in leaves:
            digest.update(str(leaf.shape).encode() + leaf.astype(np.float32).tobytes())
        object.__setattr__(self, "digest", digest.hexdigest())

    @classmethod
    def from_encoder(cls, encoder, texts, first: int) -> ItemTokens:
        """The items' texts through `encoder`'s first `first` blocks
        (`BertTextEncoder.lower_states`), with its pretrained top."""
        states, mask = encoder.lower_states(texts, first)
        return cls(
            states, mask, encoder.config, first, bert.top_params(encoder.params, first)
        )

    @property
    def num_items(self) -> int:
        return self.states.shape[0]

    @property
    def dim(self) -> int:
        return self.states.shape[2]

    def pretrained_vectors(self) -> np.ndarray:
        """[I, D] the items' text vectors under the pretrained top (computed once,
        eagerly, even when first asked for inside a trace)."""
        if self._vectors is None:
            top = jax.jit(bert.BertTop(self.config, self.first).apply)
            with jax.ensure_compile_time_eval():
                vectors = np.asarray(top(self.top, self.states, self.mask))
            object.__setattr__(self, "_vectors", vectors)
        return self._vectors


class _TunedTextSASRecNet(_TextSASRecNet):
    token_len: int = 1
    bert_config: bert.BertConfig | None = None
    first: int = 0

    def setup(self):
        shape = (self.num_items, self.token_len)
        self.text_states = self.param(
            "text_states", nn.initializers.zeros, (*shape, self.text_dim)
        )
        self.text_mask = self.param("text_mask", nn.initializers.zeros, shape)
        self.encoder_top = bert.BertTop(self.bert_config, self.first)
        self.setup_body()

    def item_text(self, items):
        """[..., D] text vectors of `items`: their cached states through the
        trainable top (only those items are encoded)."""
        items = jnp.asarray(items)
        flat = items.reshape(-1)
        states = jax.lax.stop_gradient(self.text_states)[flat]
        mask = jax.lax.stop_gradient(self.text_mask)[flat]
        return self.encoder_top(states, mask).reshape(*items.shape, self.text_dim)

    def __call__(self, inputs, deterministic: bool = True):
        # The catalogue is encoded once and indexed, not once per position.
        valid = inputs > 0
        x = self.output_table()[jnp.maximum(inputs - 1, 0)]
        return encode(self, x, valid, deterministic)


@dataclasses.dataclass(frozen=True)
class TunedTextSASRec(TextSASRec):
    """`TextSASRec` whose text vectors come from a fine-tuned BERT top.

    Attributes:
      text: `ItemTokens` (the cached lower states and the pretrained top).
      max_len, embedding_dim, num_blocks, num_heads, ffn_dim, dropout_rate: as
        `TextSASRec`.
    """

    text: ItemTokens
    name = "tuned_text_sasrec"
    frozen_params = ("text_states", "text_mask")

    @property
    def net(self) -> _TunedTextSASRecNet:
        return _TunedTextSASRecNet(
            **self.body_fields(),
            token_len=self.text.states.shape[1],
            bert_config=self.text.config,
            first=self.text.first,
        )

    def init(self, init_key: PRNGKey) -> PyTree:
        """Fresh SASRec parameters with the cached states, the pretrained top and
        the centring b = the mean pretrained text vector."""
        dummy = jnp.ones((1, self.max_len), jnp.int32)
        params = self.net.init(init_key, dummy)
        inner = {
            **params["params"],
            "text_states": jnp.asarray(self.text.states),
            "text_mask": jnp.asarray(self.text.mask),
            "encoder_top": jax.tree.map(jnp.asarray, self.text.top["params"]),
            "text_bias": jnp.asarray(self.text.pretrained_vectors().mean(axis=0)),
        }
        return {**params, "params": inner}
