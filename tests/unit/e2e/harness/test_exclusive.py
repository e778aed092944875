"""Two e2e runs on one machine: the second waits for the first's lock."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.e2e.harness.exclusive import only_run

HOLD = """
import sys
from pathlib import Path
from tests.e2e.harness.exclusive import only_run
with only_run(Path(sys.argv[1])):
    print("got it", flush=True)
"""


def test_a_second_run_waits_until_the_first_lets_go(tmp_path: Path) -> None:
    lock = tmp_path / "lock"
    with only_run(lock):
        assert lock.read_text().startswith("pid ")
        second = subprocess.Popen(
            [sys.executable, "-c", HOLD, str(lock)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            second.wait(timeout=1.0)
            raise AssertionError("the second run did not wait")
        except subprocess.TimeoutExpired:
            pass
    out, err = second.communicate(timeout=20)
    assert out.strip() == "got it"
    assert "waiting for the run of pid" in err
