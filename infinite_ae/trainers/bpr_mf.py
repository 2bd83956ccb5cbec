"""BPR-MF: matrix factorisation trained with the BPR pairwise loss.

Rendle et al., "BPR: Bayesian Personalized Ranking from Implicit Feedback", UAI 2009,
Eq. (BPR-Opt); RecBole's `BPRMF` (Xavier-uniform init, inner-product scores). As in
the DConRec code (RecBole models, `reg_weight` 1e-4) the loss adds `reg_weight` times
the squared L2 norm of the batch's ego embeddings, averaged over the batch's real rows.

Every model in `infinite_ae.trainers` is a frozen (hashable, jit-static) dataclass with

  init(init_key) -> params
  make_graph(users, items, weights) -> graph (None for models without a graph)
  embed(params, graph) -> (user_emb [U, d], item_emb [I, d])
  forward(params, graph) -> what pair_loss reads (computed once per batch)
  pair_loss(params, forward, users, pos_items, neg_items, weights) -> (loss, aux)
  loss(params, graph, users, pos_items, neg_items, weights) -> (loss [], aux dict)

Rows carry weights in {0, 1}; weight-0 rows are padding and contribute exactly zero
loss and zero gradient, which keeps epochs over variable-size subsets static-shaped.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from infinite_ae.types import Array, PRNGKey, PyTree


def weighted_bpr_loss(
    user_emb: Array,
    pos_emb: Array,
    neg_emb: Array,
    user_ego: Array,
    pos_ego: Array,
    neg_ego: Array,
    weights: Array,
    reg_weight: float,
) -> tuple[Array, dict[str, Array]]:
    """Weighted BPR loss with L2 on ego embeddings, normalised by the real-row count.

    loss = sum_b w_b softplus(s_bj - s_bi) / n + reg * sum_b w_b (|e_u|^2 + |e_i|^2
    + |e_j|^2) / n, with s the inner-product score and n = max(sum_b w_b, 1).

    Args:
      user_emb, pos_emb, neg_emb: [B, d] final embeddings used for the scores.
      user_ego, pos_ego, neg_ego: [B, d] layer-0 embeddings used for the L2 term.
      weights: [B] float32 row weights (0 for padding).
      reg_weight: L2 coefficient.

    Returns:
      (loss [], {"bpr": [], "reg": [], "count": []}).
    """
    count = jnp.maximum(jnp.sum(weights), 1.0)
    diff = jnp.sum(user_emb * pos_emb, -1) - jnp.sum(user_emb * neg_emb, -1)
    bpr = jnp.sum(weights * jax.nn.softplus(-diff)) / count
    sq = jnp.sum(user_ego**2, -1) + jnp.sum(pos_ego**2, -1) + jnp.sum(neg_ego**2, -1)
    reg = reg_weight * jnp.sum(weights * sq) / count
    return bpr + reg, {"bpr": bpr, "reg": reg, "count": jnp.sum(weights)}


def init_embeddings(init_key: PRNGKey, num_users: int, num_items: int, dim: int):
    """Xavier-uniform user and item tables (RecBole `xavier_uniform_initialization`).

    Returns:
      {"user": [U, d], "item": [I, d]} float32.
    """
    user_key, item_key = jax.random.split(init_key)
    glorot = jax.nn.initializers.glorot_uniform()
    return {
        "user": glorot(user_key, (num_users, dim), jnp.float32),
        "item": glorot(item_key, (num_items, dim), jnp.float32),
    }


@dataclasses.dataclass(frozen=True)
class BPRMF:
    """BPR matrix factorisation.

    Attributes:
      num_users: U.
      num_items: I.
      embedding_dim: d (64 in DConRec).
      reg_weight: L2 coefficient on the batch's embeddings (1e-4 in DConRec).

    >>> import jax
    >>> model = BPRMF(num_users=3, num_items=4, embedding_dim=2)
    >>> params = model.init(jax.random.key(0))
    >>> [x.shape for x in model.embed(params, None)]
    [(3, 2), (4, 2)]
    """

    num_users: int
    num_items: int
    embedding_dim: int = 64
    reg_weight: float = 1e-4
    name = "bprmf"

    def init(self, init_key: PRNGKey) -> PyTree:
        return init_embeddings(
            init_key, self.num_users, self.num_items, self.embedding_dim
        )

    def make_graph(self, users: Array, items: Array, weights: Array) -> None:
        """BPR-MF has no graph."""
        del users, items, weights
        return None

    def embed(self, params: PyTree, graph: None) -> tuple[Array, Array]:
        """Final embeddings: the raw tables. Returns ([U, d], [I, d])."""
        del graph
        return params["user"], params["item"]

    def forward(self, params: PyTree, graph: None) -> PyTree:
        """What `pair_loss` reads: the tables themselves."""
        del graph
        return params

    def pair_loss(
        self,
        params: PyTree,
        forward: PyTree,
        users: Array,
        pos_items: Array,
        neg_items: Array,
        weights: Array,
    ) -> tuple[Array, dict[str, Array]]:
        """Batch loss given `forward`'s output; see `weighted_bpr_loss`."""
        del params
        if not hasattr(neg_items, "shape"):
            raise ValueError(
                f"BPR-MF takes [B] negative items, not {type(neg_items).__name__} "
                "(MixGCF negatives need a graph model)"
            )
        u = forward["user"][users]
        i = forward["item"][pos_items]
        j = forward["item"][neg_items]
        return weighted_bpr_loss(u, i, j, u, i, j, weights, self.reg_weight)

    def loss(
        self,
        params: PyTree,
        graph: None,
        users: Array,
        pos_items: Array,
        neg_items: Array,
        weights: Array,
    ) -> tuple[Array, dict[str, Array]]:
        """Batch loss; see `weighted_bpr_loss`. users/pos/neg/weights are [B]."""
        forward = self.forward(params, graph)
        return self.pair_loss(params, forward, users, pos_items, neg_items, weights)
