"""Amazon SNS messages over HTTPS: the envelope, the string SNS signs, and its signature.

SNS signs a fixed selection of the message's fields, each as "Name\\nValue\\n", in this order:
a Notification's Message, MessageId, Subject (only when present), Timestamp, TopicArn, Type; a
SubscriptionConfirmation's or UnsubscribeConfirmation's Message, MessageId, SubscribeURL,
Timestamp, Token, TopicArn, Type. SignatureVersion 1 is RSA PKCS#1 v1.5 over SHA-1, version 2
over SHA-256; the key is the one in the certificate at SigningCertURL, which is only ever taken
from an allow-listed place (certificates.py). Every URL a message names is checked here before
anything is fetched: https, no credentials, no other port, and a host that is SNS's own.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal, Self
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from shared.events.types import Timestamp

SNS_HOST = re.compile(r"sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?")
"""The hosts SNS serves certificates and subscription confirmations from: one per region."""
_TIMESTAMP: TypeAdapter[datetime] = TypeAdapter(Timestamp)


class SnsRejected(Exception):
    """The message is not provably from an allowed SNS topic; `field` says what gave it away."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class SnsType(StrEnum):
    NOTIFICATION = "Notification"
    SUBSCRIPTION_CONFIRMATION = "SubscriptionConfirmation"
    UNSUBSCRIBE_CONFIRMATION = "UnsubscribeConfirmation"


Text = Annotated[str, Field(max_length=262_144)]
Short = Annotated[str, Field(min_length=1, max_length=2048)]


class SnsMessage(BaseModel):
    """One SNS delivery as its JSON body names it; the text kept exactly as signed.

    Fields SNS adds beyond these (UnsubscribeURL, MessageAttributes...) are accepted and not
    used: they are not part of what is signed.
    """

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    type: SnsType = Field(alias="Type")
    message_id: Annotated[str, Field(pattern=r"^[\x21-\x7e]{1,128}$")] = Field(alias="MessageId")
    topic_arn: Short = Field(alias="TopicArn")
    message: Text = Field(alias="Message")
    timestamp: Short = Field(alias="Timestamp")
    signature_version: Literal["1", "2"] = Field(alias="SignatureVersion")
    signature: Annotated[str, Field(min_length=1, max_length=4096)] = Field(alias="Signature")
    signing_cert_url: Short = Field(alias="SigningCertURL")
    subject: Annotated[str, Field(max_length=1024)] | None = Field(default=None, alias="Subject")
    subscribe_url: Short | None = Field(default=None, alias="SubscribeURL")
    token: Short | None = Field(default=None, alias="Token")

    @model_validator(mode="after")
    def _confirmations_carry_their_url(self) -> Self:
        if self.type is not SnsType.NOTIFICATION:
            for name, value in (("SubscribeURL", self.subscribe_url), ("Token", self.token)):
                if value is None:
                    raise ValueError(f"{name} is required in a {self.type}")
        return self

    @property
    def sent_at(self) -> datetime:
        """When SNS published it (checked at parse time: ISO 8601 with an offset, in range)."""
        return _TIMESTAMP.validate_python(self.timestamp)


class SnsInvalid(Exception):
    """The body is not an SNS message: (field, reason) pairs, fields by SNS's names."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{field}: {reason}" for field, reason in errors))
        self.errors = errors


def parse_message(document: dict[str, Any]) -> SnsMessage:
    """The envelope, or SnsInvalid naming each field that is missing or wrong."""
    try:
        message = SnsMessage.model_validate(document)
    except ValidationError as exc:
        raise SnsInvalid(field_errors(exc)) from None
    try:
        _TIMESTAMP.validate_python(message.timestamp)  # now, so that `sent_at` cannot fail
    except ValidationError as exc:
        raise SnsInvalid([("Timestamp", exc.errors()[0]["msg"])]) from None
    return message


def field_errors(exc: ValidationError, prefix: str = "") -> list[tuple[str, str]]:
    """pydantic's errors as (dotted field path, reason), the path under `prefix`."""
    found = []
    for error in exc.errors():
        path = ".".join(str(part) for part in (prefix, *error["loc"]) if part != "")
        found.append((path or "(body)", str(error["msg"])))
    return found


def string_to_sign(message: SnsMessage) -> bytes:
    """The exact bytes SNS signed for this message."""
    if message.type is SnsType.NOTIFICATION:
        fields: list[tuple[str, str | None]] = [
            ("Message", message.message),
            ("MessageId", message.message_id),
            ("Subject", message.subject),
            ("Timestamp", message.timestamp),
            ("TopicArn", message.topic_arn),
            ("Type", message.type.value),
        ]
    else:
        fields = [
            ("Message", message.message),
            ("MessageId", message.message_id),
            ("SubscribeURL", message.subscribe_url),
            ("Timestamp", message.timestamp),
            ("Token", message.token),
            ("TopicArn", message.topic_arn),
            ("Type", message.type.value),
        ]
    return "".join(f"{name}\n{value}\n" for name, value in fields if value is not None).encode()


def verify_signature(message: SnsMessage, certificate: x509.Certificate) -> None:
    """Raise SnsRejected unless `certificate`'s key signed this message."""
    key = certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise SnsRejected("SigningCertURL", "the signing certificate's key is not RSA")
    try:
        signature = base64.b64decode(message.signature, validate=True)
    except (binascii.Error, ValueError):
        raise SnsRejected("Signature", "is not base64") from None
    digest = hashes.SHA1() if message.signature_version == "1" else hashes.SHA256()
    try:
        key.verify(signature, string_to_sign(message), padding.PKCS1v15(), digest)
    except InvalidSignature:
        raise SnsRejected("Signature", "does not verify with the signing certificate") from None


def check_sns_url(url: str, field: str, *, certificate: bool = False) -> str:
    """`url` when it may be fetched: https on the default port, no credentials, an SNS host
    (`sns.<region>.amazonaws.com`); a certificate URL must also name a .pem file and carry no
    query. Returns the certificate's file name for certificate URLs, else the URL itself.
    Raises SnsRejected naming `field` otherwise: nothing a message names is fetched unchecked.
    """
    if not url.isascii() or not url.isprintable() or any(c.isspace() or c == "\\" for c in url):
        raise SnsRejected(field, "is not a plain URL")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise SnsRejected(field, "is not a valid URL") from None
    if parts.scheme != "https":
        raise SnsRejected(field, "must be an https:// URL")
    if parts.username is not None or parts.password is not None or port not in (None, 443):
        raise SnsRejected(field, "must not carry credentials or another port")
    host = parts.hostname or ""
    if not SNS_HOST.fullmatch(host):
        raise SnsRejected(field, f"host {host!r} is not SNS's (sns.<region>.amazonaws.com)")
    if not certificate:
        return url
    name = parts.path.rsplit("/", 1)[-1]
    if parts.query or parts.fragment or not re.fullmatch(r"[A-Za-z0-9._-]{1,200}\.pem", name):
        raise SnsRejected(field, "must name a .pem file, without a query")
    if parts.path != f"/{name}":
        raise SnsRejected(field, "must name a .pem file at the host's root")
    return name
