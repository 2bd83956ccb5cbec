"""BPR-MF and LightGCN vs slow NumPy references on a tiny case; padding invariants."""

import functools
import types

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import scipy.sparse as sp
from absl.testing import absltest, parameterized

from infinite_ae import trainers
from infinite_ae.trainers import loop, negatives

RTOL = 1e-5
ATOL = 1e-6

U, I, D = 3, 4, 2  # noqa: E741
USERS = np.array([0, 0, 1, 2, 2], np.int32)
POS = np.array([1, 2, 0, 3, 1], np.int32)
NEG = np.array([0, 3, 2, 0, 2], np.int32)
REG = 1e-2


def _np_embed(kind, user, item):
    if kind == "bprmf":
        return user, item
    kind = "lightgcn"
    adj = np.zeros((U, I))
    adj[USERS, POS] = 1.0
    du, di = adj.sum(1), adj.sum(0)
    inv_u = np.where(du > 0, 1 / np.sqrt(np.maximum(du, 1e-12)), 0.0)
    inv_i = np.where(di > 0, 1 / np.sqrt(np.maximum(di, 1e-12)), 0.0)
    norm = inv_u[:, None] * adj * inv_i[None, :]
    layers_u, layers_i = [user], [item]
    for _ in range(3):
        nu = norm @ layers_i[-1]
        ni = norm.T @ layers_u[-1]
        layers_u.append(nu)
        layers_i.append(ni)
    return np.mean(layers_u, 0), np.mean(layers_i, 0)


def _np_loss(kind, flat, weights):
    user = flat[: U * D].reshape(U, D)
    item = flat[U * D :].reshape(I, D)
    eu, ei = _np_embed(kind, user, item)
    total = 0.0
    count = max(weights.sum(), 1.0)
    for b in range(len(USERS)):
        u, i, j = USERS[b], POS[b], NEG[b]
        diff = eu[u] @ ei[i] - eu[u] @ ei[j]
        bpr = np.log1p(np.exp(-diff))
        reg = REG * (user[u] @ user[u] + item[i] @ item[i] + item[j] @ item[j])
        total += weights[b] * (bpr + reg)
    return total / count


def _model(kind):
    if kind == "lightgcn_xla":
        return trainers.LightGCN(
            num_users=U,
            num_items=I,
            embedding_dim=D,
            reg_weight=REG,
            backend="segment_sum",
        )
    cls = trainers.get_trainer(kind)
    return cls(num_users=U, num_items=I, embedding_dim=D, reg_weight=REG)


