"""The architecture's rules: short shell functions, one KRR, self-contained code."""

import ast
import dataclasses
import re

import pytest

from experiments import settings
from tests.conftest import PROJECT_ROOT

MAX_SHELL_FUNCTION_LINES = 80


def _python_files(*roots):
    for root in roots:
        yield from sorted((PROJECT_ROOT / root).rglob("*.py"))


def test_shell_functions_fit_a_screen():
    long = []
    for path in _python_files("experiments"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                size = node.end_lineno - node.lineno + 1
                if size > MAX_SHELL_FUNCTION_LINES:
                    long.append(f"{path.name}:{node.lineno} {node.name} ({size})")
    assert not long, long


def test_code_cites_nothing_outside_the_repository():
    pattern = re.compile(r"shared/methods|methods notes|methods/|\.\./shared/(?!data)")
    hits = [
        f"{path.relative_to(PROJECT_ROOT)}:{number}"
        for path in _python_files("infinite_ae", "experiments", "configs", "benchmarks")
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if pattern.search(line)
    ]
    assert not hits, hits


def test_kernel_ridge_regression_lives_only_in_the_solver():
    # The ridge (a diagonal shift of K) and the Cholesky solve appear nowhere else.
    pattern = re.compile(r"cho_factor|cho_solve|jnp\.trace\(")
    # EASE inverts its item Gram, fold-in factors per-user d x d Grams of item
    # vectors (primal ridge over items, ridge convention from the solver): no kernel.
    allowed = {"solver.py", "ease.py", "foldin.py"}
    hits = [
        f"{path.name}:{number}"
        for path in _python_files("infinite_ae", "experiments")
        if path.name not in allowed
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if pattern.search(line)
    ]
    assert not hits, hits


@pytest.mark.parametrize(
    "cls",
    [
        settings.Settings,
        settings.DataSettings,
        settings.ModelSettings,
        settings.EvalSettings,
        settings.DistillSettings,
        settings.DConRecSettings,
    ],
)
def test_job_settings_are_frozen_dataclasses(cls):
    assert dataclasses.is_dataclass(cls)
    assert cls.__dataclass_params__.frozen
