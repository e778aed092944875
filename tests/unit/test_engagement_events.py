"""Opens and clicks say whether a machine made them, and why, consistently."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from shared.events.feedback import Engagement, MachineReason, MessageRef

REF = MessageRef(message_id="6f1c2a8e-3b7d-4c55-9a0e-1d2f3a4b5c6d")


def test_a_machines_open_carries_its_reason() -> None:
    found = Engagement(message=REF, machine=True, reason=MachineReason.BURST)
    assert Engagement.model_validate_json(found.model_dump_json()) == found


def test_a_reason_without_machine_is_refused_naming_it() -> None:
    with pytest.raises(ValidationError, match="machine"):
        Engagement(message=REF, reason=MachineReason.SCANNER)


def test_records_written_before_machines_were_told_apart_still_read() -> None:
    old = Engagement.model_validate({"channel": "email", "message": {"message_id": "m"}})
    assert (old.machine, old.reason) == (False, None)
