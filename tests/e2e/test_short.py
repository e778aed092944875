"""The short e2e run inside the suite (issue 25): a few thousand customers over a simulated
day, every service a separate process on a stack of its own, dispatch's sender and triggers
killed mid-run, and the run's own verdict read back from its result.json."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.harness.layout import E2E_DIR, ROOT

pytestmark = pytest.mark.integration

TIMEOUT_S = 420


def _newest_result(before: set[Path]) -> dict[str, object]:
    runs = set((E2E_DIR / "runs").glob("*/result.json")) - before
    assert runs, "the run wrote no result.json"
    return dict(json.loads(max(runs).read_text()))


def test_the_short_run_keeps_every_promise_through_two_sigkills() -> None:
    before = set((E2E_DIR / "runs").glob("*/result.json"))
    done = subprocess.run(
        [sys.executable, "-m", "tests.e2e", "--short"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    result = _newest_result(before)
    faults = result["faults"]
    assert isinstance(faults, list)
    assert sorted(f["target"] for f in faults) == ["dispatch-sender", "triggers"], faults
    assert all(f["kind"] == "sigkill" for f in faults)
    assert [e for e in result["exits"] if e["cause"] == "crash"] == []  # type: ignore[attr-defined]
    assert result["simulator_status"] == 0
    assert result["drained"] is True
    assert result["violations"] == [], done.stdout[-4000:]
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
