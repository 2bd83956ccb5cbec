"""LightGCN on the current (possibly condensed) interactions.

He et al., "LightGCN: Simplifying and Powering Graph Convolution Network for
Recommendation", SIGIR 2020, Eqs. (3)-(4): e^{l+1}_u = sum_{i in N_u} e^l_i /
sqrt(|N_u| |N_i|), final embedding = mean of layers 0..L. RecBole's LightGCN: 3 layers,
dim 64, BPR + L2 on the batch's ego embeddings.

The graph is an edge list with weights m_e in {0, 1} (padding and unselected edges
carry 0): degrees d_u = sum_e m_e [u_e = u], normalised weights m_e / sqrt(d_u d_i).
Duplicated edges (e.g. a tail interaction also drawn from the pool under the official
DConRec settings, DConRec quirk 7 in docs/original_code.md) count twice, as in an
adjacency matrix built from a multiset.

Propagation backends (`backend=`):
  "segment_sum": pure XLA (`jax.ops.segment_sum` message passing); jit-, vmap- and
    device-friendly. The default on accelerators.
  "scipy": SciPy CSR products on the host through `jax.pure_callback` with a custom
    VJP. The default on CPU, where XLA's scatter-add is slower.
  "auto" (default): "scipy" when JAX's default backend is "cpu", else "segment_sum".
On CPU the SciPy products are 2-3x faster than the XLA scatter-add for ML-1M-sized
graphs (timings of the alternatives in benchmarks/README.md, "LightGCN propagation
backends").
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse as sp

from infinite_ae.trainers import negatives as negatives_lib
from infinite_ae.trainers.bpr_mf import init_embeddings, weighted_bpr_loss
from infinite_ae.types import Array, PRNGKey, PyTree

BACKENDS = ("auto", "scipy", "segment_sum")


def resolve_backend(backend: str) -> str:
    """ "auto" -> "scipy" on CPU, "segment_sum" elsewhere; other names pass through.

    >>> resolve_backend("segment_sum")
    'segment_sum'
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; valid: {list(BACKENDS)}")
    if backend == "auto":
        return "scipy" if jax.default_backend() == "cpu" else "segment_sum"
    return backend


class Graph(NamedTuple):
    """Normalised bipartite edge list, sorted by user (CSR order).

    Attributes:
      users: [E] int32 user of each edge (sorted).
      items: [E] int32 item of each edge.
      norm: [E] float32 m_e / sqrt(d_u d_i) (0 for padded / unselected edges).
      indptr: [U + 1] int32 CSR row pointers of `users`.
    """

    users: Array
    items: Array
    norm: Array
    indptr: Array


@jax.custom_vjp
def _spmm(graph: Graph, x: Array, y: Array) -> tuple[Array, Array]:
    """(A @ x, A^T @ y) for the normalised CSR A of `graph`, on the host."""
    return _spmm_fwd(graph, x, y)[0]


def _host_products(indptr, items, norm, x, y):
    mat = sp.csr_matrix(
        (np.asarray(norm), np.asarray(items), np.asarray(indptr)),
        shape=(len(indptr) - 1, x.shape[0]),
    )
    return (
        np.asarray(mat @ np.asarray(x), np.float32),
        np.asarray(mat.T @ np.asarray(y), np.float32),
    )


def _products(graph, x, y):
    out_shape = (
        jax.ShapeDtypeStruct((graph.indptr.shape[0] - 1, x.shape[1]), jnp.float32),
        jax.ShapeDtypeStruct((x.shape[0], y.shape[1]), jnp.float32),
    )
    return jax.pure_callback(
        _host_products,
        out_shape,
        graph.indptr,
        graph.items,
        graph.norm,
        x,
        y,
        vmap_method="sequential",
    )


def _spmm_fwd(graph, x, y):
    return _products(graph, x, y), graph


