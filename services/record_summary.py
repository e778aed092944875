"""One line per record for `nudge tail`: what happened, to whom, in a form people can scan.

Trigger records get their own wording (which campaign step fired, on which channels, or which
journey was cancelled and why), and so do what customers send back (opt-outs, survey answers,
opens and clicks) and the conversions credited to messages, because that is what the demo and
operators look for; so do segment entries and exits, and dead letters (who parked the
record, from where, and why).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

Summary = Callable[[dict[str, Any]], str]


def describe(where: str, key: bytes | None, value: bytes | None) -> str:
    body = (value or b"").decode(errors="replace")
    try:
        record = json.loads(body)
    except ValueError:
        return f"{where} {_key_text(key)} {body[:200]}"
    return describe_parsed(where, key, value, record)


def describe_parsed(where: str, key: bytes | None, value: bytes | None, record: Any) -> str:
    """The line of a record whose value was parsed already (`record`, the JSON value)."""
    key_text = _key_text(key)
    if not isinstance(record, dict):
        return f"{where} {key_text} {(value or b'').decode(errors='replace')[:200]}"
    if "type" not in record and record.keys() >= _DEAD_LETTER_FIELDS:
        return f"{where} {record.get('parked_at', '')} {'dead letter':24} {key_text:28} " + (
            _dead_letter(record)
        )
    kind = str(record.get("type", "?"))
    data = record.get("data")
    if not isinstance(data, dict):
        data = {}
    return f"{where} {record.get('time', '')} {kind:24} {key_text:28} {_summary(kind, data)}"


def _key_text(key: bytes | None) -> str:
    return key.decode(errors="replace") if key else "-"


_DEAD_LETTER_FIELDS = frozenset({"source_topic", "service", "reason", "payload"})


def _dead_letter(record: dict[str, Any]) -> str:
    """A parked record (shared/events/dead_letter.py): who parked it, from where, and why."""
    where = f"{record.get('source_topic')}"
    if record.get("source_partition") is not None:
        where += f" p{record.get('source_partition')}@{record.get('source_offset')}"
    reason = str(record.get("reason", ""))[:160]
    return f"PARKED by {record.get('service')} from {where}: {reason}"


def _summary(kind: str, data: dict[str, Any]) -> str:
    if kind == "trigger.fired":
        variant = f" variant {data['variant']}" if data.get("variant") else ""
        channels = ",".join(data.get("channels", []))
        return (
            f"FIRED {data.get('campaign_id')}/{data.get('step_id')} via {channels}{variant} "
            f"(template {data.get('template_id')}, due {data.get('due_at')})"
        )
    if kind == "journey.exited":
        return f"CANCELLED {data.get('campaign_id')}: {data.get('reason')} (no further steps)"
    if kind in _FEEDBACK:
        return _FEEDBACK[kind](data)
    if kind.startswith("message."):
        what = f"{data.get('channel') or '-'} {data.get('campaign_id')}/{data.get('step_id')}"
        if kind == "message.deferred":
            return f"DEFERRED {what} until {data.get('until')} ({data.get('reason')})"
        if kind in ("message.skipped", "message.failed"):
            return f"{kind[8:].upper()} {what}: {data.get('reason')}"
        return f"{kind[8:].upper()} {what}"
    if kind in ("segment.entered", "segment.exited"):
        verb = "ENTERED" if kind == "segment.entered" else "LEFT"
        return f"{verb} segment {data.get('segment_id')}: {data.get('reason')}"
    if kind == "trigger.expired":
        return f"EXPIRED {data.get('campaign_id')}/{data.get('step_id')} (due {data.get('due_at')})"
    return json.dumps(data, separators=(",", ":"))[:160]


def _engagement(verb: str) -> Summary:
    def summary(data: dict[str, Any]) -> str:
        message = data.get("message") or {}
        who = f"machine: {data.get('reason') or 'yes'}" if data.get("machine") else "a person"
        target = f" -> {data['url']}" if data.get("url") else ""
        return f"{verb} {data.get('channel') or '-'} {message.get('campaign_id')}{target} ({who})"

    return summary


def _consent(verb: str) -> Summary:
    def summary(data: dict[str, Any]) -> str:
        return f"{verb} {data.get('channel')} marketing ({data.get('source')})"

    return summary


def _survey(data: dict[str, Any]) -> str:
    tags = ",".join(data.get("tags") or []) or "none"
    comment = f' "{data["comment"][:60]}"' if data.get("comment") else ""
    return (
        f"ANSWERED {data.get('survey')} {data.get('score')} about order {data.get('order_id')}"
        f"{comment} (tags: {tags})"
    )


def _category(data: dict[str, Any]) -> str:
    verb = "KEPT" if data.get("subscribed") else "DROPPED"
    return f"{verb} category {data.get('category')} ({data.get('source')})"


def _conversion(data: dict[str, Any]) -> str:
    revenue = data.get("revenue") or {}
    message = data.get("message") or {}
    return (
        f"CONVERTED order {data.get('order_number') or data.get('order_id')} "
        f"{revenue.get('amount')} {revenue.get('currency')} credited to {message.get('channel')} "
        f"{message.get('campaign_id')} ({data.get('touch')} at {data.get('touched_at')}, "
        f"{data.get('model')})"
    )


_FEEDBACK: dict[str, Summary] = {
    "message.opened": _engagement("OPENED"),
    "message.clicked": _engagement("CLICKED"),
    "consent.withdrawn": _consent("WITHDRAWN"),
    "consent.granted": _consent("GRANTED"),
    "survey.answered": _survey,
    "category.preference_changed": _category,
    "conversion.attributed": _conversion,
}
