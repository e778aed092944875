"""Where SNS signing certificates come from: an allow-listed place only, never a URL unchecked.

A message names its certificate (SigningCertURL); that URL is checked first (sns.py: https,
SNS's own host, a .pem at the root). The certificate is then taken from the folder of trusted
PEMs (saved under the URL's file name), or, when fetching is on, from that URL over verified
TLS. Either way it must be valid now and issued to SNS (`sns.amazonaws.com`), and, when signing
CAs are configured, chain to one of them. Accepted certificates are cached by URL.
"""

from __future__ import annotations

import asyncio
import logging
import re
import ssl
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import httpx
from cryptography import x509
from cryptography.x509 import DNSName
from cryptography.x509.oid import NameOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from services.feedback.bounces.sns import SnsRejected, check_sns_url

log = logging.getLogger(__name__)
SIGNING_NAME = re.compile(r"sns(\.[a-z0-9-]+)?\.amazonaws\.com(\.cn)?")
"""The name SNS's signing certificates are issued to."""
MAX_CERTIFICATE_BYTES = 64 * 1024
CACHED = 64


class SnsUnreachable(Exception):
    """SNS did not answer a fetch now (network, timeout, an error status): worth a retry."""


class SnsHttp:
    """GETs of URLs an SNS message names, each checked by `check_sns_url` first.

    TLS is verified against the system's CAs, or `tls_ca_file`; redirects are not followed (a
    redirect could lead anywhere). Tests pass an httpx transport instead of the network.
    """

    def __init__(
        self,
        *,
        tls_ca_file: Path | None = None,
        timeout_s: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._verify: ssl.SSLContext | bool = (
            ssl.create_default_context(cafile=str(tls_ca_file)) if tls_ca_file else True
        )
        self._timeout = httpx.Timeout(timeout_s)
        self._transport = transport
        self._slots = asyncio.Semaphore(4)

    async def get(
        self, url: str, field: str, *, max_bytes: int, certificate: bool = False
    ) -> bytes:
        """The body of a 200 answer; SnsRejected when `url` may not be fetched (nothing is
        sent then), SnsUnreachable when SNS did not answer with one."""
        check_sns_url(url, field, certificate=certificate)
        async with (
            self._slots,
            httpx.AsyncClient(
                transport=self._transport,
                verify=self._verify,
                timeout=self._timeout,
                follow_redirects=False,
            ) as client,
        ):
            try:
                async with client.stream("GET", url) as response:
                    if response.status_code != 200:
                        raise SnsUnreachable(f"{field} answered HTTP {response.status_code}")
                    body = bytearray()
                    async for chunk in response.aiter_bytes():
                        body += chunk
                        if len(body) > max_bytes:
                            raise SnsRejected(field, f"answer exceeds {max_bytes} bytes")
                    return bytes(body)
            except httpx.HTTPError as exc:
                raise SnsUnreachable(f"{field} could not be fetched: {exc!r}") from exc


class SigningCertificates:
    """SNS signing certificates by URL: from `certs_dir`, else fetched (when `http` is given).

    `signing_cas` (roots and intermediates, PEM) adds a chain check; without it the trust is
    the allow-listed source itself: a file an operator placed, or SNS's host over verified TLS.
    """

    def __init__(
        self,
        *,
        certs_dir: Path | None = None,
        http: SnsHttp | None = None,
        signing_cas: Sequence[x509.Certificate] = (),
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._dir = certs_dir
        self._http = http
        self._roots = [c for c in signing_cas if c.issuer == c.subject]
        self._intermediates = [c for c in signing_cas if c.issuer != c.subject]
        if signing_cas and not self._roots:
            raise ValueError("the SNS signing CA file holds no self-signed (root) certificate")
        self._now = now
        self._cache: dict[str, x509.Certificate] = {}

    @classmethod
    def load_cas(cls, path: Path) -> list[x509.Certificate]:
        """The certificates of a PEM bundle (a ValueError names the file when it holds none)."""
        try:
            found = x509.load_pem_x509_certificates(path.read_bytes())
        except (OSError, ValueError) as exc:
            raise ValueError(f"cannot read the SNS signing CA file {path}: {exc}") from None
        return found

    async def certificate(self, url: str) -> x509.Certificate:
        """The trusted certificate for `url`, or SnsRejected / SnsUnreachable."""
        name = check_sns_url(url, "SigningCertURL", certificate=True)
        cached = self._cache.get(url)
        if cached is not None:
            self._check_dates(cached)
            return cached
        pem = self._pinned(name)
        if pem is None:
            if self._http is None:
                raise SnsRejected(
                    "SigningCertURL", f"no trusted certificate {name} here, and fetching is off"
                )
            pem = await self._http.get(
                url, "SigningCertURL", max_bytes=MAX_CERTIFICATE_BYTES, certificate=True
            )
            log.info("fetched the SNS signing certificate %s", url)
        certificate = self._accept(pem)
        if len(self._cache) >= CACHED:
            self._cache.pop(next(iter(self._cache)))
        self._cache[url] = certificate
        return certificate

    def _pinned(self, name: str) -> bytes | None:
        if self._dir is None:
            return None
        path = self._dir / name  # `name` is a bare file name (check_sns_url)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise SnsRejected("SigningCertURL", f"the trusted copy cannot be read: {exc}") from None

    def _accept(self, pem: bytes) -> x509.Certificate:
        try:
            chain = x509.load_pem_x509_certificates(pem)
        except ValueError:
            raise SnsRejected("SigningCertURL", "does not hold a PEM certificate") from None
        leaf, offered = chain[0], chain[1:]
        self._check_dates(leaf)
        name = issued_to_sns(leaf)
        if name is None:
            raise SnsRejected("SigningCertURL", "the certificate is not issued to SNS")
        if self._roots:
            verifier = (
                PolicyBuilder()
                .store(Store(self._roots))
                .time(self._now())
                .build_server_verifier(DNSName(name))
            )
            try:
                verifier.verify(leaf, [*offered, *self._intermediates])
            except VerificationError as exc:
                raise SnsRejected(
                    "SigningCertURL", f"the certificate does not chain to a trusted CA: {exc}"
                ) from None
        return leaf

    def _check_dates(self, certificate: x509.Certificate) -> None:
        now = self._now()
        if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
            raise SnsRejected("SigningCertURL", "the signing certificate is not valid now")


def issued_to_sns(certificate: x509.Certificate) -> str | None:
    """The SNS name the certificate is issued to (its DNS names, else its common name)."""
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        names = [str(n) for n in san.value.get_values_for_type(x509.DNSName)]
    except x509.ExtensionNotFound:
        names = [
            str(a.value) for a in certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        ]
    except ValueError:  # a malformed extension
        return None
    return next((n for n in names if SIGNING_NAME.fullmatch(n)), None)
