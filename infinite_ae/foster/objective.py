"""FOSTER's losses on an item subset, and the semantic co-occurrence regulariser.

FOSTER-style, reconstructed from the abstract. With E_S = the adapted embeddings of
the subset's items (`TextSASRec.item_embeddings`: only k rows encoded):

* `real_loss`: next-item softmax cross-entropy of real windows, inputs embedded and
  targets scored within S (every batch item is in S, `subset.sample_subset`);
* `synthetic_loss`: the soft sequences p = softmax(Z[:, :, S] / T) feed the model
  as mixtures p @ E_S and are their own soft targets,
  L_syn = -mean_{m, l} sum_j p[m, l+1, j] log softmax(h[m, l] E_S^T)_j;
* `cooccurrence`: R = -mean_m (1 / pairs) sum_{l != l'} p[m, l]^T S p[m, l']
  with S the frozen text similarity between subset items (`subset_similarity`
  from each item's top-kappa text neighbours, `text_neighbours`): lower when
  semantically similar items share a sequence. Pairs "all" or "adjacent"
  (l' = l + 1).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from infinite_ae.foster import subset as subset_lib
from infinite_ae.foster.synthetic import columns, soft_sequences
from infinite_ae.trainers import sequential as sequential_lib
from infinite_ae.types import Array, PyTree

PAIRS = ("all", "adjacent")


def real_loss(
    model, params: PyTree, subset: Array, inputs: Array, targets: Array, weights: Array
) -> Array:
    """Mean next-item cross-entropy of real windows within the subset.

    Args:
      model: `TextSASRec` (`item_embeddings`, `hidden_from_embeddings`).
      params: its parameters.
      subset: [k] sorted item ids holding every input and target item.
      inputs, targets: [B, L] int32 (item + 1; 0 = padding / no target).
      weights: [B] float32 row weights (0 = padding row).
    """
    table = model.item_embeddings(params, subset)
    valid = inputs > 0
    x = table[subset_lib.positions(subset, jnp.maximum(inputs - 1, 0))]
    hidden = model.hidden_from_embeddings(params, x * valid[..., None], valid)
    local = jnp.where(
        targets > 0, subset_lib.positions(subset, jnp.maximum(targets - 1, 0)) + 1, 0
    )
    loss, _ = sequential_lib.cross_entropy_loss(hidden, table, local, weights)
    return loss


def synthetic_loss(
    model, params: PyTree, logits: Array, subset: Array, temperature
) -> Array:
    """L_syn of the soft synthetic sequences restricted to the subset.

    Args:
      logits: synthetic logits Z, dense [M, L, I] or `synthetic.Factorised` (only
        the subset's columns are computed and read).
      temperature: T of p = softmax(Z / T) (traced).
    """
    table = model.item_embeddings(params, subset)
    p = soft_sequences(columns(logits, subset), temperature)
    valid = jnp.ones(p.shape[:2], bool)
    hidden = model.hidden_from_embeddings(params, p @ table, valid)
    log_q = jax.nn.log_softmax(hidden[:, :-1] @ table.T, axis=-1)
    return -jnp.mean(jnp.sum(p[:, 1:] * log_q, axis=-1))


def text_neighbours(
    embeddings: np.ndarray, top_k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Each item's `top_k` most similar other items by cosine of its text embedding.

    Returns:
      (neighbours [I, kappa] int32, similarities [I, kappa] float32, clipped at 0).
    """
    e = np.asarray(embeddings, np.float32)
    e = e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12)
    num_items = e.shape[0]
    top_k = min(top_k, num_items - 1)
    neighbours = np.empty((num_items, top_k), np.int32)
    sims = np.empty((num_items, top_k), np.float32)
    for start in range(0, num_items, 1024):
        block = e[start : start + 1024] @ e.T
        rows = np.arange(block.shape[0])
        block[rows, start + rows] = -np.inf
        top = np.argpartition(-block, top_k - 1, axis=1)[:, :top_k]
        neighbours[start : start + block.shape[0]] = top
        sims[start : start + block.shape[0]] = np.take_along_axis(block, top, axis=1)
    return neighbours, np.maximum(sims, 0.0)


def subset_similarity(neighbours: Array, sims: Array, subset: Array) -> Array:
    """[k, k] similarity among the subset's items (0 where not a top neighbour)."""
    k = subset.shape[0]
    nbrs = neighbours[subset]  # [k, kappa]
    pos = jnp.clip(subset_lib.positions(subset, nbrs), 0, k - 1)
    present = subset[pos] == nbrs
    rows = jnp.broadcast_to(jnp.arange(k)[:, None], nbrs.shape)
    return (
        jnp.zeros((k, k), jnp.float32)
        .at[rows, pos]
        .add(jnp.where(present, sims[subset], 0.0))
    )


def cooccurrence(p: Array, similarity: Array, pairs: str = "all") -> Array:
    """R = -mean_m (1 / pairs) sum_{l != l'} p_l^T S p_l' (module docstring).

    Args:
      p: [M, L, k] soft synthetic sequences over the subset.
      similarity: [k, k] `subset_similarity`.
      pairs: "all" or "adjacent" (static).
    """
    if pairs not in PAIRS:
        raise ValueError(f"pairs must be one of {PAIRS}, got {pairs!r}")
    length = p.shape[1]
    sp = p @ similarity  # [M, L, k]: (S^T p_l) per position
    if pairs == "adjacent":
        return -jnp.mean(jnp.sum(sp[:, :-1] * p[:, 1:], axis=-1))
    total = jnp.sum(p, axis=1)  # [M, k]
    cross = jnp.sum((total @ similarity) * total, axis=-1)
    self_pairs = jnp.sum(sp * p, axis=(1, 2))
    return -jnp.mean((cross - self_pairs) / (length * (length - 1)))
