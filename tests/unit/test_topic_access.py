"""shared/topic_access.py against the code: what each service subscribes to and publishes on,
and the consumer groups it uses, are exactly what the ACLs are generated from. A subscription
without a declaration (no Read ACL in the cluster) or a stale declaration fails here."""

from __future__ import annotations

import pytest
from pydantic_settings import BaseSettings

from services.dispatch import intake
from services.dispatch.settings import DispatchSettings
from services.feedback import index
from services.feedback.attribution import consumer as attribution
from services.feedback.reports import consumer as reports
from services.feedback.settings import FeedbackSettings
from services.segmenter import worker as segmenter_worker
from services.segmenter.api import consumer as segmenter_api
from services.segmenter.api.settings import SegmenterApiSettings
from services.segmenter.settings import SegmenterSettings
from services.triggers import worker as triggers_worker
from services.triggers.settings import TriggersSettings
from shared.topic_access import (
    DISPATCH,
    FEEDBACK,
    SEGMENTER,
    SEGMENTER_API,
    TRIGGERS,
    KafkaPrincipal,
)
from shared.topics import SEGMENTER_COMMANDS, TopicSpec


def _names(topics: tuple[TopicSpec, ...] | tuple[str, ...]) -> set[str]:
    return {t if isinstance(t, str) else t.name for t in topics}


def _default(settings: type[BaseSettings], field: str) -> object:
    return settings.model_fields[field].default


def _assert_reads(principal: KafkaPrincipal, subscribed: set[str]) -> None:
    undeclared = subscribed - set(principal.reads)
    assert not undeclared, f"{principal.name} subscribes to undeclared {sorted(undeclared)}"
    stale = set(principal.reads) - subscribed
    assert not stale, f"{principal.name} declares reads it never subscribes to: {sorted(stale)}"


def test_triggers() -> None:
    _assert_reads(TRIGGERS, _names(triggers_worker.INPUT_TOPICS))
    assert set(triggers_worker.OUTPUT_TOPICS) == {*TRIGGERS.writes, *TRIGGERS.dead_letters}
    assert _default(TriggersSettings, "app_id") == TRIGGERS.internal_prefix
    assert TRIGGERS.groups == (TRIGGERS.internal_prefix,)


def test_segmenter() -> None:
    _assert_reads(SEGMENTER, _names(segmenter_worker.INPUT_TOPICS))
    assert set(segmenter_worker.OUTPUT_TOPICS) | {SEGMENTER_COMMANDS.name} == {
        *SEGMENTER.writes,
        *SEGMENTER.dead_letters,
    }
    assert _default(SegmenterSettings, "app_id") == SEGMENTER.internal_prefix
    assert SEGMENTER.groups == (SEGMENTER.internal_prefix,)


def test_segmenter_api() -> None:
    _assert_reads(SEGMENTER_API, _names(segmenter_api.TOPICS))
    assert SEGMENTER_API.writes == ()
    assert SEGMENTER_API.groups == (_default(SegmenterApiSettings, "group_id"),)


def test_dispatch_intake() -> None:
    _assert_reads(DISPATCH, _names(intake.TOPICS))
    assert DISPATCH.groups == (_default(DispatchSettings, "group_id"),)


def test_feedback_consumers() -> None:
    _assert_reads(
        FEEDBACK, _names(index.TOPICS) | _names(attribution.TOPICS) | _names(reports.TOPICS)
    )
    group = _default(FeedbackSettings, "group_id")
    assert set(FEEDBACK.groups) == {group, f"{group}-attribution", f"{group}-reports"}


def test_a_subscription_without_a_declaration_is_caught() -> None:
    with pytest.raises(AssertionError, match=r"undeclared.*segments\.changes\.v1"):
        _assert_reads(DISPATCH, _names(intake.TOPICS) | {"segments.changes.v1"})
