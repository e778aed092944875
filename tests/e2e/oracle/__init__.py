"""The oracle: the messages Nudge must and must not send for a simulator plan (issue 25)."""

from tests.e2e.oracle.config import OracleConfig
from tests.e2e.oracle.predict import predict

__all__ = ["OracleConfig", "predict"]
