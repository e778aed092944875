"""The worked example of docs/ANALYSTS.md, both ways: docs/examples/revenue_per_campaign.py
(kafka-python) and revenue_per_campaign.sh (kcat and jq, which `make analyst-tools`
installs) print the same table, with the numbers the records published here make: sends and
conversions counted once however often they are said, revenue added exactly per currency."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from kafka import KafkaProducer

from shared.topics import CONVERSIONS, MESSAGES_STATUS
from tests.support import report_records as rr
from tests.support.stack import ROOT, Stack

pytestmark = pytest.mark.integration

EXAMPLES = ROOT / "docs" / "examples"


def publish(bootstrap: str, shop: str) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0)
    key = f"{shop}:c1".encode()
    sent = [("m1", "welcome"), ("m2", "welcome"), ("m2", "welcome"), ("m3", "cross_sell")]
    for n, (message, campaign) in enumerate(sent):
        event_id = f"{shop}-{message}-sent"  # the second m2 is the same record said again
        value = rr.status(shop, "message.sent", message, campaign=campaign, event_id=event_id)
        producer.send(MESSAGES_STATUS.name, key=key, value=value)
        if n == 0:  # not sends: never counted
            for kind in ("message.queued", "message.failed"):
                producer.send(MESSAGES_STATUS.name, key=key, value=rr.status(shop, kind, "m4"))
    conversions = [
        ("o1", "m1", "19.90", "EUR", "welcome"),
        ("o1", "m1", "19.90", "EUR", "welcome"),  # the same conversion said again
        ("o2", "m2", "5.5", "EUR", "welcome"),
        ("o3", "m3", "10", "USD", "cross_sell"),
        ("o4", "m3", "1.05", "EUR", "cross_sell"),
        ("o5", "m9", "12.000001", "GBP", "vip"),  # its send is older than what is read
    ]
    for order, message, amount, currency, campaign in conversions:
        value = rr.conversion(shop, order, message, amount, currency, campaign=campaign)
        producer.send(CONVERSIONS.name, key=key, value=value)
    producer.flush()
    producer.close()


def test_both_examples_print_the_same_numbers(stack: Stack) -> None:
    missing = [tool for tool in ("kcat", "jq") if shutil.which(tool) is None]
    assert not missing, f"{missing} not installed: `make analyst-tools` installs them"
    tag = uuid.uuid4().hex[:8]
    shop, other = f"revenue-{tag}", f"revenue-{tag}-other"
    since = (datetime.now(UTC) - timedelta(seconds=2)).isoformat(timespec="seconds")
    publish(stack.kafka_bootstrap, shop)
    publish(stack.kafka_bootstrap, other)
    env = {"KAFKA_BOOTSTRAP_SERVERS": stack.kafka_bootstrap, "PATH": os.environ["PATH"]}
    args = ["--shop", shop, "--since", since]
    python = subprocess.run(
        [sys.executable, str(EXAMPLES / "revenue_per_campaign.py"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    shell = subprocess.run(
        ["bash", str(EXAMPLES / "revenue_per_campaign.sh"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert python.returncode == 0, python.stderr
    assert shell.returncode == 0, shell.stderr
    expected = [
        "shop\tcampaign\tsent\tconversions\trevenue",
        f"{shop}\tcross_sell\t1\t2\tEUR 1.05, USD 10",
        f"{shop}\tvip\t0\t1\tGBP 12.000001",
        f"{shop}\twelcome\t2\t2\tEUR 25.40",
    ]
    assert python.stdout.splitlines() == expected
    assert shell.stdout.splitlines() == expected
