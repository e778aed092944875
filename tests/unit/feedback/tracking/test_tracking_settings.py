"""The tracking settings: machine networks as CIDR ranges, refused by name when they are not."""

from __future__ import annotations

from ipaddress import ip_network

import pytest
from pydantic import ValidationError

from services.feedback.settings import FeedbackSettings


def test_machine_networks_are_comma_separated_cidr_ranges() -> None:
    found = FeedbackSettings(machine_networks="17.58.0.0/16, 2a01:b740::/32,")
    assert found.machine_networks == (ip_network("17.58.0.0/16"), ip_network("2a01:b740::/32"))


def test_a_range_that_is_not_one_is_refused_naming_the_setting() -> None:
    with pytest.raises(ValidationError, match="machine_networks"):
        FeedbackSettings(machine_networks="17.58.0.0/33")