class ModelsTest(parameterized.TestCase):
    @parameterized.parameters("bprmf", "lightgcn", "lightgcn_xla")
    def test_forward_and_loss_match_numpy(self, kind):
        model = _model(kind)
        params = model.init(jax.random.key(0))
        weights = np.array([1, 1, 0, 1, 1], np.float32)
        graph = model.make_graph(
            jnp.asarray(USERS), jnp.asarray(POS), jnp.ones(len(USERS))
        )
        eu, ei = model.embed(params, graph)
        ref_u, ref_i = _np_embed(
            kind, np.asarray(params["user"], np.float64), np.asarray(params["item"])
        )
        np.testing.assert_allclose(eu, ref_u, rtol=RTOL, atol=ATOL)
        np.testing.assert_allclose(ei, ref_i, rtol=RTOL, atol=ATOL)
        loss, _ = model.loss(params, graph, USERS, POS, NEG, weights)
        flat = np.concatenate(
            [np.ravel(params["user"]), np.ravel(params["item"])]
        ).astype(np.float64)
        np.testing.assert_allclose(
            loss, _np_loss(kind, flat, weights), rtol=RTOL, atol=ATOL
        )

    @parameterized.parameters("bprmf", "lightgcn", "lightgcn_xla")
    def test_one_adam_step_matches_numpy(self, kind):
        model = _model(kind)
        params = model.init(jax.random.key(1))
        weights = np.ones(len(USERS), np.float32)
        graph = model.make_graph(
            jnp.asarray(USERS), jnp.asarray(POS), jnp.ones(len(USERS))
        )
        grads = jax.grad(lambda p: model.loss(p, graph, USERS, POS, NEG, weights)[0])(
            params
        )
        opt = optax.adam(0.1)
        updates, _ = opt.update(grads, opt.init(params), params)
        new = optax.apply_updates(params, updates)
        # NumPy reference: central finite differences in float64 and Adam's first
        # step, which is -lr * g / (|g| + eps) after bias correction.
        flat = np.concatenate(
            [np.ravel(params["user"]), np.ravel(params["item"])]
        ).astype(np.float64)
        eps = 1e-6
        g = np.zeros_like(flat)
        for k in range(flat.size):
            e = np.zeros_like(flat)
            e[k] = eps
            g[k] = (
                _np_loss(kind, flat + e, weights) - _np_loss(kind, flat - e, weights)
            ) / (2 * eps)
        jax_g = np.concatenate([np.ravel(grads["user"]), np.ravel(grads["item"])])
        np.testing.assert_allclose(jax_g, g, rtol=1e-4, atol=1e-6)
        ref_new = flat - 0.1 * g / (np.abs(g) + 1e-8)
        jax_new = np.concatenate([np.ravel(new["user"]), np.ravel(new["item"])])
        # Entries with a ~zero gradient are sensitive to eps; compare the rest.
        big = np.abs(g) > 1e-5
        np.testing.assert_allclose(jax_new[big], ref_new[big], rtol=1e-4, atol=1e-5)

    @parameterized.parameters("bprmf", "lightgcn", "lightgcn_xla")
    def test_padded_rows_contribute_zero_loss_and_gradient(self, kind):
        model = _model(kind)
        params = model.init(jax.random.key(2))
        graph = model.make_graph(
            jnp.asarray(USERS), jnp.asarray(POS), jnp.ones(len(USERS))
        )
        w = np.array([1, 1, 1, 0, 0], np.float32)
        padded_users = USERS.copy()
        padded_users[3:] = 0  # arbitrary content in padded rows

        def f(p, u):
            return model.loss(p, graph, u, POS, NEG, w)[0]

        def f_real(p):
            return model.loss(p, graph, USERS[:3], POS[:3], NEG[:3], w[:3])[0]

        np.testing.assert_allclose(f(params, padded_users), f_real(params), rtol=RTOL)
        g1 = jax.grad(f)(params, padded_users)
        g2 = jax.grad(f_real)(params)
        for a, b in zip(jax.tree.leaves(g1), jax.tree.leaves(g2), strict=True):
            np.testing.assert_allclose(a, b, rtol=RTOL, atol=1e-8)

    # The padding logic is model-agnostic (train_epoch, build_graph); the XLA
    # propagation is checked against NumPy above.
    @parameterized.parameters("bprmf", "lightgcn")
    @pytest.mark.slow  # two epochs per model: about 7 s
    def test_epoch_padding_is_a_no_op(self, kind):
        model = _model(kind)
        opt = loop.make_optimizer()
        sampler = negatives.UniformNegativeSampler(num_items=I)
        excluded = jnp.asarray(negatives.exclusion_keys(USERS, POS, I))
        epoch = jax.jit(
            functools.partial(
                loop.train_epoch,
                model=model,
                optimizer=opt,
                sampler=sampler,
                batch_size=2,
            )
        )
        key = jax.random.key(3)
        state = loop.init_state(model, opt, jax.random.key(4), 0.01)
        w = np.ones(len(USERS), np.float32)
        s1, m1 = epoch(state, key, USERS, POS, w, excluded)
        # The same rows plus 7 padding rows (and so extra, all-padding batches).
        pu = np.concatenate([USERS, np.zeros(7, np.int32)])
        pi = np.concatenate([POS, np.zeros(7, np.int32)])
        pw = np.concatenate([w, np.zeros(7, np.float32)])
        s2, m2 = epoch(state, key, pu, pi, pw, excluded)
        for a, b in zip(jax.tree.leaves(s1), jax.tree.leaves(s2), strict=True):
            np.testing.assert_allclose(a, b, rtol=RTOL, atol=1e-7)
        np.testing.assert_allclose(m1["loss"], m2["loss"], rtol=RTOL)
        self.assertEqual(int(s1.step), 3)

    def test_get_trainer_unknown_lists_names(self):
        with self.assertRaisesRegex(ValueError, "bprmf.*lightgcn"):
            trainers.get_trainer("ngcf")


