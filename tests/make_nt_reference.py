"""Regenerates tests/fixtures/nt_reference.npz: neural-tangents reference kernels.

Not run by the test suite. `tests/kernels_test.py` always compares `infinite_ae.kernels`
against the stored values, so importing neural-tangents in the project venv is never
needed (it does not import with jax >= 0.6 and imports TensorFlow).

Environment the stored file was produced in (also stored in the npz as `versions`):

  Python 3.11.7, CPU, float64 (jax_enable_x64), in a scratch venv outside the repo:
    python3 -m venv /tmp/ntenv
    /tmp/ntenv/bin/pip install "jax==0.5.3" "jaxlib==0.5.3" "flax==0.10.6" frozendict
    /tmp/ntenv/bin/pip install --no-deps neural-tangents==0.6.5 tf2jax==0.3.7
  resolved: jax 0.5.3, jaxlib 0.5.3, neural-tangents 0.6.5, flax 0.10.6, numpy 2.4.6.
  TensorFlow is NOT installed: `neural_tangents.experimental` (the TF interop,
  `empirical_ntk_fn_tf`) is replaced by a stub module in `sys.modules` before
  `import neural_tangents`; `stax` does not use it.

Run (from the repository root):
    /tmp/ntenv/bin/python tests/make_nt_reference.py

Contents (about 8 KB): inputs `x` [7, 20] (binary, row 5 all-zero, row 6 a duplicate
of row 1) and `y` [4, 20] (row 3 all-zero); configurations `w_std` [C], `b_std` [C]
(C = 3: (√2, 0.1) the ∞-AE default, (1, 0) no bias, (1.5, 0.5)) and `depths` [D]
(1, 2, 3); kernels `{kind}_xx` [C, D, 7, 7] = kernel_fn(x, None, kind) (the
one-argument call) and `{kind}_xy` [C, D, 7, 4] = kernel_fn(x, y, kind) for kind in
ntk, nngp; `versions`, a string. The network is
`stax.serial(*[Dense(512, W_std, b_std), Relu()] * depth, Dense(1, W_std, b_std))`
with the default NTK parameterisation. b_std = 0 is passed as `b_std=None` (no bias),
the same kernel; neural-tangents returns 0 for the all-zero row there (as does the
closed form). The test compares only finite reference entries, in case a future
regeneration produces 0/0 there.
"""

import importlib.metadata
import math
import pathlib
import platform
import sys
import types

import numpy as np

# Stub the TensorFlow interop before neural_tangents imports it.
_stub = types.ModuleType("neural_tangents.experimental")
_stub.empirical_ntk_fn_tf = None
_stub.get_apply_fn_and_params = None
sys.modules["neural_tangents.experimental"] = _stub

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)

from neural_tangents import stax  # noqa: E402

OUT = pathlib.Path(__file__).resolve().parent / "fixtures" / "nt_reference.npz"
CONFIGS = {"default": (math.sqrt(2.0), 0.1), "nobias": (1.0, 0.0), "wide": (1.5, 0.5)}
DEPTHS = (1, 2, 3)
KINDS = ("ntk", "nngp")


def make_inputs() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(20240607)
    x = (rng.random((7, 20)) < 0.3).astype(np.float64)
    x[5] = 0.0
    x[6] = x[1]
    y = (rng.random((4, 20)) < 0.3).astype(np.float64)
    y[3] = 0.0
    return x, y


def main():
    x, y = make_inputs()
    arrays = {"x": x, "y": y, "depths": np.array(DEPTHS)}
    arrays["w_std"] = np.array([w for w, _ in CONFIGS.values()])
    arrays["b_std"] = np.array([b for _, b in CONFIGS.values()])
    out = {f"{kind}_{pair}": [] for kind in KINDS for pair in ("xx", "xy")}
    for w_std, b_std in CONFIGS.values():
        bias = b_std if b_std > 0 else None
        per_depth = {name: [] for name in out}
        for depth in DEPTHS:
            layers = []
            for _ in range(depth):
                layers += [stax.Dense(512, W_std=w_std, b_std=bias), stax.Relu()]
            layers.append(stax.Dense(1, W_std=w_std, b_std=bias))
            _, _, kernel_fn = stax.serial(*layers)
            for kind in KINDS:
                per_depth[f"{kind}_xx"].append(np.asarray(kernel_fn(x, None, kind)))
                per_depth[f"{kind}_xy"].append(np.asarray(kernel_fn(x, y, kind)))
        for name, values in per_depth.items():
            out[name].append(np.stack(values))
    arrays.update({name: np.stack(values) for name, values in out.items()})
    versions = {
        pkg: importlib.metadata.version(pkg)
        for pkg in ("jax", "jaxlib", "neural-tangents", "flax", "numpy")
    }
    versions["python"] = platform.python_version()
    versions["x64"] = str(jax.config.jax_enable_x64)
    arrays["versions"] = np.array(", ".join(f"{k}={v}" for k, v in versions.items()))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT, **arrays)
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes): {arrays['versions']}")


if __name__ == "__main__":
    main()
