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

    def test_zero_reg_warns_in_every_dtype(self):
        k, x = _problem(np.float32)
        with self.assertWarnsRegex(RuntimeWarning, "reg = 0.*float32.*noise"):
            solver.fit_krr(k.astype(np.float32), x.astype(np.float32), 0.0)
        with self.assertWarnsRegex(RuntimeWarning, "reg = 0"):
            list(
                solver.sweep_krr(k.astype(np.float32), x.astype(np.float32), [0.0, 1.0])
            )
        with jax.enable_x64(True):
            with self.assertWarnsRegex(RuntimeWarning, "reg = 0.*ill-conditioned"):
                solver.fit_krr(k, x, 0.0)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            solver.fit_krr(k.astype(np.float32), x.astype(np.float32), 1e-3)

    def test_negative_or_nonfinite_reg_is_an_error(self):
        k, x = _problem(np.float32)
        for bad, text in ((-5.0, "reg=-5: the ridge must be >= 0"), (np.nan, "finite")):
            with self.assertRaisesRegex(ValueError, text):
                solver.fit_krr(k, x, bad)
            with self.assertRaisesRegex(ValueError, text):
                list(solver.sweep_krr(k, x, [1.0, bad]))
            with self.assertRaisesRegex(ValueError, text):
                solver.fit_model(kernels.KernelSpec(), x, bad)
        spec = solver.fit_krr_from_spectrum
        with self.assertRaisesRegex(ValueError, ">= 0"):
            spec(solver.spectrum_krr(k, x), -1.0)

    def test_tiny_reg_in_float32_is_marked_invalid_not_used(self):
        # λ = 1e-8 in float32: the Cholesky factor of a singular K fails (NaN α).
        x = np.tile((np.random.default_rng(3).random((4, 30)) < 0.3), (5, 1))
        x = x.astype(np.float32)
        k = np.asarray(_kernel(kernels.KernelSpec(), x))
        with self.assertLogs(level="WARNING") as logs:
            fits = dict(solver.sweep_krr(k, x, [1e-8, 1.0], method="cholesky"))
        self.assertIsNone(fits[1e-8])
        self.assertIsNotNone(fits[1.0])
        self.assertRegex(" ".join(logs.output), r"λ=1e-08 is invalid.*float64")
        with self.assertRaisesRegex(
            solver.NonFiniteError,
            r"α \(reg=1e-08, float32\) has \d+ non-finite.*float64",
        ):
            solver.fit_model(kernels.KernelSpec(), x, 1e-8)
        model = solver.fit_model(kernels.KernelSpec(), x, 1.0)
        self.assertTrue(np.all(np.isfinite(np.asarray(model.alpha))))

    def test_nonfinite_kernel_raises(self):
        k, x = _problem(np.float32)
        k = k.copy()
        k[1, 2] = np.nan
        with self.assertRaisesRegex(solver.NonFiniteError, "support kernel K has 1"):
            list(solver.sweep_krr(k, x, [1.0]))

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
