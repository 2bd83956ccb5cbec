"""A BERT encoder with mean pooling: the all-MiniLM-L6-v2 forward pass (flax.linen).

Devlin et al., "BERT", NAACL 2019, Section 3 (the Transformer encoder of Vaswani et
al. 2017 with post-norm residuals): token + absolute position + segment embeddings
and a LayerNorm, then `num_layers` blocks of

  x = LayerNorm(x + Dense(MultiHeadAttention(x, mask)))
  x = LayerNorm(x + Dense(GELU(Dense(x))))

with the exact (erf) GELU. Reimers & Gurevych, "Sentence-BERT", EMNLP 2019,
Section 3: a sentence embedding is the mean of the token states over the attention
mask; all-MiniLM-L6-v2 (sentence-transformers) then L2-normalises it. The layer
names and shapes follow Hugging Face's `BertModel` so that its checkpoints map
one-to-one (`text.weights`); the pooler and masked-LM head are not used.

`embed_tokens(params, token_ids, attention_mask, *, config)` is pure and does not
jit itself; `text.encoder.BertTextEncoder` jits it once per input shape.

Padding (design): inputs are right-padded with token 0 and `attention_mask` 0, so
real tokens keep positions 0..n-1 whatever the padded length, padded keys are
masked in every attention and padded tokens are left out of the mean: the
embedding of a text does not depend on how far it is padded.
"""

from __future__ import annotations

import dataclasses

import flax.linen as nn
import jax.numpy as jnp

from infinite_ae.types import Array, ArrayLike, PRNGKey, PyTree


@dataclasses.dataclass(frozen=True)
class BertConfig:
    """Shapes of a BERT encoder; the defaults are all-MiniLM-L6-v2's.

    Attributes:
      vocab_size: V, rows of the token embedding table.
      hidden_size: d, the width of every token state and of the output.
      num_layers: Transformer blocks.
      num_heads: attention heads; must divide `hidden_size`.
      intermediate_size: hidden width of the feed-forward network.
      max_positions: rows of the position table, the longest input.
      type_vocab_size: rows of the segment table (only segment 0 is used).
      layer_norm_epsilon: of every LayerNorm (BERT's 1e-12).

    >>> BertConfig().hidden_size, BertConfig(hidden_size=8, num_heads=2).head_size
    (384, 4)
    """

    vocab_size: int = 30522
    hidden_size: int = 384
    num_layers: int = 6
    num_heads: int = 12
    intermediate_size: int = 1536
    max_positions: int = 512
    type_vocab_size: int = 2
    layer_norm_epsilon: float = 1e-12

    def __post_init__(self):
        if self.hidden_size % self.num_heads:
            raise ValueError(
                f"num_heads {self.num_heads} must divide hidden_size {self.hidden_size}"
            )

    @property
    def head_size(self) -> int:
        return self.hidden_size // self.num_heads


class _Layer(nn.Module):
    """One post-norm BERT block: self-attention, then the GELU feed-forward net."""

    config: BertConfig
    precision: str

    @nn.compact
    def __call__(self, x, attention_mask):
        config = self.config
        attended = nn.MultiHeadDotProductAttention(
            num_heads=config.num_heads,
            qkv_features=config.hidden_size,
            out_features=config.hidden_size,
            precision=self.precision,
            name="attention",
        )(x, x, mask=attention_mask)
        x = nn.LayerNorm(config.layer_norm_epsilon, name="attention_norm")(x + attended)
        h = nn.Dense(
            config.intermediate_size, precision=self.precision, name="intermediate"
        )(x)
        h = nn.Dense(config.hidden_size, precision=self.precision, name="output")(
            nn.gelu(h, approximate=False)
        )
        return nn.LayerNorm(config.layer_norm_epsilon, name="output_norm")(x + h)


class _BertNet(nn.Module):
    """Embeddings and the first `num_run` blocks (all of them by default)."""

    config: BertConfig
    precision: str
    num_run: int | None = None

    @nn.compact
    def __call__(self, token_ids, attention_mask):
        config = self.config
        positions = jnp.arange(token_ids.shape[1])[None, :]
        x = (
            nn.Embed(config.vocab_size, config.hidden_size, name="word_embeddings")(
                token_ids
            )
            + nn.Embed(
                config.max_positions, config.hidden_size, name="position_embeddings"
            )(positions)
            + nn.Embed(
                config.type_vocab_size, config.hidden_size, name="type_embeddings"
            )(jnp.zeros_like(token_ids))
        )
        x = nn.LayerNorm(config.layer_norm_epsilon, name="embeddings_norm")(x)
        valid = attention_mask > 0
        mask = nn.make_attention_mask(valid, valid)
        num_run = config.num_layers if self.num_run is None else self.num_run
        for index in range(num_run):
            x = _Layer(config, self.precision, name=f"layers_{index}")(x, mask)
        return x


class BertTop(nn.Module):
    """The blocks `first`.. of a BERT over given token states, then the pooled,
    L2-normalised sentence embedding (`pool`): with `lower_states` of the first
    `first` blocks, the same embedding as `embed_tokens`. Its parameters are
    named as the full model's (``layers_<k>``; `top_params` extracts them), so a
    pretrained top initialises it and can be fine-tuned over cached lower states.

    Attributes:
      config: the full model's shapes.
      first: index of the first block it runs (0 <= first < num_layers).
      precision: of every matmul.
    """

    config: BertConfig
    first: int
    precision: str = "highest"

    @nn.compact
    def __call__(self, states: Array, attention_mask: Array) -> Array:
        valid = attention_mask > 0
        mask = nn.make_attention_mask(valid, valid)
        for index in range(self.first, self.config.num_layers):
            states = _Layer(self.config, self.precision, name=f"layers_{index}")(
                states, mask
            )
        return pool(states, attention_mask)


