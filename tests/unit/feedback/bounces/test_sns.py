"""SNS's envelope: the string it signs, signatures of both versions, and the URLs it names."""

from __future__ import annotations

import base64

import pytest
from cryptography import x509

from services.feedback.bounces.sns import (
    SnsInvalid,
    SnsRejected,
    SnsType,
    check_sns_url,
    parse_message,
    string_to_sign,
    verify_signature,
)
from tests.support.sns import Signer, bounce
from tests.unit.feedback.bounces import aws_example

SIGNER = Signer()


def test_a_notification_signs_its_fields_in_snss_order_subject_only_when_present() -> None:
    message = {
        "Type": "Notification",
        "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
        "TopicArn": "arn:aws:sns:us-west-2:123456789012:MyTopic",
        "Subject": "My First Message",
        "Message": "Hello world!",
        "Timestamp": "2012-05-02T00:54:06.655Z",
        "SignatureVersion": "1",
        "Signature": "EXAMPLE",
        "SigningCertURL": "https://sns.us-west-2.amazonaws.com/x.pem",
        "UnsubscribeURL": "https://sns.us-west-2.amazonaws.com/?Action=Unsubscribe",
    }
    assert string_to_sign(parse_message(message)) == (
        b"Message\nHello world!\nMessageId\n22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324\n"
        b"Subject\nMy First Message\nTimestamp\n2012-05-02T00:54:06.655Z\n"
        b"TopicArn\narn:aws:sns:us-west-2:123456789012:MyTopic\nType\nNotification\n"
    )
    del message["Subject"]
    assert b"Subject" not in string_to_sign(parse_message(message))


def test_a_subscription_confirmation_signs_its_url_and_token() -> None:
    message = {
        "Type": "SubscriptionConfirmation",
        "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
        "Token": "2336412f37",
        "TopicArn": "arn:aws:sns:us-west-2:123456789012:MyTopic",
        "Message": "You have chosen to subscribe to the topic.",
        "SubscribeURL": "https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription",
        "Timestamp": "2012-04-26T20:45:04.751Z",
        "SignatureVersion": "1",
        "Signature": "EXAMPLE",
        "SigningCertURL": "https://sns.us-west-2.amazonaws.com/x.pem",
    }
    parsed = parse_message(message)
    assert parsed.type is SnsType.SUBSCRIPTION_CONFIRMATION
    assert string_to_sign(parsed) == (
        b"Message\nYou have chosen to subscribe to the topic.\n"
        b"MessageId\n165545c9-2a5c-472c-8df2-7ff2be2b3b1b\n"
        b"SubscribeURL\nhttps://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription\n"
        b"Timestamp\n2012-04-26T20:45:04.751Z\nToken\n2336412f37\n"
        b"TopicArn\narn:aws:sns:us-west-2:123456789012:MyTopic\nType\nSubscriptionConfirmation\n"
    )


@pytest.mark.parametrize("version", ["1", "2"])
def test_both_signature_versions_verify_and_a_forgery_does_not(version: str) -> None:
    signed = SIGNER.notification(bounce("jane@example.com"), subject="Bounce", version=version)
    verify_signature(parse_message(signed), SIGNER.certificate)
    for name, value in (("Message", "{}"), ("Subject", "Other"), ("TopicArn", "arn:x")):
        with pytest.raises(SnsRejected) as refused:
            verify_signature(parse_message({**signed, name: value}), SIGNER.certificate)
        assert refused.value.field == "Signature"
    other_version = {**signed, "SignatureVersion": "2" if version == "1" else "1"}
    with pytest.raises(SnsRejected):
        verify_signature(parse_message(other_version), SIGNER.certificate)


