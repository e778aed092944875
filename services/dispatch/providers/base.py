"""What every provider adapter returns or raises, so that dispatch decides without knowing which.

Dispatch needs three answers from a send: it went out (keep the provider's id), try again
later (transient: the message is kept and retried with backoff), or never (permanent: record
the failure, maybe fall back to another channel). `maybe_sent` marks the one dangerous case:
the request may have reached the provider before the failure, so a retry must go through the
provider's idempotency (or reconciliation), never blindly.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SendResult:
    provider_id: str
    """The provider's handle for the message: Twilio's message SID, the email's Message-ID."""
    status: str | None = None
    """The provider's first status when it tells one (Twilio: queued / accepted)."""
    detail: str = ""
    """The provider's own words (SMTP: the final reply, often with the relay's queue id)."""


class SendError(Exception):
    """A send that did not succeed; `reason` is short enough for a status record."""

    def __init__(
        self,
        reason: str,
        *,
        code: int | None = None,
        http_status: int | None = None,
        maybe_sent: bool = False,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code
        """SMTP reply code, or the provider's error code (Twilio: 21211, 21610, ...)."""
        self.http_status = http_status
        self.maybe_sent = maybe_sent

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.reason!r}, code={self.code})"


class TransientSendError(SendError):
    """Retry later: SMTP 4xx, HTTP 429 / 5xx, timeouts, refused or reset connections."""

    def __init__(
        self,
        reason: str,
        *,
        code: int | None = None,
        http_status: int | None = None,
        maybe_sent: bool = False,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(reason, code=code, http_status=http_status, maybe_sent=maybe_sent)
        self.retry_after_s = retry_after_s
        """The provider's own Retry-After, when it gave one: wait at least this long."""


class ProviderConfigError(TransientSendError):
    """The provider cannot be reached as configured (a redirect, a proxy asking for
    credentials, a refused certificate): nothing about the message or its recipient is wrong.
    Dispatch keeps the message, pauses the whole channel and says why; an operator fixes the
    setting. Never sent, so `maybe_sent` is always false."""

    def __init__(
        self, reason: str, *, code: int | None = None, http_status: int | None = None
    ) -> None:
        super().__init__(reason, code=code, http_status=http_status)


class PermanentSendError(SendError):
    """Do not retry this message: SMTP 5xx, HTTP 4xx other than 429."""

    def __init__(
        self,
        reason: str,
        *,
        code: int | None = None,
        http_status: int | None = None,
        opted_out: bool = False,
    ) -> None:
        super().__init__(reason, code=code, http_status=http_status)
        self.opted_out = opted_out
        """The provider knows the recipient opted out (Twilio 21610): record it as consent."""
