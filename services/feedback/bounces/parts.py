"""What the bounce route works with: where signing certificates come from, the fetcher for
SNS's URLs, and the suppression store; built from the settings, or in memory for tests."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from services.feedback.bounces.certificates import SigningCertificates, SnsHttp
from services.feedback.bounces.postgres import PostgresSuppressionStore
from services.feedback.bounces.store import MemorySuppressionStore, SuppressionStore
from services.feedback.settings import FeedbackSettings


@dataclass(frozen=True)
class BounceParts:
    certificates: SigningCertificates
    store: SuppressionStore
    http: SnsHttp | None = None
    """Fetches SubscribeURLs (and certificates, inside `certificates`); None: nothing is
    fetched, confirmations are logged for an operator."""

    @classmethod
    def in_memory(cls) -> BounceParts:
        """No trusted certificate (every SNS message is refused) and a store in memory: what
        an app built with fakes has until a test gives it its own."""
        return cls(SigningCertificates(), MemorySuppressionStore())

    @classmethod
    def from_settings(cls, settings: FeedbackSettings, engine: AsyncEngine) -> BounceParts:
        """The service's: raises ValueError naming a setting that cannot be used."""
        if settings.sns_certs_dir is not None and not settings.sns_certs_dir.is_dir():
            raise ValueError(f"NUDGE_FEEDBACK_SNS_CERTS_DIR {settings.sns_certs_dir} is no folder")
        try:
            http = SnsHttp(tls_ca_file=settings.sns_tls_ca_file)
        except OSError as exc:  # ssl.SSLError is one
            raise ValueError(f"NUDGE_FEEDBACK_SNS_TLS_CA_FILE cannot be used: {exc}") from None
        cas = (
            SigningCertificates.load_cas(settings.sns_signing_ca_file)
            if settings.sns_signing_ca_file is not None
            else []
        )
        certificates = SigningCertificates(
            certs_dir=settings.sns_certs_dir,
            http=http if settings.sns_cert_fetch else None,
            signing_cas=cas,
        )
        return cls(certificates, PostgresSuppressionStore(engine), http)
