"""Block until local infrastructure actually answers, not merely listens.

An open TCP port is not readiness: a KRaft broker accepts connections before it
serves metadata, and PostgreSQL rejects logins while it is still starting up.
The scripts in ``deploy/local`` and the integration tests call these helpers so
that they start work only once a real request has succeeded.

Command line::

    python -m shared.readiness kafka 127.0.0.1:19092 [--timeout 60]
    python -m shared.readiness postgres postgresql://nudge:nudge@127.0.0.1:15432/nudge
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import sys
import time
from collections.abc import Sequence

__all__ = ["wait_for_kafka", "wait_for_postgres"]

_RETRY_INTERVAL_S = 0.5
# The longest one probe may take, so a hung attempt cannot eat the whole deadline.
_MAX_ATTEMPT_S = 5.0


def _attempt_budget(deadline: float) -> float:
    """Time one probe may use: what is left of the deadline, capped, never zero."""
    return max(0.1, min(_MAX_ATTEMPT_S, deadline - time.monotonic()))


def _describe(exc: BaseException) -> str:
    """One-line error text; kafka-python's messages already start with the class name."""
    text = str(exc)
    name = type(exc).__name__
    return text if text.startswith(name) else f"{name}: {text}"


def wait_for_kafka(bootstrap: str, timeout_s: float) -> None:
    """Wait until a broker at ``bootstrap`` answers a metadata request listing a broker.

    Raises:
        TimeoutError: no successful metadata response before ``timeout_s`` elapsed.
    """
    # Imported here so that waiting for PostgreSQL does not pay for kafka-python.
    from kafka.admin import KafkaAdminClient

    deadline = time.monotonic() + timeout_s
    last_error = "no attempt made"
    while True:
        budget_ms = int(_attempt_budget(deadline) * 1000)
        try:
            admin = KafkaAdminClient(
                bootstrap_servers=bootstrap,
                client_id="nudge-readiness",
                bootstrap_timeout_ms=budget_ms,
                request_timeout_ms=budget_ms,
                reconnect_backoff_max_ms=500,
            )
            try:
                cluster = admin.describe_cluster()
            finally:
                admin.close()
            if cluster.get("brokers"):
                return
            last_error = "metadata response listed no brokers"
        except Exception as exc:  # any failure just means "not ready yet"
            last_error = _describe(exc)
        if time.monotonic() + _RETRY_INTERVAL_S >= deadline:
            raise TimeoutError(
                f"Kafka at {bootstrap} did not answer a metadata request within "
                f"{timeout_s:g}s (last error: {last_error})"
            )
        time.sleep(_RETRY_INTERVAL_S)


def _asyncpg_dsn(dsn: str) -> str:
    """Accept SQLAlchemy URLs too: asyncpg rejects ``postgresql+asyncpg://``."""
    return re.sub(r"^postgres(?:ql)?\+\w+://", "postgresql://", dsn)


def _redact(dsn: str) -> str:
    """Hide the password so that error messages can be logged safely."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", dsn)


async def _probe_postgres(dsn: str, timeout_s: float) -> None:
    """Log in and run ``SELECT 1``: proves auth, the database and the server all work."""
    import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type hints

    conn = await asyncpg.connect(dsn, timeout=timeout_s)
    try:
        await asyncio.wait_for(conn.fetchval("SELECT 1"), timeout_s)
    finally:
        await conn.close()


def wait_for_postgres(dsn: str, timeout_s: float) -> None:
    """Wait until ``dsn`` accepts a login and answers ``SELECT 1``.

    ``dsn`` may be a libpq URL or an SQLAlchemy ``postgresql+asyncpg://`` URL.

    Raises:
        TimeoutError: no successful query before ``timeout_s`` elapsed.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass  # no loop in this thread: asyncio.run below is allowed
    else:
        raise RuntimeError(
            "wait_for_postgres blocks: from async code call it via asyncio.to_thread"
        )
    target = _asyncpg_dsn(dsn)
    deadline = time.monotonic() + timeout_s
    last_error = "no attempt made"
    while True:
        try:
            asyncio.run(_probe_postgres(target, _attempt_budget(deadline)))
            return
        except Exception as exc:  # refused, starting up, role not yet created...
            last_error = _describe(exc)
        if time.monotonic() + _RETRY_INTERVAL_S >= deadline:
            raise TimeoutError(
                f"PostgreSQL at {_redact(dsn)} did not answer SELECT 1 within "
                f"{timeout_s:g}s (last error: {last_error})"
            )
        time.sleep(_RETRY_INTERVAL_S)


def main(argv: Sequence[str] | None = None) -> int:
    """CLI for shell scripts: exit 0 when ready, 1 (with the reason on stderr) otherwise."""
    parser = argparse.ArgumentParser(
        prog="python -m shared.readiness",
        description="Wait until Kafka or PostgreSQL answers a real request.",
    )
    parser.add_argument("service", choices=["kafka", "postgres"])
    parser.add_argument("target", help="Kafka bootstrap servers, or a PostgreSQL DSN")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds (default 60)")
    args = parser.parse_args(argv)

    # kafka-python logs every refused connection while the broker boots; the
    # final TimeoutError already says what went wrong.
    logging.getLogger("kafka").setLevel(logging.CRITICAL)
    try:
        if args.service == "kafka":
            wait_for_kafka(args.target, args.timeout)
        else:
            wait_for_postgres(args.target, args.timeout)
    except TimeoutError as exc:
        print(f"not ready: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
