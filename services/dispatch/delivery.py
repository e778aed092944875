"""The sender's view of the providers: a rendered message in, the provider's answer out.

The message id is deterministic per (trigger, channel): it is the email's Message-ID and the
SMS request's idempotency key, which is how a resend after a crash is recognised as the same
message by the provider (providers/ says what each real provider does with it).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from services.dispatch.providers.base import SendResult
from services.dispatch.providers.email import SmtpSender, build_email
from services.dispatch.providers.sms import SmsProvider
from services.dispatch.templates.store import RenderedEmail, RenderedSms


@dataclass
class ProviderDelivery:
    smtp: SmtpSender
    sms_provider: SmsProvider
    status_callback: str | None = None

    async def email(
        self,
        *,
        to: str,
        rendered: RenderedEmail,
        message_id: str,
        brand_from: str,
        reply_to: str | None,
        unsubscribe: str | None,
    ) -> SendResult:
        domain = brand_from.rsplit("@", 1)[-1].rstrip(">").strip() or "nudge.local"
        message = build_email(
            sender=brand_from,
            to=to,
            subject=rendered.subject,
            text=rendered.text,
            html=rendered.html,
            message_id=f"{message_id}@{domain}",
            reply_to=reply_to,
            unsubscribe_url=unsubscribe,
        )
        return await self.smtp.send(message)

    async def sms(self, *, to: str, rendered: RenderedSms, message_id: str) -> SendResult:
        return await self.sms_provider.send(
            to, rendered.body, idempotency_key=message_id, status_callback=self.status_callback
        )

    async def find_sms(
        self, *, to: str, body: str, since: datetime, taken: Collection[str]
    ) -> SendResult | None:
        return await self.sms_provider.find(to, body, since=since, taken=taken)

    async def close(self) -> None:
        await self.smtp.close()
        await self.sms_provider.close()
