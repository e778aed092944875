"""An HTTPS origin on loopback that answers for a real host name: a private CA, leaf
certificates it signs for given names, an aiohttp.web server that records the SNI names it is
asked for, and a resolver that sends those names to 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import socket
import ssl
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@dataclass(frozen=True)
class TestCa:
    """A certificate authority made on the spot; `cert` is the PEM bundle a client trusts."""

    __test__ = False  # not a pytest test class

    folder: Path
    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate

    @property
    def cert(self) -> Path:
        return self.folder / "ca.pem"

    @classmethod
    def create(cls, folder: Path, name: str = "Nudge test CA") -> TestCa:
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = dt.datetime.now(dt.UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
            .sign(key, hashes.SHA256())
        )
        folder.mkdir(parents=True, exist_ok=True)
        ca = cls(folder, key, certificate)
        ca.cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        return ca

    def leaf(self, *names: str) -> tuple[Path, Path]:
        """A server certificate for `names` (DNS names) signed by this CA: (cert.pem, key.pem)."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        ca_ski = self.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(self.certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(
                x509.SubjectAlternativeName([x509.DNSName(name) for name in names]),
                critical=False,
            )
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski.value),
                critical=False,
            )
            .sign(self.key, hashes.SHA256())
        )
        stem = names[0].replace("*", "star")
        cert_path, key_path = self.folder / f"{stem}.pem", self.folder / f"{stem}.key"
        cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(_key_pem(key))
        return cert_path, key_path


@dataclass
class HttpsOrigin:
    port: int
    sni: list[str | None] = field(default_factory=list)
    """The server name of every TLS handshake, in order (None: the client sent none)."""


@asynccontextmanager
async def https_origin(app: web.Application, cert: Path, key: Path) -> AsyncIterator[HttpsOrigin]:
    """`app` served over TLS on a free loopback port with the certificate `cert`."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    origin = HttpsOrigin(port=0)

    def seen(sock: ssl.SSLObject, name: str | None, _: ssl.SSLContext) -> None:
        origin.sni.append(name)

    context.sni_callback = seen
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    origin.port = sock.getsockname()[1]
    await web.SockSite(runner, sock, ssl_context=context).start()
    try:
        yield origin
    finally:
        await runner.cleanup()


class LoopbackNames(AbstractResolver):
    """Resolves `names` (and only them) to 127.0.0.1, so that a client reaches a loopback
    server by a real host name without touching DNS."""

    def __init__(self, names: Collection[str]) -> None:
        self.names = set(names)
        self.asked: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.asked.append(host)
        if host not in self.names:
            raise OSError(f"{host} is not a test name")
        return [
            ResolveResult(
                hostname=host,
                host="127.0.0.1",
                port=port,
                family=socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
        ]

    async def close(self) -> None:
        pass
