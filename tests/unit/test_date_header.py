"""`date_header_now`: formatted once a second, yet always the current second."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from shared.clock import date_header_now


def test_the_header_names_the_current_second_in_either_form() -> None:
    seen = set()
    deadline = time.monotonic() + 1.5  # long enough to see the second turn at least once
    while time.monotonic() < deadline:
        before = datetime.now(UTC).replace(microsecond=0)
        local, gmt = date_header_now(), date_header_now(usegmt=True)
        after = datetime.now(UTC).replace(microsecond=0)
        assert local.endswith("+0000") and gmt.endswith(" GMT")
        for header in (local, gmt):
            assert before <= parsedate_to_datetime(header) <= after
        seen.add(gmt)
        time.sleep(0.05)
    assert len(seen) >= 2
