"""A Kafka broker of the test's own, which the test may stop and start (broker outages).

Runs deploy/local/kafka.sh with other ports and folder, so that stopping it cannot disturb
the rest of the suite. Its port and folder move with NUDGE_OUTAGE_KAFKA_PORT and
NUDGE_KAFKA_DIR, so that two people can run the suite on one machine. The port lies below
the ephemeral range (32768-60999 on Linux): while this broker is down, a client reconnecting
to it could otherwise be given its port.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from shared.kafka import create_topics
from shared.settings import KafkaSettings
from shared.topics import TopicSpec
from tests.support.stack import ROOT, run_script

PORT = int(os.environ.get("NUDGE_OUTAGE_KAFKA_PORT", "29192"))
BOOTSTRAP = f"127.0.0.1:{PORT}"
_SUITE_DIR = os.environ.get("NUDGE_KAFKA_DIR")
_ENV = {
    "NUDGE_KAFKA_PORT": str(PORT),
    "NUDGE_KAFKA_CONTROLLER_PORT": str(PORT + 1),
    "NUDGE_KAFKA_DIR": f"{_SUITE_DIR}-outage"
    if _SUITE_DIR
    else str(ROOT / ".local" / "kafka-outage-test"),
}


def stop_broker() -> None:
    run_script("kafka.sh", "stop", env=_ENV)


def start_broker() -> None:
    """Start it and wait until it answers metadata requests."""
    run_script("kafka.sh", "start", env=_ENV)


@contextmanager
def fresh_broker(topics: Sequence[TopicSpec], partitions: int = 3) -> Iterator[str]:
    """An empty broker with `topics`; yields its bootstrap address, stops it after."""
    stop_broker()
    shutil.rmtree(_ENV["NUDGE_KAFKA_DIR"], ignore_errors=True)
    start_broker()
    try:
        create_topics(KafkaSettings(bootstrap_servers=BOOTSTRAP), topics, partitions=partitions)
        yield BOOTSTRAP
    finally:
        stop_broker()
