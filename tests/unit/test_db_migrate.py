"""`nudge db wait`'s verdict on a database's revision against the migrations' heads: ready at
the heads or past them (a newer release migrated it), waiting while behind or empty."""

from __future__ import annotations

from shared.db.migrate import expected_heads, newer_revisions, schema_behind

KNOWN = {"0014", "0015"}


def test_at_the_heads_the_schema_is_ready() -> None:
    assert schema_behind({"0015"}, {"0015"}, KNOWN) is None
    assert newer_revisions({"0015"}, KNOWN) == []


def test_a_database_never_migrated_is_not_ready_and_says_so() -> None:
    assert schema_behind(set(), {"0015"}, KNOWN) == (
        "the database has no schema yet (this release expects revision 0015)"
    )


def test_a_database_behind_names_both_revisions() -> None:
    assert schema_behind({"0014"}, {"0015"}, KNOWN) == (
        "the database is at revision 0014, this release expects 0015"
    )


def test_a_database_migrated_by_a_newer_release_is_ready() -> None:
    """A rollback, or an old pod restarting mid-rollout: the newer release's migrations keep
    this one working (expand, then contract), so its pods must not hang in Init."""
    assert schema_behind({"0016"}, {"0015"}, KNOWN) is None
    assert newer_revisions({"0016"}, KNOWN) == ["0016"]


def test_the_heads_are_those_of_the_shipped_migrations() -> None:
    heads = expected_heads()
    assert len(heads) == 1  # one line of migrations: two heads would need a merge revision
    (head,) = heads
    assert schema_behind({head}, heads) is None
    assert newer_revisions({head}) == []
    assert schema_behind({"ffffffffffff"}, heads) is None
    assert newer_revisions({"ffffffffffff"}) == ["ffffffffffff"]
