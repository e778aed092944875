"""SMTP failures sorted into retry-later and never, and whether the message may be out."""

from __future__ import annotations

import aiosmtplib
import pytest

from services.dispatch.providers.base import PermanentSendError, TransientSendError
from services.dispatch.providers.email import _classify
from services.dispatch.providers.smtp_session import CONTENT


@pytest.mark.parametrize(
    ("error", "stage"),
    [
        (aiosmtplib.SMTPSenderRefused(451, "try later", "a@x"), "mail"),
        (aiosmtplib.SMTPRecipientRefused(452, "mailbox busy", "b@x"), "rcpt"),
        (aiosmtplib.SMTPDataError(421, "closing"), "data"),
        (aiosmtplib.SMTPDataError(451, "queue full"), CONTENT),
    ],
)
def test_4xx_replies_are_transient_with_their_code(error: Exception, stage: str) -> None:
    classified = _classify(error, stage)
    assert isinstance(classified, TransientSendError)
    assert classified.code == getattr(error, "code", None)
    assert not classified.maybe_sent  # the relay said no: nothing went out


@pytest.mark.parametrize(
    "error",
    [
        aiosmtplib.SMTPRecipientRefused(550, "5.1.1 no such user", "b@x"),
        aiosmtplib.SMTPDataError(554, "5.7.1 rejected as spam"),
        aiosmtplib.SMTPAuthenticationError(535, "5.7.8 bad credentials"),
    ],
)
def test_5xx_replies_are_permanent_with_their_code(error: Exception) -> None:
    classified = _classify(error, "rcpt")
    assert isinstance(classified, PermanentSendError)
    assert classified.code == getattr(error, "code", None)
    assert not classified.opted_out


def test_connection_trouble_is_transient_and_ambiguous_only_once_the_content_went_out() -> None:
    for stage in ("mail", "rcpt", "data"):  # DATA's 354 not yet seen: nothing was sent
        before = _classify(aiosmtplib.SMTPServerDisconnected("gone"), stage)
        assert isinstance(before, TransientSendError) and not before.maybe_sent
    during = _classify(aiosmtplib.SMTPServerDisconnected("gone"), CONTENT)
    assert isinstance(during, TransientSendError) and during.maybe_sent


@pytest.mark.parametrize(
    "error",
    [
        aiosmtplib.SMTPConnectError("refused"),
        aiosmtplib.SMTPConnectTimeoutError("slow"),
        ConnectionRefusedError(111, "refused"),
        ConnectionResetError(104, "reset"),
        aiosmtplib.SMTPReadTimeoutError("timed out"),
    ],
)
def test_network_failures_are_transient(error: Exception) -> None:
    classified = _classify(error, "connect")
    assert isinstance(classified, TransientSendError)
    assert classified.code is None
    assert len(classified.reason) <= 240


def test_timeout_reason_names_the_stage() -> None:
    classified = _classify(aiosmtplib.SMTPReadTimeoutError("timed out"), CONTENT)
    assert classified.reason == "timeout at end of data"
    assert classified.maybe_sent


def test_an_address_no_command_can_carry_is_permanent() -> None:
    """A control character in an envelope address is refused before anything is written, and
    would be refused again on every retry."""
    classified = _classify(
        ValueError("an SMTP command argument contains a control character"), "mail"
    )
    assert isinstance(classified, PermanentSendError)
    assert classified.reason.startswith("invalid envelope at mail")
