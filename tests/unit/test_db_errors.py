"""Which database errors are a row's fault (set it aside) and which are the moment's (retry)."""

from __future__ import annotations

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type hints
import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_dbapi

from shared.db import errors


def as_sqlalchemy_raises(error: Exception) -> sa_exc.DBAPIError:
    """`error` wrapped as SQLAlchemy's asyncpg dialect wraps it: DBAPIError(.orig=adapted
    error, whose __cause__ is asyncpg's)."""
    adapted = AsyncAdapt_asyncpg_dbapi.Error(str(error), error)  # type: ignore[no-untyped-call]
    adapted.__cause__ = error
    wrapped = sa_exc.DBAPIError("INSERT INTO contacts ...", {"customer_id": "c1"}, adapted)
    wrapped.__cause__ = adapted
    return wrapped


REFUSED_ROWS = [
    asyncpg.CharacterNotInRepertoireError('invalid byte sequence for encoding "UTF8": 0x00'),
    asyncpg.UntranslatableCharacterError("unsupported Unicode escape sequence"),
    asyncpg.StringDataRightTruncationError("value too long for type character varying(255)"),
    asyncpg.UniqueViolationError("duplicate key value violates unique constraint"),
    asyncpg.DataError("invalid input for query argument $1"),
]
UNAVAILABLE = [
    asyncpg.SerializationError("could not serialize access"),
    asyncpg.DeadlockDetectedError("deadlock detected"),
    asyncpg.AdminShutdownError("terminating connection due to administrator command"),
    asyncpg.CannotConnectNowError("the database system is starting up"),
    asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
    asyncpg.TooManyConnectionsError("sorry, too many clients already"),
    asyncpg.QueryCanceledError("canceling statement due to statement timeout"),
    asyncpg.ObjectNotInPrerequisiteStateError('database "x" is not accepting connections'),
]


@pytest.mark.parametrize("error", REFUSED_ROWS, ids=lambda e: type(e).__name__)
def test_a_row_postgresql_refuses_is_permanent_bare_or_wrapped(error: Exception) -> None:
    for raised in (error, as_sqlalchemy_raises(error)):
        assert errors.is_permanent(raised)
        assert not errors.is_transient(raised)


@pytest.mark.parametrize("error", UNAVAILABLE, ids=lambda e: type(e).__name__)
def test_an_unavailable_database_is_transient_bare_or_wrapped(error: Exception) -> None:
    for raised in (error, as_sqlalchemy_raises(error)):
        assert errors.is_transient(raised)
        assert not errors.is_permanent(raised)


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)"),
        TimeoutError(),
        sa_exc.TimeoutError("QueuePool limit of size 5 overflow 10 reached"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_no_connection_or_no_answer_is_transient(error: Exception) -> None:
    assert errors.is_transient(error)
    assert not errors.is_permanent(error)


def test_an_error_without_a_sqlstate_is_neither() -> None:
    """A bug (or a missing table: 42P01) is not the row's fault, nor an outage to wait out
    quietly: the caller retries it and it shows in the logs."""
    for error in (RuntimeError("bug"), asyncpg.UndefinedTableError('relation "x" does not exist')):
        assert not errors.is_permanent(error)
        assert not errors.is_transient(error)


def test_the_description_is_the_database_message_without_statement_or_parameters() -> None:
    error = asyncpg.CharacterNotInRepertoireError(
        'invalid byte sequence for encoding "UTF8": 0x00\nDETAIL:  in a text'
    )
    described = errors.describe(as_sqlalchemy_raises(error))
    assert described == (
        'invalid byte sequence for encoding "UTF8": 0x00 DETAIL: in a text (SQLSTATE 22021)'
    )
    assert "INSERT" not in described and "c1" not in described
