"""Telling a database error that belongs to one row from one that belongs to the moment.

A consumer that writes a batch must know which: a row PostgreSQL refuses (a NUL in a text, a
value too long, a constraint) will be refused again however often it is retried, so it is set
aside with the database's message and its neighbours are kept; a lost connection, a timeout, a
serialization failure or a server shutting down says nothing about the rows, so the whole batch
is retried later and nothing is set aside. The SQLSTATE decides, wherever it is found: on
asyncpg's exception, or on the DB-API error SQLAlchemy wraps around it (`.orig`).
"""

from __future__ import annotations

from sqlalchemy import exc as sa_exc

PERMANENT_CLASSES = frozenset({"22", "23"})
"""Data exception (22P05 and 22021 for a NUL, 22001 too long...) and integrity constraint
violation: the row's own fault."""
TRANSIENT_CLASSES = frozenset({"08", "53", "57", "58"})
"""Connection exception, insufficient resources, operator intervention (a shutdown, a
cancelled statement), system error."""
TRANSIENT_STATES = frozenset({"40001", "40P01", "55P03", "55000"})
"""Serialization failure, deadlock, lock not available, a database not accepting
connections right now."""


def sqlstate(error: BaseException) -> str | None:
    """The SQLSTATE of `error` or of the error it wraps, if any carries one."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        code = getattr(current, "sqlstate", None)
        if isinstance(code, str) and len(code) == 5:
            return code
        orig = getattr(current, "orig", None)
        current = orig if isinstance(orig, BaseException) else current.__cause__
    return None


def is_permanent(error: BaseException) -> bool:
    """PostgreSQL refused the data itself: retrying the same row cannot succeed."""
    code = sqlstate(error)
    return code is not None and code[:2] in PERMANENT_CLASSES


def is_transient(error: BaseException) -> bool:
    """The database could not be reached or asked to try again: the rows are not at fault."""
    code = sqlstate(error)
    if code is not None:
        return code[:2] in TRANSIENT_CLASSES or code in TRANSIENT_STATES
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return True
    if isinstance(error, OSError | TimeoutError | sa_exc.TimeoutError):
        return True  # refused or reset connections, a statement or the pool timing out
    cause = getattr(error, "orig", None) or error.__cause__
    return isinstance(cause, OSError | TimeoutError)


def describe(error: BaseException) -> str:
    """The database's own message with its SQLSTATE (no statement, no parameters), for a log
    line or a dead letter's reason."""
    code = sqlstate(error)
    innermost: BaseException = error
    seen: set[int] = set()
    while id(innermost) not in seen:
        seen.add(id(innermost))
        inner = getattr(innermost, "orig", None) or innermost.__cause__
        if not isinstance(inner, BaseException):
            break
        innermost = inner
    message = " ".join(str(innermost).split()) or type(innermost).__name__
    return f"{message} (SQLSTATE {code})" if code else message
