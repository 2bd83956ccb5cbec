"""Every benchmark script still runs at its --smoke size and prints its JSON line."""

import json
import pathlib
import subprocess
import sys

import pytest

from tests.conftest import PROJECT_ROOT

SCRIPTS = sorted(
    # foster_budget_bench.py runs foster_step_bench.py (frozen encoder) itself.
    [
        p.name
        for p in (PROJECT_ROOT / "benchmarks").glob("*_bench.py")
        if p.name != "foster_step_bench.py"
    ]
    + ["speedup_curves.py", "foster_step_bench.py --encoder=tuned"]
)
# Where each script is told to write its files (all inside the test's tmp_path).
_OUTPUT_FLAG = {
    "autosample_bench.py": "--out={tmp}/autosample",
    "distill_budget_bench.py": "--out={tmp}/budget",
    "distill_step_bench.py": None,
    "foster_budget_bench.py": "--out={tmp}/foster_budget --workroot={tmp}/work",
    "sequential_budget_bench.py": "--out={tmp}/sequential",
    "speedup_curves.py": "--out={tmp}/speedup",
}


@pytest.mark.slow
@pytest.mark.parametrize("script", SCRIPTS)
def test_benchmark_smoke(script, tmp_path):
    script, *options = script.split()
    flag = _OUTPUT_FLAG.get(script, "--output={tmp}/out.json")
    extra = [flag.format(tmp=tmp_path)] if flag else []
    command = [sys.executable, str(pathlib.Path("benchmarks") / script), "--smoke"]
    out = subprocess.run(
        [*command, *options, *extra],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    assert lines, out.stdout[-2000:]
    json.loads(lines[0])
    if extra:
        assert any(tmp_path.iterdir()), "the benchmark wrote no output file"
