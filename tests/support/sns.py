"""Amazon SNS as the tests play it: a CA of their own, a signing certificate it issued to
`sns.amazonaws.com`, and messages signed exactly as SNS signs them (its documented string to
sign, written out here independently of the service's code); SES notifications shaped as in
the SES developer guide's examples."""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

REGION = "us-east-1"
TOPIC_ARN = f"arn:aws:sns:{REGION}:123456789012:nudge-ses-feedback"
CERT_NAME = "SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.pem"
CERT_URL = f"https://sns.{REGION}.amazonaws.com/{CERT_NAME}"


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


@dataclass
class Authority:
    """A certificate authority of the test's own."""

    key: rsa.RSAPrivateKey = field(default_factory=rsa_key)
    name: str = "Nudge test SNS CA"

    def __post_init__(self) -> None:
        now = dt.datetime.now(dt.UTC)
        public = self.key.public_key()
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(_name(self.name))
            .issuer_name(_name(self.name))
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
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
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .sign(self.key, hashes.SHA256())
        )

    def pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def issue(
        self,
        key: rsa.RSAPrivateKey,
        dns_name: str = "sns.amazonaws.com",
        *,
        valid_days: tuple[int, int] = (-1, 30),
    ) -> x509.Certificate:
        """A signing certificate for `key`, issued to `dns_name`, as AWS's are."""
        now = dt.datetime.now(dt.UTC)
        return (
            x509.CertificateBuilder()
            .subject_name(_name(dns_name))
            .issuer_name(self.certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now + dt.timedelta(days=valid_days[0]))
            .not_valid_after(now + dt.timedelta(days=valid_days[1]))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(dns_name)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
                ),
                critical=False,
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                critical=False,
            )
            .sign(self.key, hashes.SHA256())
        )


def string_to_sign(message: dict[str, str]) -> bytes:
    """What SNS signs, as its documentation lists it."""
    if message["Type"] == "Notification":
        names = ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
    else:
        names = ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]
    return "".join(f"{n}\n{message[n]}\n" for n in names if n in message).encode()


@dataclass
class Signer:
    """SNS for the tests: signs with its own key, under a certificate its CA issued."""

    authority: Authority = field(default_factory=Authority)
    key: rsa.RSAPrivateKey = field(default_factory=rsa_key)
    topic_arn: str = TOPIC_ARN
    cert_url: str = CERT_URL

    def __post_init__(self) -> None:
        self.certificate = self.authority.issue(self.key)

    def pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def write(self, folder: Path) -> tuple[Path, Path]:
        """The trusted-certificates folder (the PEM under the URL's name) and the CA file."""
        certs = folder / "sns-certs"
        certs.mkdir(parents=True, exist_ok=True)
        (certs / self.cert_url.rsplit("/", 1)[1]).write_bytes(self.pem())
        ca_file = folder / "sns-ca.pem"
        ca_file.write_bytes(self.authority.pem())
        return certs, ca_file

    def sign(self, message: dict[str, str], version: str = "1") -> dict[str, str]:
        signed = {**message, "SignatureVersion": version, "SigningCertURL": self.cert_url}
        digest = hashes.SHA1() if version == "1" else hashes.SHA256()
        signature = self.key.sign(string_to_sign(signed), padding.PKCS1v15(), digest)
        signed["Signature"] = base64.b64encode(signature).decode()
        return signed

    def notification(
        self,
        ses: dict[str, Any] | str,
        *,
        message_id: str | None = None,
        subject: str | None = None,
        version: str = "1",
    ) -> dict[str, str]:
        message = {
            "Type": "Notification",
            "MessageId": message_id or str(uuid.uuid4()),
            "TopicArn": self.topic_arn,
            "Message": ses if isinstance(ses, str) else json.dumps(ses),
            "Timestamp": _now(),
            "UnsubscribeURL": f"https://sns.{REGION}.amazonaws.com/?Action=Unsubscribe",
        }
        if subject is not None:
            message["Subject"] = subject
        return self.sign(message, version)

    def confirmation(
        self, subscribe_url: str | None = None, *, kind: str = "SubscriptionConfirmation"
    ) -> dict[str, str]:
        token = uuid.uuid4().hex * 2
        url = subscribe_url or (
            f"https://sns.{REGION}.amazonaws.com/?Action=ConfirmSubscription"
            f"&TopicArn={self.topic_arn}&Token={token}"
        )
        return self.sign(
            {
                "Type": kind,
                "MessageId": str(uuid.uuid4()),
                "Token": token,
                "TopicArn": self.topic_arn,
                "Message": f"You have chosen to subscribe to the topic {self.topic_arn}.",
                "SubscribeURL": url,
                "Timestamp": _now(),
            }
        )


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _mail(message_id_header: str | None, to: list[str]) -> dict[str, Any]:
    mail: dict[str, Any] = {
        "timestamp": _now(),
        "source": "shop@example.com",
        "sourceArn": "arn:aws:ses:us-east-1:888888888888:identity/example.com",
        "sourceIp": "127.0.3.0",
        "sendingAccountId": "123456789012",
        "messageId": "0000013786031775-163e3910-53eb-4c8e-a04a-f29debf88a84-000000",
        "destination": to,
    }
    if message_id_header is not None:
        mail["headersTruncated"] = False
        mail["headers"] = [
            {"name": "From", "value": '"Shop" <shop@example.com>'},
            {"name": "To", "value": ", ".join(to)},
            {"name": "Message-ID", "value": message_id_header},
            {"name": "Subject", "value": "Hello"},
        ]
        mail["commonHeaders"] = {
            "from": ["Shop <shop@example.com>"],
            "to": to,
            "messageId": message_id_header,
            "subject": "Hello",
        }
    return mail


