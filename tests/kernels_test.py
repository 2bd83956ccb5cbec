"""Closed-form kernels vs an independent float64 NumPy reference (arccos form), stored
neural-tangents 0.6.5 values (tests/make_nt_reference.py), and Monte Carlo estimates
from finite-width networks; exact diagonal, PSD, gradients, tiling."""

import functools
import math
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
from absl.testing import absltest, parameterized
from jax import test_util as jtu

from infinite_ae import kernels
from infinite_ae.kernels import KernelSpec

# Tolerances vs the float64 reference, per dtype.
RTOL = {np.float32: 2e-5, np.float64: 1e-12}
ATOL = {np.float32: 2e-6, np.float64: 1e-13}
# Diagonal of K(x) in float32 (exact-diagonal path), relative.
DIAG_RTOL_FLOAT32 = 1e-6
# Monte Carlo (width 4096, 4 seeds): max error vs the closed form, relative to
# sqrt(K(x, x) K(y, y)); observed 0.023 (ntk) and 0.021 (nngp).
MC_RTOL = 0.05

FIXTURE = pathlib.Path(__file__).resolve().parent / "fixtures" / "nt_reference.npz"
DTYPES = (("float32", np.float32), ("float64", np.float64))
SPECS = [
    KernelSpec(kind, depth, w_std, b_std)
    for kind in ("ntk", "nngp", "linear")
    for depth in (1, 2, 3)
    for (w_std, b_std) in ((math.sqrt(2.0), 0.1), (1.0, 0.0), (1.5, 0.5))
    if not (kind == "linear" and depth > 1)
]


_kernel = jax.jit(kernels.kernel, static_argnums=0, static_argnames="tile_size")


def _x64(dtype):
    return jax.enable_x64(dtype == np.float64)


def _reference(spec, x, y=None):
    """Float64 NumPy kernel in the arc-cosine form θ = arccos(Σ / √(v v')) (independent
    of the atan2 recurrence in `kernels`)."""
    x = np.asarray(x, np.float64)
    y = x if y is None else np.asarray(y, np.float64)
    dim = x.shape[1]
    wv, bv = spec.w_std**2, spec.b_std**2
    cov = wv * x @ y.T / dim + bv
    vx = wv * np.sum(x * x, 1) / dim + bv
    vy = wv * np.sum(y * y, 1) / dim + bv
    if spec.kind == "linear":
        return cov
    same = np.all(x[:, None, :] == y[None, :, :], axis=-1)
    ntk = cov.copy()
    for _ in range(spec.depth):
        norm = np.sqrt(np.outer(vx, vy))
        with np.errstate(invalid="ignore", divide="ignore"):
            cos = np.where(norm > 0, cov / np.where(norm > 0, norm, 1), 1.0)
        # Identical rows have angle exactly 0 at every layer; arccos(1 - rounding)
        # would put an O(√eps) error there, so the reference fixes cos = 1.
        cos = np.where(same, 1.0, cos)
        angle = np.arccos(np.clip(cos, -1.0, 1.0))
        order1 = norm * (np.sin(angle) + (np.pi - angle) * np.cos(angle)) / (2 * np.pi)
        order0 = (np.pi - angle) / (2 * np.pi)
        cov = wv * order1 + bv
        ntk = cov + wv * order0 * ntk
        vx, vy = wv * vx / 2 + bv, wv * vy / 2 + bv
    return ntk if spec.kind == "ntk" else cov


def _inputs(kind="binary", seed=0, num=9, dim=50):
    rng = np.random.default_rng(seed)
    if kind == "binary":
        x = (rng.random((num, dim)) < 0.2).astype(np.float64)
    else:  # continuous rows, like a distilled summary
        x = rng.random((num, dim)) * (rng.random((num, dim)) < 0.5)
    x[2] = 0.0  # an all-zero user
    x[5] = x[1]  # a duplicate user
    y = (rng.random((4, dim)) < 0.2).astype(np.float64)
    y[0] = x[3]  # a query equal to a support row
    y[3] = 0.0
    return x, y


@functools.partial(jax.jit, static_argnums=0)
def _all_kernels(specs, x, y):
    """K(x) and K(x, y) for every spec in one compiled program (fast to compile)."""
    return [(kernels.kernel(spec, x), kernels.kernel(spec, x, y)) for spec in specs]