def _spmm_bwd(graph, cotangents):
    g_ax, g_aty = cotangents
    # d(A x)/dx^T g = A^T g; d(A^T y)/dy^T g = A g. The graph is data, not learned.
    a_g, at_g = _products(graph, g_aty, g_ax)
    zeros = jax.tree.map(jnp.zeros_like, graph)
    zeros = zeros._replace(
        users=np.zeros(graph.users.shape, jax.dtypes.float0),
        items=np.zeros(graph.items.shape, jax.dtypes.float0),
        indptr=np.zeros(graph.indptr.shape, jax.dtypes.float0),
    )
    return zeros, at_g, a_g


_spmm.defvjp(_spmm_fwd, _spmm_bwd)


def build_graph(
    users: Array, items: Array, weights: Array, num_users: int, num_items: int
) -> Graph:
    """Symmetric normalisation D^{-1/2} A D^{-1/2} of a weighted edge list.

    Args:
      users: [E] int user indices.
      items: [E] int item indices.
      weights: [E] float32 edge weights m_e (0 removes the edge).
      num_users: U.
      num_items: I.

    Returns:
      `Graph` with norm_e = m_e / sqrt(d_u d_i), 0 where a degree is 0.
    """
    weights = weights.astype(jnp.float32)
    deg_u = jax.ops.segment_sum(weights, users, num_segments=num_users)
    deg_i = jax.ops.segment_sum(weights, items, num_segments=num_items)
    inv_u = jnp.where(deg_u > 0, jax.lax.rsqrt(jnp.maximum(deg_u, 1e-12)), 0.0)
    inv_i = jnp.where(deg_i > 0, jax.lax.rsqrt(jnp.maximum(deg_i, 1e-12)), 0.0)
    norm = weights * inv_u[users] * inv_i[items]
    order = jnp.argsort(users)
    users = users[order].astype(jnp.int32)
    indptr = jnp.searchsorted(
        users, jnp.arange(num_users + 1, dtype=jnp.int32), side="left"
    ).astype(jnp.int32)
    return Graph(users, items[order].astype(jnp.int32), norm[order], indptr)


def propagate_layers(
    user_emb: Array,
    item_emb: Array,
    graph: Graph,
    num_layers: int,
    backend: str = "auto",
) -> tuple[Array, Array]:
    """Every LightGCN layer: ([L + 1, U, d], [L + 1, I, d]), layer 0 the input.

    Args:
      user_emb: [U, d] layer-0 user embeddings.
      item_emb: [I, d] layer-0 item embeddings.
      graph: `Graph` from `build_graph`.
      num_layers: L.
      backend: "auto", "scipy" (host CSR products, custom VJP) or "segment_sum"
        (pure XLA); see the module docstring.
    """
    backend = resolve_backend(backend)
    num_users, num_items = user_emb.shape[0], item_emb.shape[0]
    norm = graph.norm[:, None]
    users, items = [user_emb], [item_emb]
    for _ in range(num_layers):
        cur_u, cur_i = users[-1], items[-1]
        if backend == "scipy":
            next_u, next_i = _spmm(graph, cur_i, cur_u)
        elif backend == "segment_sum":
            next_u = jax.ops.segment_sum(
                norm * cur_i[graph.items],
                graph.users,
                num_segments=num_users,
                indices_are_sorted=True,
            )
            next_i = jax.ops.segment_sum(
                norm * cur_u[graph.users], graph.items, num_segments=num_items
            )
        else:  # unreachable: resolve_backend validated the name
            raise AssertionError(backend)
        users.append(next_u)
        items.append(next_i)
    return jnp.stack(users), jnp.stack(items)


def propagate(
    user_emb: Array,
    item_emb: Array,
    graph: Graph,
    num_layers: int,
    backend: str = "auto",
) -> tuple[Array, Array]:
    """LightGCN propagation; returns the layer means ([U, d], [I, d]).

    Args: as `propagate_layers`.
    """
    user_layers, item_layers = propagate_layers(
        user_emb, item_emb, graph, num_layers, backend
    )
    return jnp.mean(user_layers, axis=0), jnp.mean(item_layers, axis=0)


