"""`nudge tail` and `nudge topics list` refuse bad input with status 2, naming the option,
before they connect to anything (the broker named here does not exist)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from services.cli import app

NO_BROKER = {"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1", "COLUMNS": "200"}


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["tail", "nope.v1"], "TOPIC"),
        (["tail", "shop.events.v1", "nope.v1"], "TOPIC"),
        (["tail", "shop.events.v1", "--from", "yesterday"], "--from"),
        (["tail", "shop.events.v1", "--from", "1900-01-01"], "--from"),
        (["tail", "shop.events.v1", "--shop", "Not A Shop"], "--shop"),
        (["tail", "shop.events.v1", "--customer", ""], "--customer"),
        (["tail", "shop.events.v1", "--type", "order placed"], "--type"),
        (["tail", "shop.events.v1", "--output", "xml"], "--output"),
        (["tail", "shop.events.v1", "--limit", "0"], "--limit"),
        (["tail", "shop.events.v1", "--raw", "--output", "json"], "--raw"),
        (["tail", "shop.events.v1", "--from-beginning", "--from", "2h"], "--from-beginning"),
        (["topics", "list", "--sample", "-1"], "--sample"),
        (["topics", "list", "--output", "yaml"], "--output"),
    ],
)
def test_bad_input_exits_2_naming_the_option(args: list[str], named: str) -> None:
    result = CliRunner(env=NO_BROKER).invoke(app, args)
    assert result.exit_code == 2, result.output
    assert f"'{named}'" in result.output
