"""Static group membership of the stream workers: the instance id from the settings reaches the
Kafka consumer Faust builds, with a session long enough for the worker to restart."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import faust
import pytest

from services.segmenter.evaluation import Evaluator
from services.segmenter.settings import SegmenterSettings
from services.segmenter.worker import create_worker as create_segmenter
from services.triggers.campaigns import CampaignCatalog
from services.triggers.settings import TriggersSettings
from services.triggers.worker import create_worker as create_triggers
from shared.faust_runtime import STATIC_SESSION_TIMEOUT_S
from shared.settings import KafkaSettings


def _triggers_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **env: str) -> faust.App:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = TriggersSettings(store="memory://", data_dir=tmp_path)
    return create_triggers(settings, KafkaSettings(), CampaignCatalog.load(None), partitions=1).app


def _segmenter_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **env: str) -> faust.App:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = SegmenterSettings(store="memory://", data_dir=tmp_path)
    evaluator = Evaluator.load(settings)
    return create_segmenter(settings, KafkaSettings(), evaluator, partitions=1).app


async def _consumer_options(app: faust.App) -> tuple[str | None, int]:
    """What the Kafka consumer Faust would start with: its instance id and session timeout."""
    thread = app.consumer._thread  # type: ignore[attr-defined]  # the aiokafka driver's
    consumer = thread._create_worker_consumer(app.consumer.transport)
    try:
        return consumer._group_instance_id, consumer._session_timeout_ms
    finally:
        await consumer.stop()  # never started: this only releases its client


@pytest.mark.parametrize(
    ("make_app", "variable"),
    [
        (_triggers_app, "NUDGE_TRIGGERS_INSTANCE_ID"),
        (_segmenter_app, "NUDGE_SEGMENTER_INSTANCE_ID"),
    ],
)
async def test_the_pod_name_becomes_the_consumers_static_instance_id(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    make_app: Callable[..., faust.App],
    variable: str,
) -> None:
    app = make_app(tmp_path, monkeypatch, **{variable: "triggers-2"})
    instance_id, session_ms = await _consumer_options(app)
    assert instance_id == "triggers-2"
    assert session_ms == STATIC_SESSION_TIMEOUT_S * 1000
    # Faust refuses a session timeout above its request timeout: the app must still start.
    assert app.conf.broker_session_timeout <= app.conf.broker_request_timeout


async def test_without_an_instance_id_membership_stays_dynamic(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NUDGE_TRIGGERS_INSTANCE_ID", raising=False)
    instance_id, session_ms = await _consumer_options(_triggers_app(tmp_path, monkeypatch))
    assert instance_id is None
    assert session_ms < STATIC_SESSION_TIMEOUT_S * 1000  # a dead worker's partitions move soon


@pytest.mark.parametrize("value", ["", "triggers 0", "x" * 250])
def test_an_instance_id_kafka_would_refuse_is_refused_at_start_naming_the_setting(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NUDGE_TRIGGERS_INSTANCE_ID", value)
    with pytest.raises(ValueError, match="instance_id"):
        TriggersSettings()
