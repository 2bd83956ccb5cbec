"""Kernel ridge regression vs scipy.linalg.solve (float64), identities, sweeps."""

import functools
import warnings

import chex
import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg
from absl.testing import absltest, parameterized

from infinite_ae import kernels, solver

RTOL = {np.float32: 2e-4, np.float64: 1e-10}
ATOL = {np.float32: 2e-5, np.float64: 1e-11}
DTYPES = (("float32", np.float32), ("float64", np.float64))

_kernel = jax.jit(kernels.kernel, static_argnums=0)
_fit = jax.jit(solver.fit_krr, static_argnames="absolute_reg")
_predict = jax.jit(solver.predict_krr)
_in_sample = jax.jit(solver.in_sample_predictions)


def _problem(dtype, num_support=30, num_items=40, seed=0):
    rng = np.random.default_rng(seed)
    x = (rng.random((num_support, num_items)) < 0.2).astype(np.float64)
    x[3] = 0.0
    k = np.asarray(
        _kernel(kernels.KernelSpec(), jnp.asarray(x, jnp.float32)), np.float64
    )
    if dtype == np.float64:
        with jax.enable_x64(True):
            k = np.asarray(_kernel(kernels.KernelSpec(), jnp.asarray(x)))
    return k, x


def _x64(dtype):
    return jax.enable_x64(dtype == np.float64)


class FitTest(parameterized.TestCase):
    @parameterized.product(dtype=DTYPES, absolute_reg=(False, True))
    def test_fit_matches_scipy(self, dtype, absolute_reg):
        _, dtype = dtype
        k, x = _problem(dtype)
        reg = 0.3
        ridge = reg if absolute_reg else reg * np.trace(k) / k.shape[0]
        want = scipy.linalg.solve(k + ridge * np.eye(k.shape[0]), x, assume_a="pos")
        with _x64(dtype):
            fit = jax.jit(solver.fit_krr, static_argnames="absolute_reg")(
                k.astype(dtype), x.astype(dtype), reg, absolute_reg=absolute_reg
            )
            self.assertEqual(fit.alpha.dtype, dtype)
            np.testing.assert_allclose(fit.ridge, ridge, rtol=RTOL[dtype])
            np.testing.assert_allclose(
                fit.alpha, want, rtol=RTOL[dtype], atol=ATOL[dtype]
            )
            # The kept factor reproduces K + ridge·I.
            chol = np.asarray(fit.chol, np.float64)
            np.testing.assert_allclose(
                np.tril(chol) @ np.tril(chol).T,
                k + ridge * np.eye(k.shape[0]),
                rtol=RTOL[dtype],
                atol=ATOL[dtype] * 10,
            )
            # Negative reg means |reg|, as in the original code.
            np.testing.assert_allclose(
                _fit(k, x, -reg, absolute_reg=absolute_reg).alpha,
                fit.alpha,
                rtol=RTOL[dtype],
                atol=ATOL[dtype],
            )

    @parameterized.named_parameters(*DTYPES)
    def test_predict_and_in_sample_identity(self, dtype):
        k, x = _problem(dtype)
        with _x64(dtype):
            fit = _fit(k.astype(dtype), x.astype(dtype), 0.1)
            # K α = X − ridge α: in-sample predictions without a kernel product.
            np.testing.assert_allclose(
                _in_sample(x, fit),
                _predict(k, fit),
                rtol=RTOL[dtype],
                atol=ATOL[dtype],
            )
            np.testing.assert_allclose(
                _predict(k[:5], fit),
                k[:5] @ np.asarray(fit.alpha, np.float64),
                rtol=RTOL[dtype],
                atol=ATOL[dtype],
            )

    def test_reg_to_zero_reproduces_training_data(self):
        # Distinct rows only: a duplicate row makes K singular.
        rng = np.random.default_rng(1)
        x = rng.random((20, 30))
        with jax.enable_x64(True):
            k = _kernel(kernels.KernelSpec(), x)
            fit = _fit(k, x, 1e-12)
            np.testing.assert_allclose(_predict(k, fit), x, atol=1e-6)
            np.testing.assert_allclose(_in_sample(x, fit), x, atol=1e-9)

    def test_zero_reg_float32_warns(self):
        k, x = _problem(np.float32)
        with self.assertWarnsRegex(RuntimeWarning, "reg = 0"):
            solver.fit_krr(k.astype(np.float32), x.astype(np.float32), 0.0)
        with self.assertWarnsRegex(RuntimeWarning, "reg = 0"):
            list(
                solver.sweep_krr(k.astype(np.float32), x.astype(np.float32), [0.0, 1.0])
            )
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with jax.enable_x64(True):
                solver.fit_krr(k, x, 0.0)  # fine in float64

    def test_reg_is_traced_and_compiles_once(self):
        k, x = _problem(np.float32)

        @jax.jit
        @chex.assert_max_traces(n=1)
        def fit(reg):
            return solver.fit_krr(k, x, reg).alpha

        for reg in (0.1, 1.0, 5.0):
            fit(jnp.float32(reg)).block_until_ready()

    def test_shape_errors(self):
        with self.assertRaisesRegex(ValueError, "square"):
            solver.fit_krr(np.ones((3, 4)), np.ones((3, 2)), 1.0)
        with self.assertRaisesRegex(ValueError, "targets"):
            solver.fit_krr(np.eye(3), np.ones((4, 2)), 1.0)
        fit = solver.fit_krr(np.eye(3), np.ones((3, 2)), 1.0)
        with self.assertRaisesRegex(ValueError, "k_qs"):
            solver.predict_krr(np.ones((2, 4)), fit)