class KernelReferenceTest(parameterized.TestCase):
    @parameterized.product(dtype=DTYPES, data=("binary", "continuous"))
    def test_matches_numpy_reference(self, dtype, data):
        _, dtype = dtype
        x, y = _inputs(data)
        with _x64(dtype):
            results = _all_kernels(tuple(SPECS), x.astype(dtype), y.astype(dtype))
        for spec, (k_xx, k_xy) in zip(SPECS, results, strict=True):
            self.assertEqual(k_xx.dtype, dtype)
            self.assertEqual(k_xy.shape, (9, 4))
            np.testing.assert_allclose(
                k_xx,
                _reference(spec, x),
                rtol=RTOL[dtype],
                atol=ATOL[dtype],
                err_msg=str(spec),
            )
            np.testing.assert_allclose(
                k_xy,
                _reference(spec, x, y),
                rtol=RTOL[dtype],
                atol=ATOL[dtype],
                err_msg=str(spec),
            )

    @parameterized.named_parameters(*DTYPES)
    def test_matches_stored_neural_tangents(self, dtype):
        ref = np.load(FIXTURE)
        self.assertIn("neural-tangents=0.6.5", str(ref["versions"]))
        x, y = ref["x"], ref["y"]
        num_checked = 0
        specs = [
            KernelSpec(kind, int(depth), float(w_std), float(b_std))
            for w_std, b_std in zip(ref["w_std"], ref["b_std"], strict=True)
            for depth in ref["depths"]
            for kind in ("ntk", "nngp")
        ]
        with _x64(dtype):
            results = _all_kernels(tuple(specs), x.astype(dtype), y.astype(dtype))
        for spec, (k_xx, k_xy) in zip(specs, results, strict=True):
            c = list(ref["w_std"]).index(spec.w_std)
            d = list(ref["depths"]).index(spec.depth)
            for name, got in (("xx", k_xx), ("xy", k_xy)):
                want = ref[f"{spec.kind}_{name}"][c, d]
                finite = np.isfinite(want)
                np.testing.assert_allclose(
                    np.asarray(got)[finite],
                    want[finite],
                    rtol=RTOL[dtype],
                    atol=ATOL[dtype],
                    err_msg=f"{spec} {name}",
                )
                num_checked += 1
        self.assertEqual(num_checked, 36)

    def test_diagonal_closed_form_depth1(self):
        x, _ = _inputs()
        k = _kernel(KernelSpec(), x.astype(np.float32))
        want = 4 * np.sum(x * x, 1) / x.shape[1] + 0.03
        np.testing.assert_allclose(np.diag(k), want, rtol=DIAG_RTOL_FLOAT32)

    @parameterized.parameters("ntk", "nngp")
    def test_exact_diagonal_float32(self, kind):
        rng = np.random.default_rng(3)
        x = (rng.random((64, 500)) < 0.05).astype(np.float64)
        x[7] = 0.0
        for depth in (1, 3):
            spec = KernelSpec(kind, depth)
            k = jax.jit(kernels.kernel, static_argnums=0)(spec, x.astype(np.float32))
            want = np.diag(_reference(spec, x))
            rel = np.abs(np.diag(np.asarray(k, np.float64)) - want) / want
            self.assertLessEqual(rel.max(), DIAG_RTOL_FLOAT32)

    @parameterized.named_parameters(*DTYPES)
    def test_symmetric_psd(self, dtype):
        rng = np.random.default_rng(1)
        x = (rng.random((40, 30)) < 0.2).astype(dtype)
        x[3] = 0
        x[4] = x[5]
        with _x64(dtype):
            specs = (
                KernelSpec(),
                KernelSpec("nngp", 2),
                KernelSpec("ntk", 3, 1.0, 0.0),
            )
            for k, _ in _all_kernels(specs, x, x[:2]):
                k = np.asarray(k, np.float64)
                np.testing.assert_allclose(k, k.T, rtol=RTOL[dtype], atol=ATOL[dtype])
                eigs = np.linalg.eigvalsh(k)
                self.assertGreater(eigs.min(), -1e-5 * eigs.max())

    def test_zero_query_finite(self):
        x, y = _inputs()
        for spec in (KernelSpec(), KernelSpec("ntk", 2, 1.0, 0.0)):
            k = _kernel(spec, x.astype(np.float32), np.zeros((2, 50), np.float32))
            self.assertTrue(np.all(np.isfinite(k)))

    def test_spec_is_hashable_and_validated(self):
        self.assertEqual(hash(KernelSpec()), hash(KernelSpec("ntk", 1)))
        with self.assertRaisesRegex(ValueError, "kind"):
            KernelSpec("rbf")
        with self.assertRaisesRegex(ValueError, "depth"):
            KernelSpec(depth=0)
        with self.assertRaisesRegex(ValueError, r"\[N, I\]"):
            kernels.kernel(KernelSpec(), np.ones((3, 4)), np.ones((2, 5)))


