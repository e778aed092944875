"""KAFKA_SECURITY_PROTOCOL, KAFKA_SSL_CAFILE and KAFKA_SASL_* reach every Kafka client we use:
aiokafka and kafka-python (`client_options`), librdkafka (`librdkafka_options`) and Faust."""

from __future__ import annotations

import ssl
from pathlib import Path

import faust
from pydantic import SecretStr

from shared.faust_runtime import credentials as _credentials
from shared.settings import KafkaSettings
from tests.support.certificates import SUBJECT, self_signed

CA_NAME = SUBJECT


def write_ca(folder: Path) -> Path:
    cert, _ = self_signed(folder)
    return cert


def trusted_names(context: ssl.SSLContext) -> str:
    """The subjects of the authorities the context trusts (as text, for `in` checks)."""
    return " ".join(repr(cert["subject"]) for cert in context.get_ca_certs())


def test_plaintext_adds_no_tls() -> None:
    kafka = KafkaSettings(bootstrap_servers="k:9092")
    assert "ssl_context" not in kafka.client_options()
    assert "ssl.ca.location" not in kafka.librdkafka_options()
    assert _credentials(kafka) is None


def test_ssl_verifies_brokers_against_the_given_ca(tmp_path: Path) -> None:
    ca = write_ca(tmp_path)
    kafka = KafkaSettings(bootstrap_servers="k:9093", security_protocol="SSL", ssl_cafile=ca)

    context = kafka.client_options()["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert CA_NAME in trusted_names(context)
    assert kafka.librdkafka_options()["ssl.ca.location"] == str(ca)
    credentials = _credentials(kafka)
    assert isinstance(credentials, faust.SSLCredentials)
    assert CA_NAME in trusted_names(credentials.context)


def test_sasl_over_ssl_carries_both(tmp_path: Path) -> None:
    kafka = KafkaSettings(
        bootstrap_servers="k:9094",
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username="nudge",
        sasl_password=SecretStr("secret"),
        ssl_cafile=write_ca(tmp_path),
    )
    options = kafka.client_options()
    assert options["sasl_plain_username"] == "nudge"
    assert isinstance(options["ssl_context"], ssl.SSLContext)
    librdkafka = kafka.librdkafka_options()
    assert librdkafka["security.protocol"] == "SASL_SSL"
    assert librdkafka["sasl.password"] == "secret"
    credentials = _credentials(kafka)
    assert isinstance(credentials, faust.SASLCredentials)
    assert credentials.protocol == faust.types.auth.AuthProtocol.SASL_SSL
    assert credentials.ssl_context is not None
    assert CA_NAME in trusted_names(credentials.ssl_context)


def test_ssl_without_a_ca_file_uses_the_systems_authorities() -> None:
    kafka = KafkaSettings(bootstrap_servers="k:9093", security_protocol="SSL")
    context = kafka.ssl_context()
    assert context is not None and context.verify_mode == ssl.CERT_REQUIRED
    assert "ssl.ca.location" not in kafka.librdkafka_options()
