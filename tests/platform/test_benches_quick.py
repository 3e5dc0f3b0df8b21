"""Every benchmark under bench/ runs at its smallest size (BENCH_QUICK=1, bench/README.md), so one that no
longer runs (a schema change, a renamed function, a missing extension) fails the suite instead of waiting for
someone to measure. Runs in the PostgreSQL pass, where the benchmarks have their database."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT, require

BENCHES = sorted(p.name for p in (ROOT / "bench").glob("*.py"))
QUICK_TIMEOUT = 240  # seconds per benchmark at its smallest size (they take 5-60 s on the 2-core machine)


def test_the_benchmarks_are_found():
    assert "exports_formats.py" in BENCHES and len(BENCHES) >= 5


@pytest.mark.parametrize("bench", BENCHES)
def test_benchmark_runs_at_its_smallest_size(bench):
    database = os.environ.get("TEST_DATABASE_URL", "")
    if not database:
        pytest.skip("benchmarks run in the PostgreSQL pass (TEST_DATABASE_URL)")
    require(bool(database), "PostgreSQL for the benchmarks")
    env = dict(os.environ, BENCH_QUICK="1", BENCH_DATABASE_URL=database, PYTHONPATH=str(ROOT))
    run = subprocess.run([sys.executable, str(ROOT / "bench" / bench)], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=QUICK_TIMEOUT)
    assert run.returncode == 0, f"{bench} failed (rc {run.returncode}):\n{run.stdout[-2000:]}\n{run.stderr[-4000:]}"
    assert "skipped" not in run.stdout.lower().split("\n")[0], run.stdout[:500]