def bounce(
    *recipients: str,
    bounce_type: str = "Permanent",
    message_id_header: str | None = None,
    diagnostic: str = "smtp; 550 5.1.1 user unknown",
    at: str | None = None,
) -> dict[str, Any]:
    """An SES bounce notification, as in the SES developer guide's "bounce with a DSN"."""
    return {
        "notificationType": "Bounce",
        "bounce": {
            "bounceType": bounce_type,
            "bounceSubType": "General" if bounce_type != "Transient" else "MailboxFull",
            "reportingMTA": "dns; email.example.com",
            "bouncedRecipients": [
                {
                    "emailAddress": r,
                    "status": "5.1.1" if bounce_type == "Permanent" else "4.2.2",
                    "action": "failed",
                    "diagnosticCode": diagnostic,
                }
                for r in recipients
            ],
            "timestamp": at or _now(),
            "feedbackId": "00000138111222aa-33322211-cccc-cccc-cccc-ddddaaaa068a-000000",
            "remoteMtaIp": "127.0.2.0",
        },
        "mail": _mail(message_id_header, list(recipients)),
    }


def complaint(
    *recipients: str, message_id_header: str | None = None, at: str | None = None
) -> dict[str, Any]:
    """An SES complaint notification with a feedback report, as in the guide."""
    return {
        "notificationType": "Complaint",
        "complaint": {
            "userAgent": "AnyCompany Feedback Loop (V0.01)",
            "complainedRecipients": [{"emailAddress": r} for r in recipients],
            "complaintFeedbackType": "abuse",
            "arrivalDate": at or _now(),
            "timestamp": at or _now(),
            "feedbackId": "000001378603177f-18c07c78-fa81-4a58-9dd1-fedc3cb8f49a-000000",
        },
        "mail": _mail(message_id_header, list(recipients)),
    }


def delivery(recipient: str) -> dict[str, Any]:
    return {
        "notificationType": "Delivery",
        "mail": _mail("custom-message-ID", [recipient]),
        "delivery": {
            "timestamp": _now(),
            "recipients": [recipient],
            "processingTimeMillis": 546,
            "reportingMTA": "a8-70.smtp-out.amazonses.com",
            "smtpResponse": "250 ok:  Message 64111812 accepted",
            "remoteMtaIp": "127.0.2.0",
        },
    }
