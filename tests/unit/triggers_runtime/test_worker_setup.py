"""The Faust app's wiring that unit tests can see without a broker: record sizes, and where its
outbox can send (every dead-letter topic the processor may park a record on)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from faust.types import TP

from services.triggers.campaigns import CampaignCatalog
from services.triggers.settings import TriggersSettings
from services.triggers.worker import INPUT_TOPICS, create_worker
from shared.faust_runtime import FaustOutbox, LivenessMonitor
from shared.settings import KafkaSettings
from shared.topics import ALL_TOPICS, dead_letter_topic


def test_the_app_sends_and_fetches_records_of_every_size_a_topic_takes(tmp_path: Path) -> None:
    settings = TriggersSettings(store="memory://", data_dir=tmp_path)
    worker = create_worker(settings, KafkaSettings(), CampaignCatalog.load(None), partitions=1)
    largest = max(spec.max_message_bytes for spec in ALL_TOPICS)
    assert worker.app.conf.producer_max_request_size >= largest
    assert worker.app.conf.consumer_max_fetch_size >= largest
    outbox = worker.processor.outbox
    assert isinstance(outbox, FaustOutbox)
    for spec in INPUT_TOPICS:
        assert dead_letter_topic(spec.name).name in outbox.topic_names


def test_the_producer_lingers_as_configured_so_a_batch_writes_in_few_requests(
    tmp_path: Path,
) -> None:
    settings = TriggersSettings(store="memory://", data_dir=tmp_path, producer_linger_s=0.025)
    worker = create_worker(settings, KafkaSettings(), CampaignCatalog.load(None), partitions=1)
    assert worker.app.conf.producer_linger == 0.025
    default = TriggersSettings(store="memory://", data_dir=tmp_path)
    assert (
        create_worker(
            default, KafkaSettings(), CampaignCatalog.load(None), partitions=1
        ).app.conf.producer_linger
        > 0
    )


def test_the_lean_monitor_still_tells_faust_that_streams_are_processing(tmp_path: Path) -> None:
    """Faust's consumer logs a partition as stalled when its Monitor saw no record there."""
    settings = TriggersSettings(store="memory://", data_dir=tmp_path)
    app = create_worker(settings, KafkaSettings(), CampaignCatalog.load(None), partitions=1).app
    assert isinstance(app.monitor, LivenessMonitor)  # Faust adds it to its sensors at start
    tp = TP("shop.events.v1", 0)
    assert app.monitor.on_stream_event_in(tp, 7, cast(Any, None), cast(Any, None)) is None
    assert tp in app.monitor.stream_inbound_time
    assert app.monitor.events_total == 0  # the per-record statistics stay off
