"""Fold-in: user vectors of users a model never trained on, from their histories.

A BPR-MF or LightGCN model trained on a summary's synthetic users (a Distill-CF
summary, a random subset of users) has no vectors for the real users it is
evaluated on. Fold-in solves them from each real user's history with the item
parameters fixed, the standard inductive step of matrix factorisation:

* **BPR-MF** (`fold_in`): per user the weighted ridge least squares of implicit
  ALS (Hu, Koren and Volinsky, ICDM 2008, Eq. 3, one user step)

      u = argmin_u Σ_i c_ui (x_ui − u·v_i)² + ridge·|u|²,   c_ui = 1 + confidence·x_ui,

  over ALL items (unobserved ones with x_ui = 0), in closed form:
  u = (VᵀC_uV + ridge·I)⁻¹ VᵀC_u x_u with VᵀC_uV = VᵀV + confidence·Σ_i x_ui v_i v_iᵀ,
  one batched Cholesky factor per user (x_ui ≥ 0 when confidence > 0, so every
  c_ui ≥ 1). confidence = 0 is plain ridge regression (one shared factor); a large
  ridge tends to the sum of the history's item vectors.
* **LightGCN** (`fold_in_lightgcn`): the final embedding is the mean of the layers
  (He et al., SIGIR 2020, Eqs. 3-4), f_u = (e_u⁰ + Σ_{l=1..L} e_uˡ) / (L + 1), where
  layer l ≥ 1 comes from propagation over the user's own edges with the trained
  model's item layers, e_uˡ = Σ_{i∈N_u} e_iˡ⁻¹ / sqrt(|N_u| |N_i|) (|N_u| the history
  length, |N_i| the item's degree in the training graph; items outside it add
  nothing). The item layers are not updated by the new user's edges. The ego vector
  e_u⁰ is solved by the ridge above so that f_u fits the history (a ridge on the
  residual x_u − P_u·v with P_u the propagated part), or set to zero, or given.

Ridge convention (the library's, `solver.ridge_value`): ridge = reg · trace(G)/d,
relative to the mean diagonal of the item Gram G = VᵀV, unless ``absolute_reg``.

Histories are a scipy CSR [U, I] (values are x_ui: 1 for binary data). The host
functions sort users by history length and cut them into batches padded to a
power-of-two width (`prepare_histories`, reusable across calls), so the jitted
cores see few shapes and the cost is Σ_u |N_u|·d² rather than U·I·d².

The eval-embedding builders (`make_eval_embed`) return the ``eval_embed`` hook of
`trainers.loop.fit`: (params, graph) -> ([U, d] folded-in real users, [I, d] items).

`summary_rows` turns a continuous Distill-CF summary into the (user, positive item)
rows BPR trainers take, through `distill.export.binarize`; its default keeps the
summary's largest entries overall, as many as its mass (benchmarks/README.md,
"BPR-MF and LightGCN on the Distill-CF summary", for the measured choice).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse as sp
from jax import lax

from infinite_ae import solver
from infinite_ae.distill import export
from infinite_ae.types import Array, ArrayLike, PyTree

_PRECISION = lax.Precision.HIGHEST
MIN_WIDTH = 8
"""Smallest padded history width of a batch (widths are powers of two from here)."""
MAX_ENTRIES = 1 << 17
"""Default cap on the padded entries B·W of one batch (`prepare_histories`)."""
EGO_MODES = ("ridge", "zero")


# ----------------------------------------------------------------------------------
# Pure cores (jit-able; batches of padded histories).


def solve_user_vectors(
    items: ArrayLike,
    values: ArrayLike,
    item_emb: ArrayLike,
    *,
    reg: ArrayLike,
    confidence: float = 0.0,
    offset: ArrayLike | None = None,
    gram: ArrayLike | None = None,
    absolute_reg: bool = False,
) -> Array:
    """Weighted ridge user vectors of a batch of padded histories (module docstring).

    Solves, for each user b, min_u Σ_i c_bi (x_bi − (u + o_b)·v_i)² + ridge·|u|² with
    c_bi = 1 + confidence·x_bi over all I items; padded entries have x = 0.

    Args:
      items: [B, L] int item of each history entry (any valid item for padding).
      values: [B, L] float x of each entry (0 for padding).
      item_emb: [I, d] fixed item vectors v_i.
      reg: [] regulariser λ ≥ 0 (relative to trace(VᵀV)/d unless absolute_reg).
      confidence: α ≥ 0; a concrete 0 skips the per-user Gram term.
      offset: optional [B, d] fixed part o_b of each user's vector (the solution is
        the remainder u).
      gram: optional [d, d] VᵀV (computed from item_emb when None).
      absolute_reg: use reg as the ridge itself.

    Returns:
      [B, d] user vectors u in item_emb's dtype.

    >>> v = jnp.eye(3)
    >>> u = solve_user_vectors(jnp.array([[0, 2]]), jnp.array([[1.0, 1.0]]), v,
    ...                        reg=1e-6, absolute_reg=True)
    >>> [round(float(x), 3) for x in u[0]]
    [1.0, 0.0, 1.0]
    """
    item_emb = jnp.asarray(item_emb)
    dtype = item_emb.dtype
    values = jnp.asarray(values, dtype)
    items = jnp.asarray(items)
    if gram is None:
        gram = jnp.matmul(item_emb.T, item_emb, precision=_PRECISION)
    gram = jnp.asarray(gram, dtype)
    dim = item_emb.shape[1]
    ridge = solver.ridge_value(gram, reg, absolute_reg=absolute_reg)
    vecs = item_emb[items]  # [B, L, d]
    weighted = not (isinstance(confidence, int | float) and confidence == 0)
    conf = jnp.asarray(confidence, dtype)
    # Right-hand side Σ_i c_i x_i v_i (only history entries have x ≠ 0).
    rhs = jnp.einsum(
        "bl,bld->bd", (1.0 + conf * values) * values, vecs, precision=_PRECISION
    )
    lhs = jnp.broadcast_to(
        gram + ridge * jnp.eye(dim, dtype=dtype), (*items.shape[:1], dim, dim)
    )
    if weighted:
        lhs = lhs + conf * jnp.einsum(
            "bl,bld,ble->bde", values, vecs, vecs, precision=_PRECISION
        )
    if offset is not None:
        offset = jnp.asarray(offset, dtype)
        # Σ_i c_i (o·v_i) v_i = Gᵀo + α Σ_i x_i (o·v_i) v_i.
        rhs = rhs - jnp.matmul(offset, gram, precision=_PRECISION)
        if weighted:
            proj = jnp.einsum("bld,bd->bl", vecs, offset, precision=_PRECISION)
            rhs = rhs - conf * jnp.einsum(
                "bl,bld->bd", values * proj, vecs, precision=_PRECISION
            )
    factor = jax.scipy.linalg.cho_factor(lhs, lower=True)
    return jax.scipy.linalg.cho_solve(factor, rhs[..., None])[..., 0]


def propagated_sum(
    items: ArrayLike,
    values: ArrayLike,
    item_layers: ArrayLike,
    item_degrees: ArrayLike,
) -> Array:
    """Σ_{l=1..L} e_uˡ of LightGCN users propagated over their own edges.

    e_uˡ = Σ_{i∈N_u} e_iˡ⁻¹ / sqrt(|N_u| |N_i|) with N_u the entries with x > 0 and
    |N_i| the training-graph degree (items of degree 0 add nothing, as in
    `trainers.lightgcn.build_graph`).

    Args:
      items: [B, L] int item of each history entry.
      values: [B, L] float x (> 0 marks an edge; 0 for padding).
      item_layers: [L' + 1, I, d] the trained item layers (`LightGCN.embed_layers`).
      item_degrees: [I] item degrees in the training graph.

    Returns:
      [B, d] Σ over the L' propagated user layers.

    >>> layers = jnp.stack([jnp.eye(2), 2 * jnp.eye(2)])  # L' = 1
    >>> propagated_sum(jnp.array([[0, 1]]), jnp.array([[1.0, 0.0]]), layers,
    ...                jnp.array([4.0, 1.0])).tolist()
    [[0.5, 0.0]]
    """
    item_layers = jnp.asarray(item_layers)
    dtype = item_layers.dtype
    degrees = jnp.asarray(item_degrees, dtype)
    inv_item = jnp.where(degrees > 0, lax.rsqrt(jnp.maximum(degrees, 1e-12)), 0.0)
    # Σ_{l<L'} e_iˡ / sqrt(|N_i|): what one edge to item i adds over all layers.
    per_item = jnp.sum(item_layers[:-1], axis=0) * inv_item[:, None]
    edges = (jnp.asarray(values) > 0).astype(dtype)
    length = jnp.sum(edges, axis=1, keepdims=True)
    inv_user = jnp.where(length > 0, lax.rsqrt(jnp.maximum(length, 1.0)), 0.0)
    total = jnp.einsum(
        "bl,bld->bd", edges, per_item[jnp.asarray(items)], precision=_PRECISION
    )
    return total * inv_user


# ----------------------------------------------------------------------------------
# Host shells: CSR histories -> length-sorted padded batches -> jitted cores.


@dataclasses.dataclass(frozen=True)
class Histories:
    """CSR histories cut into length-sorted, padded batches (`prepare_histories`).

    Attributes:
      num_users: U.
      num_items: I.
      batches: tuples (rows [B] int64 user index, -1 for padding rows; items [B, W]
        int32; values [B, W] float32, 0 for padding), W a power of two.
    """

    num_users: int
    num_items: int
    batches: tuple[tuple[np.ndarray, np.ndarray, np.ndarray], ...]


def _width(length: int) -> int:
    return max(MIN_WIDTH, 1 << max(int(length) - 1, 0).bit_length())


def prepare_histories(
    histories: Any, *, batch_size: int = 1024, max_entries: int = MAX_ENTRIES
) -> Histories:
    """Sorts users by history length and pads them into batches.

    A batch holds B users padded to width W: W is the next power of two (≥
    `MIN_WIDTH`) of its longest history and B the largest power of two ≤
    ``batch_size`` with B·W ≤ ``max_entries`` (at least 1), so a few long histories
    do not pad a whole batch and the jitted cores see few shapes.

    Args:
      histories: [U, I] scipy sparse matrix (or dense array) of x_ui.
      batch_size: most users per batch.
      max_entries: most padded entries B·W per batch (the gathered item vectors of a
        batch take B·W·d numbers).

    Returns:
      `Histories`.

    Raises:
      ValueError: histories is not 2-D, or batch_size / max_entries < 1.

    >>> h = prepare_histories(sp.csr_matrix(np.eye(3, 4)), batch_size=2)
    >>> [b[0].tolist() for b in h.batches], h.batches[0][1].shape
    ([[0, 1], [2, -1]], (2, 8))
    """
    if isinstance(histories, Histories):
        return histories
    if batch_size < 1 or max_entries < 1:
        raise ValueError(
            f"batch_size ({batch_size}) and max_entries ({max_entries}) must be >= 1"
        )
    csr = sp.csr_matrix(histories, dtype=np.float32)
    if csr.ndim != 2:
        raise ValueError(f"histories must be [U, I], got shape {csr.shape}")
    csr.sum_duplicates()
    csr.eliminate_zeros()
    num_users, num_items = csr.shape
    lengths = np.diff(csr.indptr)
    order = np.argsort(lengths, kind="stable")
    top = 1 << (max(1, min(batch_size, num_users)).bit_length() - 1)
    batches = []
    start = 0
    while start < num_users:
        size = top
        width = _width(lengths[order[min(start + size, num_users) - 1]])
        while size > 1 and size * width > max_entries:
            size //= 2
            width = _width(lengths[order[min(start + size, num_users) - 1]])
        rows = order[start : start + size]
        items = np.zeros((size, width), np.int32)
        values = np.zeros((size, width), np.float32)
        for b, row in enumerate(rows):
            lo, hi = csr.indptr[row], csr.indptr[row + 1]
            items[b, : hi - lo] = csr.indices[lo:hi]
            values[b, : hi - lo] = csr.data[lo:hi]
        padded_rows = np.full(size, -1, np.int64)
        padded_rows[: len(rows)] = rows
        batches.append((padded_rows, items, values))
        start += size
    return Histories(num_users, num_items, tuple(batches))


_solve_jit = jax.jit(solve_user_vectors, static_argnames=("confidence", "absolute_reg"))
_propagated_jit = jax.jit(propagated_sum)


def _check_items(histories: Histories, num_items: int, what: str) -> None:
    if histories.num_items != num_items:
        raise ValueError(
            f"histories have {histories.num_items} items but {what} has {num_items}"
        )


def _check_options(
    reg: Any, confidence: float, histories: Histories | None = None
) -> None:
    solver.check_reg(reg, name="reg")
    if not np.isfinite(confidence) or confidence < 0:
        raise ValueError(f"confidence={confidence!r}: must be finite and >= 0")
    if confidence > 0 and histories is not None:
        lowest = min((float(b[2].min(initial=0)) for b in histories.batches), default=0)
        if lowest < 0:
            raise ValueError(
                f"confidence={confidence!r} needs histories >= 0 (c_ui = 1 + "
                f"confidence·x_ui must stay positive); found {lowest:g}"
            )


def _scatter(histories: Histories, parts: list[np.ndarray], dim: int, dtype) -> Array:
    out = np.zeros((histories.num_users, dim), dtype)
    for (rows, _, _), part in zip(histories.batches, parts, strict=True):
        keep = rows >= 0
        out[rows[keep]] = np.asarray(part)[keep]
    return jnp.asarray(out)


def fold_in(
    histories: Any,
    item_emb: ArrayLike,
    *,
    reg: float = 1.0,
    confidence: float = 0.0,
    absolute_reg: bool = False,
    batch_size: int = 1024,
) -> Array:
    """BPR-MF / matrix-factorisation fold-in: [U, d] user vectors (module docstring).

    Args:
      histories: [U, I] scipy sparse x_ui, or a `Histories`.
      item_emb: [I, d] fixed item vectors.
      reg: λ ≥ 0, relative to trace(VᵀV)/d unless absolute_reg.
      confidence: α ≥ 0 of c_ui = 1 + α x_ui (0: plain ridge).
      absolute_reg: use reg as the ridge itself.
      batch_size: users per solve (with a CSR).

    Returns:
      [U, d] user vectors in item_emb's dtype (users without history: zeros).

    Raises:
      ValueError: item_emb is not [I, d] for the histories' I, or a bad reg /
        confidence.

    >>> v = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> x = sp.csr_matrix(np.array([[2.0, 0.0, 2.0]]))  # = [2, 0] @ v.T
    >>> np.round(np.asarray(fold_in(x, v, reg=1e-6)), 3).tolist()
    [[2.0, 0.0]]
    """
    item_emb = jnp.asarray(item_emb)
    if item_emb.ndim != 2:
        raise ValueError(f"item_emb must be [I, d], got shape {item_emb.shape}")
    histories = prepare_histories(histories, batch_size=batch_size)
    _check_options(reg, confidence, histories)
    _check_items(histories, item_emb.shape[0], f"item_emb {item_emb.shape}")
    gram = jnp.matmul(item_emb.T, item_emb, precision=_PRECISION)
    parts = [
        _solve_jit(
            items,
            values,
            item_emb,
            reg=reg,
            confidence=float(confidence),
            gram=gram,
            absolute_reg=absolute_reg,
        )
        for _, items, values in histories.batches
    ]
    return _scatter(histories, parts, item_emb.shape[1], item_emb.dtype)


def fold_in_lightgcn(
    histories: Any,
    item_layers: ArrayLike,
    item_degrees: ArrayLike,
    *,
    ego: str | ArrayLike = "ridge",
    reg: float = 1.0,
    confidence: float = 0.0,
    absolute_reg: bool = False,
    batch_size: int = 1024,
) -> Array:
    """LightGCN fold-in: [U, d] final user embeddings (module docstring).

    f_u = (e_u⁰ + P_u) / (L + 1) with P_u = `propagated_sum`; scores are f_u·v̄_i with
    v̄ the mean item layer. ``ego``:

    * "ridge": e_u⁰ = argmin Σ_i c_ui (x_ui − f_u·v̄_i)² + ridge·|e_u⁰|², i.e. the
      `solve_user_vectors` problem with item vectors v̄/(L + 1) and offset P_u
      (ridge relative to the Gram of v̄/(L + 1));
    * "zero": e_u⁰ = 0;
    * a [U, d] array: the given ego vectors (a model's own users).

    Args:
      histories: [U, I] scipy sparse x_ui, or a `Histories`.
      item_layers: [L + 1, I, d] the trained item layers (`LightGCN.embed_layers`).
      item_degrees: [I] item degrees in the training graph (`graph_item_degrees`).
      ego: "ridge", "zero" or [U, d] ego vectors.
      reg: λ ≥ 0 of the "ridge" ego.
      confidence: α ≥ 0 of the "ridge" ego.
      absolute_reg: use reg as the ridge itself.
      batch_size: users per solve (with a CSR).

    Returns:
      [U, d] final user embeddings in item_layers' dtype.

    Raises:
      ValueError: mismatched shapes, an unknown ego mode or a bad reg / confidence.

    >>> layers = jnp.stack([jnp.eye(2), jnp.eye(2)])  # L = 1
    >>> x = sp.csr_matrix(np.array([[1.0, 0.0]]))
    >>> fold_in_lightgcn(x, layers, jnp.ones(2), ego="zero").tolist()
    [[0.5, 0.0]]
    """
    item_layers = jnp.asarray(item_layers)
    if item_layers.ndim != 3 or item_layers.shape[0] < 2:
        raise ValueError(
            f"item_layers must be [L + 1, I, d] with L >= 1, got {item_layers.shape}"
        )
    num_layers = item_layers.shape[0] - 1
    num_items, dim = item_layers.shape[1:]
    item_degrees = jnp.asarray(item_degrees)
    if item_degrees.shape != (num_items,):
        raise ValueError(
            f"item_degrees must be [I] = ({num_items},), got {item_degrees.shape}"
        )
    given = not isinstance(ego, str)
    if not given and ego not in EGO_MODES:
        raise ValueError(f"ego must be one of {EGO_MODES} or [U, d], got {ego!r}")
    histories = prepare_histories(histories, batch_size=batch_size)
    _check_options(reg, confidence, histories)
    _check_items(histories, num_items, f"item_layers {item_layers.shape}")
    if given:
        ego = np.asarray(ego, item_layers.dtype)
        if ego.shape != (histories.num_users, dim):
            raise ValueError(
                f"ego must be [U, d] = ({histories.num_users}, {dim}), got {ego.shape}"
            )
    scale = 1.0 / (num_layers + 1)
    final_items = jnp.mean(item_layers, axis=0) * scale
    gram = jnp.matmul(final_items.T, final_items, precision=_PRECISION)
    mode = "given" if given else ego
    parts = []
    for rows, items, values in histories.batches:
        prop = _propagated_jit(items, values, item_layers, item_degrees)
        if mode == "zero":
            ego_b = jnp.zeros_like(prop)
        elif mode == "given":
            ego_b = jnp.asarray(ego[np.maximum(rows, 0)])
        else:
            ego_b = _solve_jit(
                items,
                values,
                final_items,
                reg=reg,
                confidence=float(confidence),
                offset=prop,
                gram=gram,
                absolute_reg=absolute_reg,
            )
        parts.append((ego_b + prop) * scale)
    return _scatter(histories, parts, dim, item_layers.dtype)


def graph_item_degrees(graph: Any, num_items: int) -> Array:
    """[I] item degrees of a `trainers.lightgcn.Graph` (edges with weight > 0).

    Edge weights are in {0, 1}, so the degree is the count of edges with a non-zero
    normalised weight (duplicated edges count twice, as in `build_graph`).
    """
    edges = (graph.norm > 0).astype(jnp.float32)
    return jax.ops.segment_sum(edges, graph.items, num_segments=num_items)


# ----------------------------------------------------------------------------------
# `trainers.loop.fit` evaluation hooks.

EvalEmbed = Callable[[PyTree, Any], tuple[Array, Array]]


@functools.cache
def _embed_layers_fn(model):
    return jax.jit(model.embed_layers)


def bprmf_eval_embed(
    histories: Any,
    *,
    reg: float = 1.0,
    confidence: float = 0.0,
    absolute_reg: bool = False,
    batch_size: int = 1024,
) -> EvalEmbed:
    """The ``eval_embed`` hook of a BPR-MF trained on other users (`fold_in`).

    Args:
      histories: [U, I] real users' histories (for validation: the training split).
      reg, confidence, absolute_reg, batch_size: as `fold_in`.

    Returns:
      (params, graph) -> ([U, d] folded-in users, [I, d] params["item"]).
    """
    prepared = prepare_histories(histories, batch_size=batch_size)
    _check_options(reg, confidence, prepared)

    def eval_embed(params: PyTree, graph: Any) -> tuple[Array, Array]:
        del graph
        item_emb = params["item"]
        users = fold_in(
            prepared,
            item_emb,
            reg=reg,
            confidence=confidence,
            absolute_reg=absolute_reg,
        )
        return users, item_emb

    return eval_embed


def lightgcn_eval_embed(
    model: Any,
    histories: Any,
    *,
    ego: str = "ridge",
    reg: float = 1.0,
    confidence: float = 0.0,
    absolute_reg: bool = False,
    batch_size: int = 1024,
) -> EvalEmbed:
    """The ``eval_embed`` hook of a LightGCN trained on other users
    (`fold_in_lightgcn`).

    Args:
      model: the trained `trainers.LightGCN` (its `embed_layers`).
      histories: [U, I] real users' histories (for validation: the training split).
      ego, reg, confidence, absolute_reg, batch_size: as `fold_in_lightgcn`.

    Returns:
      (params, graph) -> ([U, d] folded-in final user embeddings, [I, d] mean item
      layers), the item layers and degrees from the training graph.
    """
    if ego not in EGO_MODES:
        raise ValueError(f"ego must be one of {EGO_MODES}, got {ego!r}")
    prepared = prepare_histories(histories, batch_size=batch_size)
    _check_options(reg, confidence, prepared)
    layers_fn = _embed_layers_fn(model)

    def eval_embed(params: PyTree, graph: Any) -> tuple[Array, Array]:
        _, item_layers = layers_fn(params, graph)
        degrees = graph_item_degrees(graph, item_layers.shape[1])
        users = fold_in_lightgcn(
            prepared,
            item_layers,
            degrees,
            ego=ego,
            reg=reg,
            confidence=confidence,
            absolute_reg=absolute_reg,
        )
        return users, jnp.mean(item_layers, axis=0)

    return eval_embed


def make_eval_embed(model: Any, histories: Any, **options: Any) -> EvalEmbed:
    """`bprmf_eval_embed` or `lightgcn_eval_embed` by ``model.name``.

    Raises:
      ValueError: a model without a fold-in (naming the valid ones), or an option
        the model does not take (``ego`` is LightGCN's).
    """
    name = getattr(model, "name", type(model).__name__)
    if name == "bprmf":
        if "ego" in options:
            raise ValueError("ego is an option of the LightGCN fold-in only")
        return bprmf_eval_embed(histories, **options)
    if name == "lightgcn":
        return lightgcn_eval_embed(model, histories, **options)
    raise ValueError(f"no fold-in for model {name!r}; valid: ['bprmf', 'lightgcn']")


# ----------------------------------------------------------------------------------
# Summary -> BPR training rows.

ROW_MODES = ("global_topk", "topk", "sample", "threshold")


def summary_rows(
    summary: ArrayLike,
    *,
    mode: str = "global_topk",
    logits: ArrayLike | None = None,
    rng: np.random.Generator | None = None,
    k: int | None = None,
    num_entries: int | None = None,
    num_samples: int = 200,
    threshold: float = 0.5,
) -> tuple[np.ndarray, np.ndarray]:
    """(user, positive item) training rows of a continuous summary.

    The summary is binarised by `distill.export.binarize` and every kept entry
    becomes one row. Modes:

    * "global_topk": the ``num_entries`` largest entries of the whole summary
      (default round(total mass), as many as the summary's mass; ties at the cut
      are kept): binarize's threshold at the num_entries-th largest value. Rows
      keep as many items as their entries stand out, so row lengths vary.
    * "topk": each row's k largest entries (k = round(row mass) by default).
    * "sample": the union of ``num_samples`` categorical draws from softmax(logits).
    * "threshold": entries ≥ ``threshold``.

    On the ML-1M summary "global_topk" trains BPR-MF best (benchmarks/README.md,
    "BPR-MF and LightGCN on the Distill-CF summary").

    Args:
      summary: [S, I] continuous summary (dense or sparse).
      mode: "global_topk" | "topk" | "sample" | "threshold".
      logits: [S, I] the summary's logits (mode "sample").
      rng: NumPy generator (mode "sample").
      k: items per row for "topk" (None: round(row mass), at least 1).
      num_entries: entries kept by "global_topk" (None: round(total mass)).
      num_samples: draws per row for "sample".
      threshold: t for "threshold".

    Returns:
      (users [N] int32, items [N] int32), sorted by user then item.

    Raises:
      ValueError: an unknown mode, a missing logits / rng for "sample", a summary
        that is not 2-D, or one that yields no rows.

    >>> summary = np.array([[0.9, 0.1, 0.6], [0.2, 0.7, 0.3]])
    >>> users, items = summary_rows(summary, mode="topk")
    >>> users.tolist(), items.tolist()
    ([0, 0, 1], [0, 2, 1])
    >>> users, items = summary_rows(summary)  # the 3 largest entries overall
    >>> users.tolist(), items.tolist()
    ([0, 0, 1], [0, 2, 1])
    """
    if mode not in ROW_MODES:
        raise ValueError(f"mode must be one of {ROW_MODES}, got {mode!r}")
    dense = summary.toarray() if sp.issparse(summary) else np.asarray(summary)
    dense = np.asarray(dense, np.float32)
    if dense.ndim != 2:
        raise ValueError(f"summary must be [S, I], got shape {dense.shape}")
    if mode == "sample" and (logits is None or rng is None):
        raise ValueError("mode='sample' needs the summary's logits and an rng")
    if mode == "global_topk":
        if num_entries is None:
            num_entries = int(np.rint(dense.sum(dtype=np.float64)))
        num_entries = int(np.clip(num_entries, 1, dense.size))
        flat = dense.reshape(-1)
        threshold = float(np.partition(flat, flat.size - num_entries)[-num_entries])
        mode = "threshold"
    binary = export.binarize(
        dense,
        dense if logits is None else np.asarray(logits, np.float32),
        mode=mode,
        rng=rng,
        num_samples=num_samples,
        k=k,
        threshold=threshold,
    ).tocoo()
    if binary.nnz == 0:
        raise ValueError(
            f"mode={mode!r} keeps no entry of the summary (max value "
            f"{float(dense.max(initial=0)):.3g}); use another mode or a lower threshold"
        )
    order = np.lexsort((binary.col, binary.row))
    return binary.row[order].astype(np.int32), binary.col[order].astype(np.int32)