def test_a_signature_by_another_key_or_not_base64_is_refused() -> None:
    signed = SIGNER.notification(bounce("jane@example.com"))
    with pytest.raises(SnsRejected, match="does not verify"):
        verify_signature(parse_message(signed), Signer().certificate)
    garbled = {**signed, "Signature": "not base64!"}
    with pytest.raises(SnsRejected, match="base64"):
        verify_signature(parse_message(garbled), SIGNER.certificate)
    empty_signature = base64.b64encode(b"\0" * 256).decode()
    with pytest.raises(SnsRejected):
        verify_signature(
            parse_message({**signed, "Signature": empty_signature}), SIGNER.certificate
        )


@pytest.mark.parametrize("message", [aws_example.NOTIFICATION_V1, aws_example.NOTIFICATION_V2])
def test_awss_own_published_messages_verify_with_its_certificate(message: dict[str, str]) -> None:
    certificate = x509.load_pem_x509_certificate(aws_example.CERTIFICATE)
    verify_signature(parse_message(message), certificate)
    with pytest.raises(SnsRejected):
        verify_signature(parse_message({**message, "Message": "Hello world."}), certificate)


def test_missing_or_wrong_fields_are_named() -> None:
    signed = SIGNER.notification(bounce("jane@example.com"))
    without = {k: v for k, v in signed.items() if k not in ("Signature", "TopicArn")}
    with pytest.raises(SnsInvalid) as invalid:
        parse_message(without)
    assert {field for field, _ in invalid.value.errors} == {"Signature", "TopicArn"}
    for name, value, field in (
        ("SignatureVersion", "3", "SignatureVersion"),
        ("SignatureVersion", 1, "SignatureVersion"),
        ("Type", "Hello", "Type"),
        ("Timestamp", "yesterday", "Timestamp"),
        ("Timestamp", "9999-01-01T00:00:00Z", "Timestamp"),
        ("MessageId", "has spaces", "MessageId"),
    ):
        with pytest.raises(SnsInvalid) as invalid:
            parse_message({**signed, name: value})
        assert invalid.value.errors[0][0] == field, (name, value)
    confirmation = SIGNER.confirmation()
    del confirmation["SubscribeURL"]
    with pytest.raises(SnsInvalid, match="SubscribeURL"):
        parse_message(confirmation)


def test_only_snss_own_https_hosts_pass_the_url_check() -> None:
    good = "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-abc.pem"
    assert check_sns_url(good, "SigningCertURL", certificate=True) == (
        "SimpleNotificationService-abc.pem"
    )
    assert check_sns_url("https://sns.cn-north-1.amazonaws.com.cn/a.pem", "f", certificate=True)
    confirm = "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&Token=x"
    assert check_sns_url(confirm, "SubscribeURL") == confirm
    for bad in (
        "http://sns.us-east-1.amazonaws.com/a.pem",
        "https://evil.example/a.pem",
        "https://sns.us-east-1.amazonaws.com.evil.example/a.pem",
        "https://evil.example/sns.us-east-1.amazonaws.com/a.pem",
        "https://sns.us-east-1.amazonaws.com@evil.example/a.pem",
        "https://user:pw@sns.us-east-1.amazonaws.com/a.pem",
        "https://sns.us-east-1.amazonaws.com:8443/a.pem",
        "https://sns.us-east-1.amazonaws.com:x/a.pem",
        "https://sns.amazonaws.com/a.pem",
        "https://s3.us-east-1.amazonaws.com/a.pem",
        "https://sns.us-east-1.amazonaws.com\\@evil.example/a.pem",
        "https://sns.us-east-1.amazonaws.com/a.pem?x=1",
        "https://sns.us-east-1.amazonaws.com/a.key",
        "https://sns.us-east-1.amazonaws.com/../a.pem",
        "https://sns.us-east-1.amazonaws.com/dir/a.pem",
        "https://sn\u0455.us-east-1.amazonaws.com/a.pem",  # a Cyrillic s
        "https://sns.us-east-1.amazonaws.com/a.pem\n",
        "file:///etc/passwd",
        "",
    ):
        with pytest.raises(SnsRejected) as refused:
            check_sns_url(bad, "SigningCertURL", certificate=True)
        assert refused.value.field == "SigningCertURL", bad
