"""The notebooks: each `.ipynb` is its `.py` as notebooks/sync.py writes it, and runs.

Every notebook executes with nbclient in a kernel of this test's own interpreter (a
kernel spec written into the test's temporary directory, so no installed "python3"
spec can put another Python underneath), at ``INFINITE_AE_NOTEBOOK_SCALE=ci``, in a
temporary working directory; a cell that raises fails the test with its traceback.
Notebooks that read the real datasets are marked slow.
"""

import importlib.util
import json
import os
import sys
import time

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

from tests.conftest import PROJECT_ROOT

NOTEBOOKS = PROJECT_ROOT / "notebooks"
NAMES = (
    "01_quickstart",
    "02_distill_ml1m",
    "03_speedup_curves",
    "04_sequential",
    "05_autosample",
)
# Run with the slow set (CI runs every notebook): 02 reads the real datasets
# (ML-1M); the others start a kernel and compile several programs each (15-25 s of
# CPU apiece), which the fast set, run often, cannot afford. The fast set keeps the
# pairing, badge and setup-cell checks; the quickstart's CLI test runs the 01 job.
SLOW = set(NAMES)
# Seconds one cell may run at the ci scale (each notebook takes far less in all).
CELL_TIMEOUT_S = 240
# The kernel's environment on top of this process's: tiny sizes, no progress bars,
# and JAX's cheapest compilation (compiling dominates a tiny run; the numbers are
# not checked here, the library's own tests check them).
KERNEL_ENV = {
    "INFINITE_AE_NOTEBOOK_SCALE": "ci",
    "INFINITE_AE_PROGRESS": "0",
    "JAX_DISABLE_MOST_OPTIMIZATIONS": "1",
}


def _load_sync():
    spec = importlib.util.spec_from_file_location("sync", NOTEBOOKS / "sync.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


sync = _load_sync()


def test_every_notebook_has_a_source_pair():
    assert [p.stem for p in sync.sources()] == list(NAMES)
    for name in NAMES:
        assert (NOTEBOOKS / f"{name}.ipynb").exists(), name


def test_each_ipynb_is_its_py_as_sync_writes_it():
    stale = [str(p.relative_to(PROJECT_ROOT)) for p in sync.stale()]
    assert not stale, f"{stale} differ from their source; run: python notebooks/sync.py"


@pytest.mark.parametrize("name", NAMES)
def test_badge_and_install_point_at_the_configured_repository(name):
    repository = sync.repository_url()
    notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    title = notebook.cells[0]
    assert title.cell_type == "markdown" and title.source.startswith("# ")
    expected = (
        "https://colab.research.google.com/github/"
        f"{repository.removeprefix('https://github.com/')}"
        f"/blob/main/notebooks/{name}.ipynb"
    )
    assert f"({sync.BADGE_IMAGE})]({expected})" in title.source
    setup = next(c for c in notebook.cells if c.cell_type == "code")
    assert f'REPOSITORY = "{repository}"' in setup.source
    assert '"google.colab" in sys.modules' in setup.source
    assert "print(jax.devices())" in setup.source


def test_setup_cells_are_identical():
    setups = {
        name: next(
            c.source
            for c in nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4).cells
            if c.cell_type == "code"
        )
        for name in NAMES
    }
    assert len(set(setups.values())) == 1, "the first code cells differ"


def _kernel_manager(tmp_path) -> KernelManager:
    """A kernel running ``sys.executable`` (this virtual environment's Python)."""
    spec_dir = tmp_path / "kernels" / "this_python"
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "this Python",
        "language": "python",
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    specs = KernelSpecManager(kernel_dirs=[str(tmp_path / "kernels")])
    return KernelManager(kernel_name="this_python", kernel_spec_manager=specs)


def _execute(name: str, tmp_path, **env: str) -> tuple[nbformat.NotebookNode, float]:
    """Runs every cell of notebook ``name`` in ``tmp_path``; (notebook, seconds)."""
    notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    kernel = _kernel_manager(tmp_path)
    client = NotebookClient(
        notebook,
        km=kernel,
        timeout=CELL_TIMEOUT_S,
        resources={"metadata": {"path": str(workdir)}},
    )
    start = time.perf_counter()
    try:
        client.execute(env={**os.environ, **KERNEL_ENV, **env})
    finally:
        # nbclient leaves running the kernels of managers it was given.
        if kernel.has_kernel:
            kernel.shutdown_kernel(now=True)
    seconds = time.perf_counter() - start
    code = [c for c in notebook.cells if c.cell_type == "code"]
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert not errors, errors
    assert all(c.execution_count for c in code), "a code cell did not run"
    print(f"{name}: {seconds:.1f} s at the ci scale")
    return notebook, seconds


def _stdout(notebook: nbformat.NotebookNode) -> str:
    return "".join(
        output.get("text", "")
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type == "stream"
    )


@pytest.mark.parametrize(
    "name",
    [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in NAMES],
)
def test_notebook_runs_at_ci_scale(name, tmp_path):
    _execute(name, tmp_path)


@pytest.mark.slow
def test_ml1m_notebook_says_so_and_falls_back_without_the_data(tmp_path):
    # No local ML-1M and no download: an empty data root and cache, and every
    # HTTPS request refused by a proxy on a closed local port.
    empty = tmp_path / "empty"
    empty.mkdir()
    refused = "http://127.0.0.1:9"
    notebook, _ = _execute(
        "02_distill_ml1m",
        tmp_path,
        INFINITE_AE_DATA=str(empty),
        INFINITE_AE_CACHE=str(empty),
        https_proxy=refused,
        HTTPS_PROXY=refused,
    )
    text = _stdout(notebook)
    assert "ML-1M IS NOT AVAILABLE" in text, text
    assert "synthetic (ML-1M unavailable)" in text, text
    assert "distilled_synthetic.inter" in text, text
