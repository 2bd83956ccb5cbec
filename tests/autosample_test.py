"""AutoSample-style search: mixture, hypergradient, degeneracy, search, oracle."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from absl.testing import absltest, parameterized

from infinite_ae import autosample
from infinite_ae.autosample import mixture
from infinite_ae.autosample import selector as selector_lib
from infinite_ae.autosample import unroll as unroll_lib
from infinite_ae.data import make_markov_sequences, synthetic
from infinite_ae.trainers import bpr_mf, lightgcn, negatives, sasrec

# float64 hypergradient vs jax.grad of the unroll (same maths, other order).
HYPER_RTOL = 1e-9
# float64 central differences with step 1e-4 on a smooth toy MF.
FD_RTOL, FD_EPS = 1e-5, 1e-4
SPECS = ("uniform", "popularity", ("dns", {"num_candidates": 8}))


@functools.cache
def _data():
    return synthetic.make_synthetic(
        120, 60, mean_degree=12.0, num_clusters=4, cluster_affinity=0.9, seed=3
    )


def _rows(data):
    coo = data.train.tocoo()
    return coo.row.astype(np.int32), coo.col.astype(np.int32)


def _batch(model, samplers, params, graph, data, size=64, key=0):
    users, items = _rows(data)
    users, items = jnp.asarray(users[:size]), jnp.asarray(items[:size])
    keys = jnp.asarray(negatives.exclusion_keys(*_rows(data), data.num_items))
    counts = np.bincount(_rows(data)[1], minlength=data.num_items)
    states = tuple(negatives.init_sampler_state(s, counts, model) for s in samplers)
    w = jnp.ones(users.shape)
    draw = jax.jit(mixture.draw_negatives, static_argnums=(1, 2))
    negs, _ = draw(
        jax.random.key(key),
        model,
        samplers,
        states,
        params,
        graph,
        users,
        items,
        w,
        keys,
    )
    return users, items, w, negs


@pytest.mark.slow  # both models' mixed losses: about 11 s
class MixtureTest(parameterized.TestCase):
    @parameterized.parameters("bprmf", "lightgcn")
    def test_one_hot_weights_give_the_single_sampler_loss(self, kind):
        data = _data()
        if kind == "bprmf":
            model = bpr_mf.BPRMF(data.num_users, data.num_items, 8)
        else:
            model = lightgcn.LightGCN(
                data.num_users, data.num_items, 8, backend="segment_sum"
            )
        users, items = _rows(data)
        graph = model.make_graph(
            jnp.asarray(users), jnp.asarray(items), jnp.ones(users.shape)
        )
        samplers = selector_lib.build_samplers(SPECS, data.num_items)
        params = model.init(jax.random.key(0))
        u, i, w, negs = _batch(model, samplers, params, graph, data)
        losses = jax.jit(mixture.sampler_losses, static_argnums=0)(
            model, params, graph, u, i, negs, w
        )
        single_loss = jax.jit(lambda neg: model.loss(params, graph, u, i, neg, w)[0])
        for s, neg in enumerate(negs):
            alpha = jax.nn.one_hot(s, len(samplers))
            single = single_loss(neg)
            np.testing.assert_allclose(jnp.dot(alpha, losses), single, rtol=1e-6)
        # Softmax of a dominant logit is one-hot to float32 precision.
        alpha = mixture.mixture_weights(jnp.array([0.0, 50.0, 0.0]), 1.0)
        np.testing.assert_allclose(alpha, [0.0, 1.0, 0.0], atol=1e-12)


class HypergradientTest(absltest.TestCase):
    @pytest.mark.slow  # float64 unrolls and finite differences: about 10 s
    def test_first_order_equals_grad_through_unroll_and_finite_differences(self):
        data = _data()
        with jax.enable_x64(True):
            model = bpr_mf.BPRMF(data.num_users, data.num_items, 4)
            params = jax.tree.map(
                lambda x: x.astype(jnp.float64), model.init(jax.random.key(1))
            )
            samplers = selector_lib.build_samplers(SPECS, data.num_items)
            u, i, w, negs = _batch(model, samplers, params, None, data)
            w = w.astype(jnp.float64)
            vu, vi = (jnp.asarray(x[:50]) for x in _rows(data))
            vw = jnp.ones(vu.shape, jnp.float64)
            alpha = jnp.array([0.5, 0.3, 0.2], jnp.float64)
            xi = 0.7

            @jax.jit
            def first_order(alpha):
                _, grads = unroll_lib.sampler_gradients(
                    model, params, None, u, i, negs, w
                )
                return unroll_lib.hypergradient(
                    model, params, None, grads, alpha, xi, vu, vi, vw
                )[0]

            got = first_order(alpha)

            @jax.jit
            def unrolled_val(a):
                train_grad = jax.grad(
                    lambda p: jnp.dot(
                        a, mixture.sampler_losses(model, p, None, u, i, negs, w)
                    )
                )(params)
                theta = jax.tree.map(lambda p, g: p - xi * g, params, train_grad)
                return unroll_lib.validation_loss(model, theta, None, vu, vi, vw)

            np.testing.assert_allclose(
                got, jax.grad(unrolled_val)(alpha), rtol=HYPER_RTOL
            )
            eye = jnp.eye(3, dtype=jnp.float64)
            fd = jnp.array(
                [
                    (
                        unrolled_val(alpha + FD_EPS * e)
                        - unrolled_val(alpha - FD_EPS * e)
                    )
                    / (2 * FD_EPS)
                    for e in eye
                ]
            )
            np.testing.assert_allclose(got, fd, rtol=FD_RTOL)
            self.assertGreater(float(jnp.max(jnp.abs(got))), 0.0)
            # The top-heavy objective: its rivals are chosen without gradient, so
            # the first-order formula is jax.grad through the unroll again.
            keys = jnp.asarray(negatives.exclusion_keys(*_rows(data), data.num_items))
            top_bpr = functools.partial(
                unroll_lib.validation_loss,
                model,
                graph=None,
                users=vu,
                items=vi,
                weights=vw,
                objective="top_bpr",
                excluded_keys=keys,
                top_k=5,
            )

            @jax.jit
            def top_first_order(alpha):
                _, grads = unroll_lib.sampler_gradients(
                    model, params, None, u, i, negs, w
                )
                return unroll_lib.hypergradient_of(top_bpr, params, grads, alpha, xi)[0]

            _, grads = jax.jit(unroll_lib.sampler_gradients, static_argnums=0)(
                model, params, None, u, i, negs, w
            )
            got_top = top_first_order(alpha)

            @jax.jit
            def unrolled_top(a):
                theta = jax.tree.map(
                    lambda p, g: p - xi * g, params, unroll_lib.combine(a, grads)
                )
                return top_bpr(theta)

            np.testing.assert_allclose(
                got_top, jax.jit(jax.grad(unrolled_top))(alpha), rtol=HYPER_RTOL
            )


class SequentialValidationLossTest(absltest.TestCase):
    def test_matches_a_per_user_loop(self):
        num_items, top_k = 8, 4
        model = sasrec.SASRec(
            num_items=num_items, max_len=5, embedding_dim=8, num_heads=1, num_blocks=1
        )
        params = jax.jit(model.init)(jax.random.key(0))
        # item + 1, right-aligned. The second user's 5 history items and target
        # leave 2 competitors (< top_k); the third repeats one item.
        histories = np.array(
            [[0, 0, 3, 7, 1], [2, 3, 4, 5, 6], [0, 0, 5, 5, 5]], np.int32
        )
        items = np.array([4, 0, 4], np.int32)
        scores = jax.jit(model.scores)(params, jnp.asarray(histories))
        scores = np.asarray(scores, np.float64)
        top_terms, softmax_terms = [], []
        for s, history, item in zip(scores, histories, items, strict=True):
            softmax_terms.append(np.log(np.exp(s).sum()) - s[item])
            blocked = {h - 1 for h in history if h > 0} | {int(item)}
            competitors = [j for j in np.argsort(-s) if j not in blocked][:top_k]
            top_terms.extend(np.log1p(np.exp(s[j] - s[item])) for j in competitors)
        self.assertLen(top_terms, 4 + 2 + 4)
        for objective, expected in (
            ("top_bpr", np.mean(top_terms)),
            ("softmax", np.mean(softmax_terms)),
        ):
            loss = jax.jit(
                functools.partial(
                    autosample.sequential.validation_loss,
                    model,
                    objective=objective,
                    top_k=top_k,
                )
            )
            got = loss(params, jnp.asarray(histories), jnp.asarray(items))
            np.testing.assert_allclose(float(got), expected, rtol=1e-5)


class SearchTest(absltest.TestCase):
    @pytest.mark.slow  # a search on the training loss: about 4 s
    def test_training_loss_collapses_onto_the_easiest_sampler(self):
        # Uniform negatives are the easiest (lowest loss); DNS picks the hardest of
        # 16. Weights driven by the training loss put everything on uniform.
        data = _data()
        model = bpr_mf.BPRMF(data.num_users, data.num_items, 8)
        users, items = _rows(data)
        result = autosample.search(
            model,
            users,
            items,
            data,
            samplers=("dns", "uniform"),
            epochs=6,
            learning_rate=0.02,
            arch_learning_rate=0.1,
            batch_size=128,
            val_batch_size=64,
            objective="train",
            seed=0,
        )
        self.assertEqual(result.selected_label, "uniform")
        self.assertGreater(result.trajectory[-1, 1], 0.95)
        self.assertEqual(result.trajectory.shape, (6, 2))

    @pytest.mark.slow
    def test_weighted_search_records_weights_and_retrains_warm(self):
        data = _data()
        model = bpr_mf.BPRMF(data.num_users, data.num_items, 8)
        users, items = _rows(data)
        logged = []
        result = autosample.autosample(
            model,
            users,
            items,
            data,
            samplers=SPECS,
            compare_scratch=True,
            search_options=dict(
                epochs=4, learning_rate=0.02, batch_size=128, val_batch_size=64
            ),
            fit_options=dict(learning_rate=0.02, batch_size=128, max_epochs=5),
            log_fn=lambda stage, epoch, record: logged.append(stage),
        )
        search = result.search
        self.assertEqual(search.trajectory.shape, (4, 3))
        np.testing.assert_allclose(search.trajectory.sum(1), 1.0, rtol=1e-5)
        self.assertEqual(search.selected, int(np.argmax(search.weights)))
        self.assertIn(search.selected_label, ("uniform", "popularity", "dns"))
        self.assertEqual(logged.count("search"), 4)
        self.assertIn("retrain", logged)
        self.assertIn("scratch", logged)
        self.assertIsNotNone(result.scratch)
        self.assertGreater(result.seconds, search.seconds)
        # The warm start begins where the search ended: its first validation is
        # the search's parameters after one more epoch, better than scratch's.
        self.assertGreater(
            result.retrain.history[0]["val/ndcg@10"],
            result.scratch.history[0]["val/ndcg@10"],
        )

    @pytest.mark.slow
    def test_bandit_search_and_exhaustive_oracle(self):
        data = _data()
        model = bpr_mf.BPRMF(data.num_users, data.num_items, 8)
        users, items = _rows(data)
        specs = ("uniform", "popularity")
        result = autosample.search_bandit(
            model,
            users,
            items,
            data,
            samplers=specs,
            epochs=6,
            learning_rate=0.02,
            batch_size=128,
            seed=1,
        )
        self.assertEqual(result.trajectory.shape, (6, 2))
        self.assertEqual([h["arm"] for h in result.history[:2]], [0, 1])
        np.testing.assert_allclose(result.trajectory.sum(1), 1.0)
        seen = []
        oracle = autosample.exhaustive_search(
            model,
            users,
            items,
            data,
            samplers=specs,
            fit_options=dict(learning_rate=0.02, batch_size=128, max_epochs=3),
            done={"uniform": {"val": {"ndcg@10": -1.0}, "seconds": 2.0}},
            on_result=lambda label, record: seen.append(label),
        )
        self.assertEqual(seen, ["popularity"])  # the cached one is not retrained
        self.assertEqual(oracle["best"], "popularity")
        self.assertGreater(oracle["seconds"], 2.0)

    @pytest.mark.slow
    def test_sequential_search_and_warm_retraining(self):
        seqs, _ = make_markov_sequences(150, 20, mean_length=8, seed=4)
        model = sasrec.SASRec(
            num_items=20,
            max_len=8,
            embedding_dim=16,
            num_heads=1,
            num_blocks=1,
            dropout_rate=0.0,
        )
        result = autosample.sequential.autosample(
            model,
            seqs,
            samplers=("uniform", "dns"),
            loss="bce",
            num_negatives=2,
            search_options=dict(
                epochs=3, learning_rate=1e-2, batch_size=64, val_batch_size=32
            ),
            fit_options=dict(learning_rate=1e-2, batch_size=64, max_epochs=2),
        )
        search = result.search
        self.assertEqual(search.trajectory.shape, (3, 2))
        np.testing.assert_allclose(search.trajectory.sum(1), 1.0, rtol=1e-5)
        self.assertIn(search.selected_label, ("uniform", "dns"))
        self.assertEqual(result.retrain.epochs, 2)
        self.assertIn("ndcg@10", result.retrain.test)
        with self.assertRaisesRegex(ValueError, "sampled loss"):
            autosample.sequential.search(model, seqs, samplers=("uniform",), loss="ce")
        seen = []
        oracle = autosample.sequential.exhaustive_search(
            model,
            seqs,
            samplers=("uniform", "dns"),
            loss="bce",
            num_negatives=2,
            fit_options=dict(learning_rate=1e-2, batch_size=64, max_epochs=2),
            done={"uniform": {"val": {"ndcg@10": -1.0}, "seconds": 2.0}},
            on_result=lambda label, record: seen.append(label),
        )
        self.assertEqual(seen, ["dns"])  # the cached one is not retrained
        self.assertEqual(oracle["best"], "dns")
        self.assertEqual(oracle["results"]["dns"]["epochs"], 2)
        self.assertGreater(oracle["seconds"], 2.0)

    def test_bad_arguments(self):
        data = _data()
        model = bpr_mf.BPRMF(data.num_users, data.num_items, 8)
        users, items = _rows(data)
        with self.assertRaisesRegex(ValueError, "distinct"):
            selector_lib.build_samplers(("dns", "dns"), data.num_items)
        with self.assertRaisesRegex(ValueError, "mode"):
            autosample.autosample(
                model, users, items, data, samplers=SPECS, mode="grid"
            )
        with self.assertRaisesRegex(ValueError, "S=2"):
            autosample.search_bandit(
                model, users, items, data, samplers=("uniform", "dns"), epochs=2
            )


if __name__ == "__main__":
    absltest.main()
