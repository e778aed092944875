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

from shared.keyring import LinkKeys, MasterKeyRing, read_ring_file

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
    """The master keys: webhook secrets at rest are encrypted under keys derived from them.

    A ring of keys with ids (`NUDGE_SECRET_KEYS_FILE`: `<kid> <secret>` per line, the active
    key first; `nudge keys rotate` writes it), or one key (`NUDGE_SECRET_KEY`, e.g. from a
    Kubernetes Secret, or `NUDGE_SECRET_KEY_FILE`, which the local stack creates), which is a
    ring of one under the id `k0`. When the ring file is set, it is the one read.
    """

    model_config = SettingsConfigDict(env_prefix="NUDGE_", extra="ignore")

    secret_keys_file: Path | None = None
    secret_key: SecretStr | None = None
    secret_key_file: Path | None = None

    def ring(self) -> MasterKeyRing:
        if self.secret_keys_file is not None:
            return read_ring_file(self.secret_keys_file, "NUDGE_SECRET_KEYS_FILE")
        if self.secret_key is not None:
            return MasterKeyRing.single(self.secret_key, "NUDGE_SECRET_KEY")
        if self.secret_key_file is not None and self.secret_key_file.is_file():
            value = SecretStr(self.secret_key_file.read_text().strip())
            return MasterKeyRing.single(value, f"NUDGE_SECRET_KEY_FILE ({self.secret_key_file})")
        raise ValueError(
            "set NUDGE_SECRET_KEYS_FILE (a key ring), or NUDGE_SECRET_KEY (or "
            "NUDGE_SECRET_KEY_FILE) to a random string of at least 32 characters; the master "
            "keys encrypt the shops' webhook secrets"
        )


class LinkKeySettings(BaseSettings):
    """The keys that sign and verify the links in messages, derived from the master keys:
    all that dispatch (and the feedback service) hold, so they cannot decrypt webhook secrets.

    `NUDGE_LINK_KEYS` (`<kid> <key>` entries, one per line or comma-separated) or
    `NUDGE_LINK_KEYS_FILE`; `nudge keys derive links` prints them from the master keys.
    """

    model_config = SettingsConfigDict(env_prefix="NUDGE_", extra="ignore")

    link_keys: SecretStr | None = None
    link_keys_file: Path | None = None

    def keys(self) -> LinkKeys:
        if self.link_keys is not None:
            return LinkKeys.parse(self.link_keys.get_secret_value(), "NUDGE_LINK_KEYS")
        if self.link_keys_file is not None:
            source = f"NUDGE_LINK_KEYS_FILE ({self.link_keys_file})"
            try:
                text = self.link_keys_file.read_text()
            except OSError as exc:
                raise ValueError(f"{source}: cannot read the link keys: {exc.strerror}") from None
            return LinkKeys.parse(text, source)
        raise ValueError(
            "set NUDGE_LINK_KEYS (or NUDGE_LINK_KEYS_FILE) to the link-signing keys, which "
            "`nudge keys derive links` prints from the master keys; they sign the unsubscribe "
            "links in marketing messages"
        )