def top_params(params: PyTree, first: int) -> PyTree:
    """The `BertTop` parameters (blocks `first`..) of a full model's `params`."""
    inner = params["params"]
    count = sum(key.startswith("layers_") for key in inner)
    if not 0 <= first < count:
        raise ValueError(f"first must be in [0, {count}), got {first}")
    return {
        "params": {f"layers_{k}": inner[f"layers_{k}"] for k in range(first, count)}
    }


def pool(states: Array, attention_mask: ArrayLike) -> Array:
    """[B, d] masked mean of the token states [B, L, d], L2-normalised (a row with
    no real token gives 0)."""
    mask = jnp.asarray(attention_mask, jnp.float32)[..., None]
    pooled = (states * mask).sum(axis=1) / jnp.maximum(mask.sum(axis=1), 1.0)
    norm = jnp.linalg.norm(pooled, axis=-1, keepdims=True)
    return pooled / jnp.maximum(norm, 1e-12)


def check_tokens(
    token_ids: ArrayLike, attention_mask: ArrayLike, max_positions: int
) -> tuple[Array, Array]:
    """([B, L] int32 ids, [B, L] int32 mask) with L <= max_positions, or ValueError."""
    token_ids, attention_mask = jnp.asarray(token_ids), jnp.asarray(attention_mask)
    if token_ids.ndim != 2 or token_ids.shape[1] > max_positions:
        raise ValueError(
            f"token_ids must be [B, L] with L <= {max_positions}, got {token_ids.shape}"
        )
    if attention_mask.shape != token_ids.shape:
        raise ValueError(
            f"attention_mask {attention_mask.shape} must have the shape of "
            f"token_ids {token_ids.shape}"
        )
    return token_ids.astype(jnp.int32), attention_mask.astype(jnp.int32)


def init_params(init_key: PRNGKey, config: BertConfig) -> PyTree:
    """Random parameters (flax defaults: N(0, 1) embeddings, LeCun-normal kernels).

    >>> import jax
    >>> params = init_params(jax.random.key(0), BertConfig(vocab_size=10,
    ...     hidden_size=8, num_layers=1, num_heads=2, intermediate_size=16))
    >>> params["params"]["layers_0"]["attention"]["query"]["kernel"].shape
    (8, 2, 4)
    """
    dummy = jnp.ones((1, 2), jnp.int32)
    return _BertNet(config, "highest").init(init_key, dummy, dummy)


def token_states(
    params: PyTree,
    token_ids: ArrayLike,
    attention_mask: ArrayLike,
    *,
    config: BertConfig,
    precision: str = "highest",
    num_layers: int | None = None,
) -> Array:
    """The last layer's token states (BertModel's `last_hidden_state`), or with
    `num_layers` those after the first `num_layers` blocks (the input of a
    `BertTop` whose `first` is `num_layers`).

    Args:
      params: from `init_params` or `text.weights.load_bert_params`.
      token_ids: [B, L] int32 token ids, right-padded with 0, L <= max_positions.
      attention_mask: [B, L] 1 for real tokens, 0 for padding.
      config: the shapes `params` were made with.
      precision: of every matmul; "highest" keeps float32 on GPUs and TPUs, which
        would otherwise multiply in TF32 / bfloat16.

    Returns:
      [B, L, d] float32; padded positions hold values that mean nothing.
    """
    token_ids, attention_mask = check_tokens(
        token_ids, attention_mask, config.max_positions
    )
    if num_layers is not None and not 0 <= num_layers <= config.num_layers:
        raise ValueError(f"num_layers must be in [0, {config.num_layers}]")
    return _BertNet(config, precision, num_layers).apply(
        params, token_ids, attention_mask
    )


def embed_tokens(
    params: PyTree,
    token_ids: ArrayLike,
    attention_mask: ArrayLike,
    *,
    config: BertConfig,
    precision: str = "highest",
) -> Array:
    """Sentence embeddings: masked mean of the token states, L2-normalised.

    e = normalise(Σ_t m_t h_t / max(Σ_t m_t, 1)), as sentence-transformers' Pooling
    (mean) and Normalize modules; a row with no real token (all-zero mask) gives
    the normalised zero vector, 0.

    Args:
      params: from `init_params` or `text.weights.load_bert_params`.
      token_ids: [B, L] int32 token ids, right-padded with 0, L <= max_positions.
      attention_mask: [B, L] 1 for real tokens, 0 for padding.
      config: the shapes `params` were made with.
      precision: of every matmul (see `token_states`).

    Returns:
      [B, d] float32 rows of unit L2 norm.

    >>> import jax
    >>> config = BertConfig(vocab_size=10, hidden_size=8, num_layers=1,
    ...                     num_heads=2, intermediate_size=16)
    >>> params = init_params(jax.random.key(0), config)
    >>> import functools
    >>> embed = jax.jit(functools.partial(embed_tokens, config=config))
    >>> out = embed(params, jnp.array([[1, 5, 2, 0]]), jnp.array([[1, 1, 1, 0]]))
    >>> out.shape, bool(jnp.allclose(jnp.linalg.norm(out, axis=-1), 1.0))
    ((1, 8), True)
    """
    states = token_states(
        params, token_ids, attention_mask, config=config, precision=precision
    )
    return pool(states, attention_mask)
