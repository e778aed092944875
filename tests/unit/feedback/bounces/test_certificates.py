"""Signing certificates come from an allow-listed place only, are checked, and are cached."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization

from services.feedback.bounces.certificates import SigningCertificates, SnsHttp, SnsUnreachable
from services.feedback.bounces.sns import SnsRejected
from tests.support.sns import CERT_URL, Authority, Signer, rsa_key


class FakeSns:
    """SNS's certificate host, as an httpx transport that remembers every request."""

    def __init__(self, pem: bytes, status: int = 200) -> None:
        self.pem = pem
        self.status = status
        self.requested: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requested.append(str(request.url))
        return httpx.Response(self.status, content=self.pem)

    def http(self) -> SnsHttp:
        return SnsHttp(transport=httpx.MockTransport(self))


async def test_a_pinned_certificate_is_used_without_fetching(tmp_path: Path) -> None:
    signer = Signer()
    certs, ca_file = signer.write(tmp_path)
    sns = FakeSns(b"never asked")
    source = SigningCertificates(
        certs_dir=certs, http=sns.http(), signing_cas=SigningCertificates.load_cas(ca_file)
    )
    assert await source.certificate(CERT_URL) == signer.certificate
    assert sns.requested == []


async def test_a_fetched_certificate_comes_from_snss_host_only_and_is_cached() -> None:
    signer = Signer()
    sns = FakeSns(signer.pem())
    source = SigningCertificates(http=sns.http(), signing_cas=[signer.authority.certificate])
    assert await source.certificate(CERT_URL) == signer.certificate
    assert await source.certificate(CERT_URL) == signer.certificate
    assert sns.requested == [CERT_URL]
    for foreign in (
        "https://attacker.example/SimpleNotificationService-1.pem",
        "https://sns.us-east-1.amazonaws.com.attacker.example/a.pem",
        "http://sns.us-east-1.amazonaws.com/a.pem",
    ):
        with pytest.raises(SnsRejected) as refused:
            await source.certificate(foreign)
        assert refused.value.field == "SigningCertURL"
    assert sns.requested == [CERT_URL]


async def test_a_certificate_from_another_ca_or_not_issued_to_sns_is_refused() -> None:
    trusted = Authority()
    stranger = Signer()  # a good-looking certificate, from a CA nobody configured
    source = SigningCertificates(
        http=FakeSns(stranger.pem()).http(), signing_cas=[trusted.certificate]
    )
    with pytest.raises(SnsRejected, match="chain"):
        await source.certificate(CERT_URL)
    key = rsa_key()
    other_name = trusted.issue(key, "mail.example.com").public_bytes(serialization.Encoding.PEM)
    source = SigningCertificates(http=FakeSns(other_name).http(), signing_cas=[trusted.certificate])
    with pytest.raises(SnsRejected, match="not issued to SNS"):
        await source.certificate(CERT_URL)


async def test_an_expired_certificate_or_one_not_yet_valid_is_refused() -> None:
    authority = Authority()
    for valid_days in ((-10, -1), (1, 10)):
        pem = authority.issue(rsa_key(), valid_days=valid_days).public_bytes(
            serialization.Encoding.PEM
        )
        source = SigningCertificates(http=FakeSns(pem).http(), signing_cas=[authority.certificate])
        with pytest.raises(SnsRejected, match="not valid now"):
            await source.certificate(CERT_URL)


async def test_a_cached_certificate_is_refused_once_it_expires() -> None:
    signer = Signer()
    now = [datetime.now(UTC)]
    source = SigningCertificates(http=FakeSns(signer.pem()).http(), now=lambda: now[0])
    await source.certificate(CERT_URL)
    now[0] += timedelta(days=60)
    with pytest.raises(SnsRejected, match="not valid now"):
        await source.certificate(CERT_URL)


async def test_without_fetching_only_pinned_certificates_exist(tmp_path: Path) -> None:
    source = SigningCertificates(certs_dir=tmp_path)
    with pytest.raises(SnsRejected, match="fetching is off"):
        await source.certificate(CERT_URL)


async def test_sns_answering_badly_is_worth_a_retry_and_junk_is_refused() -> None:
    source = SigningCertificates(http=FakeSns(b"", status=503).http())
    with pytest.raises(SnsUnreachable):
        await source.certificate(CERT_URL)
    source = SigningCertificates(http=FakeSns(b"<html>not a certificate</html>").http())
    with pytest.raises(SnsRejected, match="PEM"):
        await source.certificate(CERT_URL)

    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    source = SigningCertificates(http=SnsHttp(transport=httpx.MockTransport(unreachable)))
    with pytest.raises(SnsUnreachable):
        await source.certificate(CERT_URL)


def test_a_signing_ca_file_without_a_root_cannot_be_used() -> None:
    authority = Authority()
    leaf = authority.issue(rsa_key())
    with pytest.raises(ValueError, match="root"):
        SigningCertificates(signing_cas=[leaf])