class KernelGradientTest(parameterized.TestCase):
    @parameterized.product(
        spec=[KernelSpec(), KernelSpec("nngp", 2), KernelSpec("ntk", 3, 1.0, 0.0)],
        dtype=DTYPES,
    )
    def test_grad_finite_with_zero_and_duplicate_rows(self, spec, dtype):
        _, dtype = dtype
        x, y = _inputs("continuous")
        with _x64(dtype):
            x, y = jnp.asarray(x, dtype), jnp.asarray(y, dtype)

            def loss(x):
                k_ss = kernels.kernel(spec, x)
                k_qs = kernels.kernel(spec, y, x)
                return jnp.sum(k_ss**2) + jnp.sum(
                    k_qs * jnp.arange(9.0, dtype=dtype)[None, :]
                )

            grad_fn = jax.jit(jax.grad(loss))
            self.assertTrue(np.all(np.isfinite(grad_fn(x))))
            self.assertTrue(np.all(np.isfinite(grad_fn(jnp.zeros_like(x)))))

    def test_grad_matches_finite_differences(self):
        rng = np.random.default_rng(5)
        with jax.enable_x64(True):
            x = jnp.asarray(rng.random((5, 8)))
            y = jnp.asarray(rng.random((3, 8)))
            for spec in (KernelSpec(), KernelSpec("nngp", 2, 1.5, 0.5)):
                cross = functools.partial(kernels.kernel, spec, y=y)
                jtu.check_grads(
                    jax.jit(cross),
                    (x,),
                    order=1,
                    modes="rev",
                )
                jtu.check_grads(
                    jax.jit(
                        lambda a, spec=spec: jnp.sum(
                            jnp.triu(kernels.kernel(spec, a), 1)
                        )
                    ),
                    (x,),
                    order=1,
                    modes="rev",
                )

    def test_safe_sqrt(self):
        grads = jax.vmap(jax.grad(kernels.safe_sqrt))(jnp.array([-1.0, 0.0, 4.0]))
        np.testing.assert_allclose(grads, [0.0, 0.0, 0.25])


class KernelTilingTest(parameterized.TestCase):
    @parameterized.product(tile_size=(1, 3, 4, 16), symmetric=(True, False))
    def test_tiled_equals_untiled(self, tile_size, symmetric):
        rng = np.random.default_rng(2)
        x = (rng.random((10, 30)) < 0.3).astype(np.float32)
        x[4] = 0
        y = None if symmetric else (rng.random((7, 30)) < 0.3).astype(np.float32)
        spec = KernelSpec("ntk", 2)
        want = _kernel(spec, x, y)
        got = jax.jit(
            functools.partial(kernels.kernel_tiled, tile_size=tile_size),
            static_argnums=0,
        )(spec, x, y)
        self.assertEqual(got.shape, want.shape)
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
        if symmetric:  # both diagonals come from the norms: equal to rounding
            np.testing.assert_allclose(np.diag(got), np.diag(want), rtol=3e-7)
        np.testing.assert_allclose(
            _kernel(spec, x, y, tile_size=tile_size), want, rtol=1e-6, atol=1e-7
        )

    def test_kernel_from_gram(self):
        x, y = _inputs()
        spec = KernelSpec("ntk", 2)
        got = kernels.kernel_from_gram(
            spec, x @ y.T, np.sum(x * x, 1), np.sum(y * y, 1), x.shape[1]
        )
        np.testing.assert_allclose(got, _reference(spec, x, y), rtol=2e-5, atol=2e-6)
        with self.assertRaisesRegex(ValueError, "gram"):
            kernels.kernel_from_gram(spec, x @ y.T, np.ones(3), np.ones(4), 50)


class MonteCarloTest(absltest.TestCase):
    """Empirical NTK / NNGP of width-4096 one-hidden-layer ReLU nets (NTK param.)."""

    def test_finite_width_approaches_closed_form(self):
        x, _ = _inputs(num=6, dim=20, seed=4)
        x = jnp.asarray(x, jnp.float32)
        width, dim = 4096, x.shape[1]
        w_std, b_std = math.sqrt(2.0), 0.1

        def apply(params, inputs):
            w1, b1, w2, b2 = params
            hidden = jax.nn.relu(
                w_std / math.sqrt(dim) * inputs @ w1 + b_std * b1[None, :]
            )
            return (w_std / math.sqrt(width) * hidden @ w2 + b_std * b2[None, :])[:, 0]

        def features(params, inputs):
            w1, b1, _, _ = params
            return jax.nn.relu(
                w_std / math.sqrt(dim) * inputs @ w1 + b_std * b1[None, :]
            )

        @jax.jit
        def empirical(key):
            keys = jax.random.split(key, 4)
            params = (
                jax.random.normal(keys[0], (dim, width)),
                jax.random.normal(keys[1], (width,)),
                jax.random.normal(keys[2], (width, 1)),
                jax.random.normal(keys[3], (1,)),
            )
            jac = jax.jacrev(apply)(params, x)
            flat = jnp.concatenate([j.reshape(x.shape[0], -1) for j in jac], axis=1)
            # Readout-layer expectation of f(x) f(y) given the hidden layer.
            phi = features(params, x)
            return flat @ flat.T, w_std**2 * phi @ phi.T / width + b_std**2

        ntks, nngps = zip(
            *[empirical(jax.random.key(seed)) for seed in range(4)], strict=True
        )
        for kind, estimates in (("ntk", ntks), ("nngp", nngps)):
            want = _kernel(KernelSpec(kind), x)
            got = np.mean(estimates, axis=0)
            # Error relative to the scale sqrt(K(x, x) K(y, y)) of each entry.
            scale = np.sqrt(np.outer(np.diag(want), np.diag(want)))
            rel = np.abs(got - want) / scale
            self.assertLess(rel.max(), MC_RTOL, msg=f"{kind}: {rel.max()}")


if __name__ == "__main__":
    absltest.main()
