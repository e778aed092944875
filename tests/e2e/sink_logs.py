"""Every copy the SMTP and SMS sinks received, read back from their JSON-lines logs.

The sinks (deploy/local/sinks/) append one JSON object per copy, duplicates included (a real
provider keeps every copy, so the comparison must see them all). Dispatch's message id comes
back from the email's Message-ID (`<{message_id}@{domain}>`, services/dispatch/delivery.py)
and from the SMS request's idempotency key.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from tests.e2e.model import Observed, Sink

SUMMARY_CHARS = 80


class SinkLogError(ValueError):
    """A sink log line that is not what the sinks write (other than a last line cut short)."""


def read_observed(smtp_log: Path, sms_log: Path) -> list[Observed]:
    """Every copy both sinks logged, emails first, each sink's in the order it logged them."""
    emails = [email_copy(record) for record in read_records(smtp_log)]
    texts = [sms_copy(record) for record in read_records(sms_log)]
    return emails + texts


def read_records(path: Path) -> Iterator[dict[str, Any]]:
    """The JSON objects of a sink log, one per line. A last line without its newline that
    does not parse is skipped: the sink may be writing it as we read."""
    with path.open("rb") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError as invalid:
                if not line.endswith(b"\n"):
                    return  # only the last line lacks it: the sink is still writing it
                raise SinkLogError(f"{path}:{number}: not a JSON line ({invalid})") from None
            if not isinstance(record, dict):
                raise SinkLogError(f"{path}:{number}: a JSON object expected")
            yield record


def email_copy(record: dict[str, Any]) -> Observed:
    """One line of the SMTP sink (`Arrival.record()` plus `duplicate`)."""
    recipients = record.get("rcpt_tos") or []
    return Observed(
        sink=Sink.SMTP,
        message_id=id_from_message_id(record.get("message_id")),
        to=", ".join(str(r) for r in recipients),
        received_at=_moment(record["received_at"]),
        summary=_head(str(record.get("subject") or "")),
    )


def sms_copy(record: dict[str, Any]) -> Observed:
    """One line of the SMS sink (`Message.record()`)."""
    key = record.get("idempotency_key")
    return Observed(
        sink=Sink.SMS,
        message_id=(str(key).strip() or None) if key is not None else None,
        to=str(record.get("to") or ""),
        received_at=_moment(record["received_at"]),
        summary=_head(str(record.get("body") or "")),
    )


def id_from_message_id(header: object) -> str | None:
    """Dispatch's message id from a Message-ID header value: the part before the last `@`,
    angle brackets and spaces removed; None when there is no header."""
    if not isinstance(header, str):
        return None
    value = header.strip().removeprefix("<").removesuffix(">").strip()
    local, at, _ = value.rpartition("@")
    return (local if at else value) or None


def _moment(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise SinkLogError(f"received_at without a time zone: {text!r}")
    return moment


def _head(text: str) -> str:
    first = text.strip().splitlines()[0] if text.strip() else ""
    return first if len(first) <= SUMMARY_CHARS else first[: SUMMARY_CHARS - 1] + "…"
