"""Settings every service shares, read from the environment and validated at start.

Infrastructure uses the conventional names (`KAFKA_BOOTSTRAP_SERVERS`, `DATABASE_URL`) so that
an existing server can be pointed at without reading our docs; each service adds its own
settings under its own prefix (`NUDGE_INGEST_...`).
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

LOCAL_KAFKA = "127.0.0.1:19092"
LOCAL_DATABASE_URL = "postgresql+asyncpg://nudge:nudge@127.0.0.1:15432/nudge"


class KafkaSettings(BaseSettings):
    """How to reach the Kafka cluster (defaults: the local single-node broker)."""

    model_config = SettingsConfigDict(env_prefix="KAFKA_", extra="ignore")

    bootstrap_servers: str = LOCAL_KAFKA
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: Path | None = None

    @model_validator(mode="after")
    def _sasl_complete(self) -> KafkaSettings:
        if self.security_protocol.startswith("SASL") and not (
            self.sasl_mechanism and self.sasl_username and self.sasl_password
        ):
            raise ValueError(
                "KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD are "
                "required with a SASL security protocol"
            )
        return self

    @property
    def uses_tls(self) -> bool:
        return self.security_protocol in ("SSL", "SASL_SSL")

    def ssl_context(self) -> ssl.SSLContext | None:
        """For SSL and SASL_SSL: verifies the brokers against KAFKA_SSL_CAFILE, else against
        the system's certificate authorities."""
        if not self.uses_tls:
            return None
        return ssl.create_default_context(cafile=str(self.ssl_cafile) if self.ssl_cafile else None)

    def client_options(self) -> dict[str, object]:
        """Connection options in the spelling aiokafka and kafka-python share."""
        options: dict[str, object] = {
            "bootstrap_servers": self.bootstrap_servers,
            "security_protocol": self.security_protocol,
        }
        if self.uses_tls:
            options["ssl_context"] = self.ssl_context()
        if self.sasl_mechanism:
            options["sasl_mechanism"] = self.sasl_mechanism
            options["sasl_plain_username"] = self.sasl_username
            options["sasl_plain_password"] = (
                self.sasl_password.get_secret_value() if self.sasl_password else None
            )
        return options

    def librdkafka_options(self) -> dict[str, object]:
        """The same connection in librdkafka's spelling (confluent-kafka clients)."""
        options: dict[str, object] = {
            "bootstrap.servers": self.bootstrap_servers,
            "security.protocol": self.security_protocol,
        }
        if self.sasl_mechanism:
            options["sasl.mechanism"] = self.sasl_mechanism
            options["sasl.username"] = self.sasl_username
            options["sasl.password"] = (
                self.sasl_password.get_secret_value() if self.sasl_password else None
            )
        if self.ssl_cafile:
            options["ssl.ca.location"] = str(self.ssl_cafile)
        return options


class DatabaseSettings(BaseSettings):
    """The PostgreSQL database (SQLAlchemy URL with the asyncpg driver)."""

    model_config = SettingsConfigDict(env_prefix="DATABASE_", extra="ignore")

    url: SecretStr = SecretStr(LOCAL_DATABASE_URL)
    pool_size: int = Field(default=5, ge=1, le=100)
    timeout_s: float = Field(default=10.0, gt=0, le=300)
    """Longest wait for a connection or a statement."""

    @model_validator(mode="after")
    def _async_driver(self) -> DatabaseSettings:
        url = self.url.get_secret_value()
        if url.startswith(("postgresql://", "postgres://")):
            _scheme, rest = url.split("://", 1)
            self.url = SecretStr(f"postgresql+asyncpg://{rest}")
        elif not url.startswith("postgresql+asyncpg://"):
            raise ValueError("DATABASE_URL must be a postgresql:// or postgresql+asyncpg:// URL")
        return self


class SecretKeySettings(BaseSettings):
    """The key that encrypts shops' webhook secrets at rest.

    Given directly (`NUDGE_SECRET_KEY`, e.g. from a Kubernetes Secret) or as a file
    (`NUDGE_SECRET_KEY_FILE`, which the local stack creates).
    """

    model_config = SettingsConfigDict(env_prefix="NUDGE_", extra="ignore")

    secret_key: SecretStr | None = None
    secret_key_file: Path | None = None

    def key(self) -> SecretStr:
        if self.secret_key is not None:
            value = self.secret_key
        elif self.secret_key_file is not None and self.secret_key_file.is_file():
            value = SecretStr(self.secret_key_file.read_text().strip())
        else:
            raise ValueError(
                "set NUDGE_SECRET_KEY (or NUDGE_SECRET_KEY_FILE) to a random string of at "
                "least 32 characters; it encrypts the shops' webhook secrets"
            )
        if len(value.get_secret_value()) < 32:
            raise ValueError("NUDGE_SECRET_KEY must be at least 32 characters long")
        return value