class SweepTest(parameterized.TestCase):
    @parameterized.product(dtype=DTYPES, absolute_reg=(False, True))
    def test_eigh_sweep_equals_cholesky_sweep(self, dtype, absolute_reg):
        _, dtype = dtype
        k, x = _problem(dtype)
        regs = [0.01, 0.1, 1.0, 10.0]
        with _x64(dtype):
            k, x = k.astype(dtype), x.astype(dtype)
            chol = list(
                solver.sweep_krr(
                    k, x, regs, method="cholesky", absolute_reg=absolute_reg
                )
            )
            eigh = list(
                solver.sweep_krr(k, x, regs, method="eigh", absolute_reg=absolute_reg)
            )
            self.assertEqual([r for r, _ in chol], regs)
            self.assertEqual([r for r, _ in eigh], regs)
            for (reg, fit_c), (_, fit_e) in zip(chol, eigh, strict=True):
                self.assertIsInstance(fit_c, solver.KRRFit)
                self.assertIsInstance(fit_e, solver.KRRSpectralFit)
                direct = _fit(k, x, reg, absolute_reg=absolute_reg)
                np.testing.assert_allclose(fit_c.alpha, direct.alpha, rtol=1e-6)
                # float32 alpha at reg 0.01 is ill-conditioned: compare predictions.
                np.testing.assert_allclose(
                    _in_sample(x, fit_e),
                    _in_sample(x, fit_c),
                    rtol=RTOL[dtype],
                    atol=ATOL[dtype] * 10,
                )
                np.testing.assert_allclose(fit_e.ridge, fit_c.ridge, rtol=1e-6)
                if dtype == np.float64:
                    np.testing.assert_allclose(
                        fit_e.alpha, fit_c.alpha, rtol=1e-8, atol=1e-9
                    )

    def test_auto_method(self):
        self.assertEqual(solver.choose_sweep_method(5), "cholesky")
        self.assertEqual(solver.choose_sweep_method(solver.EIGH_MIN_GRID), "eigh")
        self.assertEqual(solver.choose_sweep_method(50, "cholesky"), "cholesky")
        with self.assertRaisesRegex(ValueError, "method"):
            solver.choose_sweep_method(5, "lu")
        with self.assertRaisesRegex(ValueError, "empty"):
            list(solver.sweep_krr(np.eye(2), np.ones((2, 1)), []))

    def test_spectrum_jittable(self):
        k, x = _problem(np.float32)
        spectrum = jax.jit(solver.spectrum_krr)(k, x)
        fit_fn = jax.jit(
            functools.partial(solver.fit_krr_from_spectrum, absolute_reg=False)
        )
        np.testing.assert_allclose(
            fit_fn(spectrum, 1.0).alpha,
            _fit(k, x, 1.0).alpha,
            rtol=1e-4,
            atol=1e-5,
        )


if __name__ == "__main__":
    absltest.main()