@dataclasses.dataclass(frozen=True)
class LightGCN:
    """LightGCN with a graph built from the training rows it is given.

    Attributes:
      num_users: U.
      num_items: I.
      embedding_dim: d (64).
      num_layers: propagation layers (3).
      reg_weight: L2 coefficient on the batch's ego embeddings (1e-4).
      backend: propagation backend, "auto", "scipy" or "segment_sum" (see the
        module docstring).

    >>> import jax, jax.numpy as jnp
    >>> model = LightGCN(num_users=2, num_items=3, embedding_dim=4)
    >>> params = model.init(jax.random.key(0))
    >>> graph = model.make_graph(jnp.array([0, 1]), jnp.array([2, 0]), jnp.ones(2))
    >>> [x.shape for x in model.embed(params, graph)]
    [(2, 4), (3, 4)]
    """

    num_users: int
    num_items: int
    embedding_dim: int = 64
    num_layers: int = 3
    reg_weight: float = 1e-4
    backend: str = "auto"
    name = "lightgcn"

    def init(self, init_key: PRNGKey) -> PyTree:
        return init_embeddings(
            init_key, self.num_users, self.num_items, self.embedding_dim
        )

    def make_graph(self, users: Array, items: Array, weights: Array) -> Graph:
        """Graph of the given training rows ([E] each); see `build_graph`."""
        return build_graph(users, items, weights, self.num_users, self.num_items)

    def embed(self, params: PyTree, graph: Graph) -> tuple[Array, Array]:
        """Propagated embeddings ([U, d], [I, d])."""
        return propagate(
            params["user"], params["item"], graph, self.num_layers, self.backend
        )

    def embed_layers(self, params: PyTree, graph: Graph) -> tuple[Array, Array]:
        """Every layer's embeddings ([L + 1, U, d], [L + 1, I, d])."""
        return propagate_layers(
            params["user"], params["item"], graph, self.num_layers, self.backend
        )

    def forward(self, params: PyTree, graph: Graph) -> tuple[Array, Array]:
        """What `pair_loss` reads: every layer (`embed_layers`), computed once per
        batch however many negatives are scored against it."""
        return self.embed_layers(params, graph)

    def pair_loss(
        self,
        params: PyTree,
        layers: tuple[Array, Array],
        users: Array,
        pos_items: Array,
        neg_items: Array,
        weights: Array,
    ) -> tuple[Array, dict[str, Array]]:
        """Batch BPR loss given `forward`'s layers; L2 on ego embeddings.

        `neg_items` is [B] items or `negatives.MixedNegatives` (MixGCF), whose
        embeddings are mixed from the propagated layers here, with gradient.
        """
        user_layers, item_layers = layers
        all_u, all_i = jnp.mean(user_layers, 0), jnp.mean(item_layers, 0)
        if isinstance(neg_items, negatives_lib.MixedNegatives):
            neg_emb, neg_ego = negatives_lib.mixed_negative_embeddings(
                item_layers, pos_items, neg_items
            )
        else:
            neg_emb, neg_ego = all_i[neg_items], params["item"][neg_items]
        return weighted_bpr_loss(
            all_u[users],
            all_i[pos_items],
            neg_emb,
            params["user"][users],
            params["item"][pos_items],
            neg_ego,
            weights,
            self.reg_weight,
        )

    def loss(
        self,
        params: PyTree,
        graph: Graph,
        users: Array,
        pos_items: Array,
        neg_items: Array,
        weights: Array,
    ) -> tuple[Array, dict[str, Array]]:
        """Batch BPR loss on propagated embeddings (`forward` then `pair_loss`)."""
        layers = self.forward(params, graph)
        return self.pair_loss(params, layers, users, pos_items, neg_items, weights)
