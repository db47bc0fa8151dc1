"""`make bench` keeps working: the group/runs benchmark and its naive SQL floor run end to end
on a small W(N) (on SQLite, as `make bench` does by default) and print their table."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench"


def _bench_module():
    sys.path.insert(0, str(BENCH))  # bench/ scripts import their neighbours by name
    try:
        spec = importlib.util.spec_from_file_location("bench_group_runs", BENCH / "group_runs.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules["bench_group_runs"] = module  # dataclasses resolve annotations through it
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCH))


async def test_bench_prints_evalql_beside_the_naive_floor(capsys, backend):
    # On PostgreSQL the bench makes (and drops) its own database on the server.
    await _bench_module().main(["--databases", backend, "--sizes", "60", "--requests", "2"])
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines() if re.match(rf"^{backend}\s+60\s", line)]
    assert [(r[2], r[3]) for r in rows] == [("run_metadata:model", "2"), ("example_metadata:difficulty", "3")]
    for row in rows:
        build, cold, write, write_p90, repeat, repeat_p90, graphql, filtered, naive, load, rss = map(float, row[4:15])
        assert 0 < write <= write_p90 and 0 < repeat <= repeat_p90, row
        assert min(build, cold, graphql, filtered, naive, load) > 0 and rss > 50, row
