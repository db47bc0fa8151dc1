"""evalql/gc_tuning.py: a started app has frozen what start-up made and raised the
collector's thresholds, once per process; `EVALQL_GC_TUNING=0` leaves CPython's defaults.
Each case runs in a fresh interpreter (the settings are the process's)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

PROBE = """
import asyncio, gc, json
from evalql.app import create_app
from evalql.config import Settings
before = (gc.get_freeze_count(), gc.get_threshold())
async def main():
    for _ in range(2):
        app = create_app(Settings.from_env())
        async with app.router.lifespan_context(app):
            pass
asyncio.run(main())
print(json.dumps({"before": before, "after": (gc.get_freeze_count(), gc.get_threshold())}))
"""


def probe(database_url: str, tuning: str | None) -> dict:
    env = {**os.environ, "EVALQL_DATABASE_URL": database_url, "EVALQL_INGEST_WORKERS": "0"}
    if tuning is not None:
        env["EVALQL_GC_TUNING"] = tuning
    done = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.backends("sqlite")
def test_a_started_app_freezes_start_up_and_raises_the_thresholds(database_url):
    found = probe(database_url, None)
    assert found["before"] == [0, [700, 10, 10]]
    frozen, thresholds = found["after"]
    # The imports, the app, its schema: tens of thousands of objects the collector now skips.
    assert frozen > 10_000 and thresholds == [10_000, 20, 20]


@pytest.mark.backends("sqlite")
def test_tuning_off_keeps_cpythons_defaults(database_url):
    assert probe(database_url, "0")["after"] == [0, [700, 10, 10]]