class RankingMetricsTest(absltest.TestCase):
    def test_matches_slow_reference(self):
        # `loop.ranking_metrics` goes through `infinite_ae.evaluation.evaluate`.
        rng = np.random.default_rng(1)
        nu, ni, d = 7, 15, 3
        ue = rng.normal(size=(nu, d)).astype(np.float32)
        ie = rng.normal(size=(ni, d)).astype(np.float32)
        mask = sp.csr_matrix((rng.random((nu, ni)) < 0.3).astype(np.float32))
        tgt = (rng.random((nu, ni)) < 0.2) & (mask.toarray() == 0)
        tgt[0] = False  # a user without targets is skipped
        target = sp.csr_matrix(tgt.astype(np.float32))
        val = (rng.random((nu, ni)) < 0.1) & (mask.toarray() == 0) & ~tgt
        data = types.SimpleNamespace(
            train=mask, val=sp.csr_matrix(val.astype(np.float32)), test=target
        )
        # test_mask="train": validation items stay rankable (RecBole full sort).
        got = loop.ranking_metrics(ue, ie, data, split="test", ks=(5, 10))
        scores = ue @ ie.T
        ref = {"recall@5": [], "ndcg@5": [], "recall@10": [], "ndcg@10": []}
        for u in range(nu):
            t = set(np.flatnonzero(tgt[u]))
            if not t:
                continue
            s = scores[u].copy()
            s[mask[u].toarray()[0] > 0] = -np.inf
            ranked = np.argsort(-s, kind="stable")
            for k in (5, 10):
                hits = [1.0 if ranked[r] in t else 0.0 for r in range(k)]
                dcg = sum(h / np.log2(r + 2) for r, h in enumerate(hits))
                idcg = sum(1 / np.log2(r + 2) for r in range(min(len(t), k)))
                ref[f"recall@{k}"].append(sum(hits) / len(t))
                ref[f"ndcg@{k}"].append(dcg / idcg)
        for key, values in ref.items():
            np.testing.assert_allclose(got[key], 100 * np.mean(values), rtol=1e-5)
        self.assertEqual(got["num_users"], int((tgt.sum(1) > 0).sum()))


class FitTest(absltest.TestCase):
    def test_fit_learns_planted_structure(self):
        # Two user groups that like two disjoint item blocks.
        rng = np.random.default_rng(0)
        nu, ni = 40, 20
        prefs = np.zeros((nu, ni), bool)
        prefs[: nu // 2, : ni // 2] = True
        prefs[nu // 2 :, ni // 2 :] = True
        observed = prefs & (rng.random((nu, ni)) < 0.7)
        split = rng.random((nu, ni))
        tr = observed & (split < 0.7)
        va = observed & (split >= 0.7) & (split < 0.85)
        te = observed & (split >= 0.85)
        data = types.SimpleNamespace(
            train=sp.csr_matrix(tr.astype(np.float32)),
            val=sp.csr_matrix(va.astype(np.float32)),
            test=sp.csr_matrix(te.astype(np.float32)),
        )
        u, i = np.nonzero(tr)
        model = trainers.BPRMF(num_users=nu, num_items=ni, embedding_dim=8)
        result = trainers.fit(
            model, u, i, data, learning_rate=0.05, batch_size=64, max_epochs=30
        )
        # A perfect block model ranks ~5 unmasked in-block items (test, val and
        # unobserved) first, in arbitrary order: nDCG@10 ~ 0.6; random ~ 0.3.
        self.assertGreater(result.test["ndcg@10"], 50.0)
        self.assertLen(result.history, result.epochs)


if __name__ == "__main__":
    absltest.main()
