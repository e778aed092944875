"""Provider adapters for dispatch: SMTP for email, Twilio's Messages API for SMS.

Each adapter turns "send this" into one of the outcomes of `base`: a `SendResult`, a
`TransientSendError` (retry with backoff), a `ProviderConfigError` (a transient error that
pauses the channel until an operator fixes a setting) or a `PermanentSendError` (record, maybe
fall back). The decisions (consent, channel, quiet hours, retries, exactly-once bookkeeping)
live in dispatch, not here: adapters never retry on their own, except the one case that cannot
duplicate (a pooled SMTP connection found dead before MAIL, replaced by a fresh one).
"""

from services.dispatch.providers.base import (
    PermanentSendError,
    ProviderConfigError,
    SendError,
    SendResult,
    TransientSendError,
)
from services.dispatch.providers.email import EmailSettings, SmtpSender, build_email
from services.dispatch.providers.sms import SmsProvider, TwilioSettings, TwilioSms

__all__ = [
    "EmailSettings",
    "PermanentSendError",
    "ProviderConfigError",
    "SendError",
    "SendResult",
    "SmsProvider",
    "SmtpSender",
    "TransientSendError",
    "TwilioSettings",
    "TwilioSms",
    "build_email",
]
