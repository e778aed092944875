"""SMTP failures sorted into retry-later, never, and pause-the-channel, and whether the message
may be out."""

from __future__ import annotations

import ssl

import aiosmtplib
import pytest

from services.dispatch.providers.base import (
    PermanentSendError,
    ProviderConfigError,
    TransientSendError,
)
from services.dispatch.providers.email import _classify, _classify_connect


@pytest.mark.parametrize(
    ("error", "stage"),
    [
        (aiosmtplib.SMTPSenderRefused(451, "try later", "a@x"), "mail"),
        (aiosmtplib.SMTPRecipientRefused(452, "mailbox busy", "b@x"), "rcpt"),
        (aiosmtplib.SMTPDataError(421, "closing"), "data"),
        (aiosmtplib.SMTPDataError(451, "queue full"), "data"),
    ],
)
def test_4xx_replies_are_transient_with_their_code(error: Exception, stage: str) -> None:
    classified = _classify(error, stage)  # type: ignore[arg-type]
    assert type(classified) is TransientSendError
    assert classified.code == getattr(error, "code", None)
    assert not classified.maybe_sent  # the relay said no: nothing went out


@pytest.mark.parametrize(
    ("error", "stage"),
    [
        (aiosmtplib.SMTPSenderRefused(553, "5.7.1 not yours", "a@x"), "mail"),
        (aiosmtplib.SMTPRecipientRefused(550, "5.1.1 no such user", "b@x"), "rcpt"),
        (aiosmtplib.SMTPDataError(554, "5.7.1 rejected as spam"), "data"),
    ],
)
def test_5xx_replies_are_permanent_with_their_code(error: Exception, stage: str) -> None:
    classified = _classify(error, stage)  # type: ignore[arg-type]
    assert isinstance(classified, PermanentSendError)
    assert classified.code == getattr(error, "code", None)
    assert classified.reason.startswith(f"smtp {classified.code} at {stage}: ")
    assert not classified.opted_out


@pytest.mark.parametrize(
    "error",
    [
        aiosmtplib.SMTPServerDisconnected("gone"),
        aiosmtplib.SMTPReadTimeoutError("timed out"),
        ConnectionResetError(104, "reset"),
        aiosmtplib.SMTPResponseException(-1, "Malformed SMTP response"),
    ],
)
def test_connection_trouble_is_transient_and_ambiguous_only_in_data(error: Exception) -> None:
    for stage in ("mail", "rcpt"):  # before DATA: nothing of the message was written
        before = _classify(error, stage)
        assert type(before) is TransientSendError and not before.maybe_sent
    during = _classify(error, "data")
    assert type(during) is TransientSendError and during.maybe_sent
    assert len(during.reason) <= 240


def test_timeout_reason_names_the_stage() -> None:
    classified = _classify(aiosmtplib.SMTPReadTimeoutError("timed out"), "data")
    assert classified.reason == "timeout at data"
    assert classified.maybe_sent


def test_an_address_no_command_can_carry_is_permanent() -> None:
    classified = _classify(ValueError("Address 'a b@x' contains characters not permitted"), "mail")
    assert isinstance(classified, PermanentSendError)
    assert classified.reason.startswith("invalid envelope at mail")


def test_a_relay_without_smtputf8_cannot_take_a_non_ascii_address() -> None:
    classified = _classify(aiosmtplib.SMTPNotSupported("no SMTPUTF8"), "mail")
    assert isinstance(classified, PermanentSendError)


@pytest.mark.parametrize(
    "error",
    [
        aiosmtplib.SMTPConnectError("refused"),
        aiosmtplib.SMTPConnectTimeoutError("slow"),
        ConnectionRefusedError(111, "refused"),
        aiosmtplib.SMTPServerDisconnected("gone during EHLO"),
        aiosmtplib.SMTPConnectResponseError(421, "too busy"),
    ],
)
def test_network_failures_and_4xx_when_connecting_are_transient(error: Exception) -> None:
    classified = _classify_connect(error, "smtp.example.net")
    assert type(classified) is TransientSendError
    assert not classified.maybe_sent


def wrapped(cause: Exception) -> Exception:
    """As aiosmtplib raises a failed TLS handshake: its own error, the ssl one as the cause."""
    error = aiosmtplib.SMTPConnectError("Error connecting to smtp.example.net on port 465")
    error.__cause__ = cause
    return error


@pytest.mark.parametrize(
    "error",
    [
        wrapped(ssl.SSLCertVerificationError(1, "certificate verify failed")),
        wrapped(ssl.SSLError(1, "wrong version number")),
        aiosmtplib.SMTPException("SMTP STARTTLS extension not supported by server."),
        aiosmtplib.SMTPAuthenticationError(535, "5.7.8 bad credentials"),
        aiosmtplib.SMTPConnectResponseError(554, "5.7.1 your IP is not allowed"),
    ],
)
def test_a_relay_unusable_as_configured_pauses_the_channel(error: Exception) -> None:
    classified = _classify_connect(error, "smtp.example.net")
    assert isinstance(classified, ProviderConfigError)
    assert not classified.maybe_sent
    assert "smtp.example.net" in classified.reason or str(getattr(error, "code", "")) in (
        classified.reason
    )


def test_a_tls_handshake_cut_short_is_network_trouble() -> None:
    classified = _classify_connect(wrapped(ssl.SSLEOFError(8, "EOF")), "smtp.example.net")
    assert type(classified) is TransientSendError


def test_bad_credentials_keep_their_code() -> None:
    classified = _classify_connect(
        aiosmtplib.SMTPAuthenticationError(535, "5.7.8 bad credentials"), "smtp.example.net"
    )
    assert (classified.code, classified.reason[:17]) == (535, "smtp 535 at login")
