"""Tests of infinite_ae.sampling: the multi-draw custom VJP against plain autodiff."""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
from absl.testing import absltest, parameterized
from jax.test_util import check_grads

from infinite_ae import sampling

RTOL = {jnp.float32: 2e-5, jnp.float64: 1e-10}
ATOL = {jnp.float32: 1e-6, jnp.float64: 1e-12}


def _problem(dtype, shape=(3, 7)):
    logits = jax.random.normal(jax.random.key(1), shape, dtype) * 2.0
    cotangent = jax.random.normal(jax.random.key(2), shape, dtype)
    return logits, cotangent


class SumGumbelSoftmaxTest(parameterized.TestCase):
    @parameterized.product(temperature=[0.3, 1.0, 10.0], num_draws=[1, 5])
    def test_value_and_grad_match_unrolled_loop(self, temperature, num_draws):
        logits, cotangent = _problem(jnp.float32)
        key = jax.random.key(3)

        def loss(fn, logits, temperature):
            out = fn(key, logits, temperature=temperature, num_draws=num_draws)
            return jnp.sum(out * cotangent)

        fast = functools.partial(loss, sampling.sum_gumbel_softmax)
        naive = functools.partial(loss, sampling.sum_gumbel_softmax_reference)
        t = jnp.float32(temperature)
        np.testing.assert_allclose(fast(logits, t), naive(logits, t), rtol=1e-5)
        g_fast = jax.jit(jax.grad(fast, argnums=(0, 1)))(logits, t)
        g_naive = jax.grad(naive, argnums=(0, 1))(logits, t)
        for a, b in zip(g_fast, g_naive, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)

    def test_check_grads_float64(self):
        with jax.enable_x64(True):
            logits, _ = _problem(jnp.float64, (2, 5))
            key = jax.random.key(4)
            fn = lambda lg, t: sampling.sum_gumbel_softmax(
                key, lg, temperature=t, num_draws=4
            )
            check_grads(
                fn,
                (logits, jnp.float64(0.7)),
                order=1,
                modes=["rev"],
                atol=1e-6,
                rtol=1e-6,
            )

    def test_draws_are_distinct(self):
        logits = jnp.zeros((1, 50))
        key = jax.random.key(5)
        draws = [sampling._draw(key, logits, 1.0, j)[1] for j in range(3)]
        self.assertFalse(np.allclose(draws[0], draws[1]))
        self.assertFalse(np.allclose(draws[1], draws[2]))

    def test_row_sums_and_shape(self):
        out = sampling.sum_gumbel_softmax(
            jax.random.key(0), jnp.zeros((4, 9)), temperature=2.0, num_draws=6
        )
        chex.assert_shape(out, (4, 9))
        np.testing.assert_allclose(out.sum(-1), 6.0, rtol=1e-5)

    def test_rejects_bad_shapes(self):
        with self.assertRaises(ValueError):
            sampling.sum_gumbel_softmax(
                jax.random.key(0), jnp.zeros(3), temperature=1.0, num_draws=2
            )
        with self.assertRaises(ValueError):
            sampling.sample_synthetic_users(
                jax.random.key(0),
                jnp.zeros((2, 3)),
                temperature=1.0,
                num_samples=2,
                num_draws=3,
            )


class SampleSyntheticUsersTest(parameterized.TestCase):
    def test_clip_and_its_gradient(self):
        logits = jnp.array([[5.0, 0.0, 0.0, 0.0]])
        key = jax.random.key(0)
        f = lambda lg: sampling.sample_synthetic_users(
            key, lg, temperature=0.1, num_samples=20
        )
        x = f(logits)
        self.assertEqual(float(x[0, 0]), 1.0)
        self.assertLessEqual(float(x.max()), 1.0)
        # Only unsaturated entries pass gradient.
        g = jax.grad(lambda lg: jnp.sum(f(lg)[0, 0]))(logits)
        np.testing.assert_allclose(g, 0.0)

    def test_fewer_draws_unbiased_at_high_temperature(self):
        logits = jax.random.normal(jax.random.key(1), (20, 30))
        key = jax.random.key(2)
        full = sampling.sample_synthetic_users(
            key, logits, temperature=10.0, num_samples=200
        )
        cheap = sampling.sample_synthetic_users(
            key, logits, temperature=10.0, num_samples=200, num_draws=10
        )
        np.testing.assert_allclose(cheap.sum(-1), full.sum(-1), rtol=1e-4)
        np.testing.assert_allclose(cheap, full, rtol=0.1)

    def test_no_retrace_across_temperatures(self):
        @jax.jit
        @chex.assert_max_traces(n=1)
        def f(key, logits, t):
            return sampling.sample_synthetic_users(
                key, logits, temperature=t, num_samples=4
            )

        chex.clear_trace_counter()
        for t in (0.5, 1.0, 10.0):
            f(jax.random.key(0), jnp.zeros((2, 3)), jnp.float32(t))


if __name__ == "__main__":
    absltest.main()
