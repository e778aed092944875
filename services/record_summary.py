"""One line per record for `nudge tail`: what happened, to whom, in a form people can scan.

Trigger records get their own wording (which campaign step fired, on which channels, or which
journey was cancelled and why), because that is what the demo and operators look for.
"""

from __future__ import annotations

import json
from typing import Any


def describe(where: str, key: bytes | None, value: bytes | None) -> str:
    key_text = key.decode(errors="replace") if key else "-"
    body = (value or b"").decode(errors="replace")
    try:
        record = json.loads(body)
    except ValueError:
        return f"{where} {key_text} {body[:200]}"
    if not isinstance(record, dict):
        return f"{where} {key_text} {body[:200]}"
    kind = str(record.get("type", "?"))
    data = record.get("data")
    if not isinstance(data, dict):
        data = {}
    return f"{where} {record.get('time', '')} {kind:24} {key_text:28} {_summary(kind, data)}"


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
    if kind.startswith("message."):
        what = f"{data.get('channel') or '-'} {data.get('campaign_id')}/{data.get('step_id')}"
        if kind == "message.deferred":
            return f"DEFERRED {what} until {data.get('until')} ({data.get('reason')})"
        if kind in ("message.skipped", "message.failed"):
            return f"{kind[8:].upper()} {what}: {data.get('reason')}"
        return f"{kind[8:].upper()} {what}"
    if kind == "trigger.expired":
        return f"EXPIRED {data.get('campaign_id')}/{data.get('step_id')} (due {data.get('due_at')})"
    return json.dumps(data, separators=(",", ":"))[:160]
