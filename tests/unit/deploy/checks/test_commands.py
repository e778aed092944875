"""deploy/checks/commands.py: container arguments resolve as the `nudge` CLI would parse them,
and `nudge` calls are found in shell scripts."""

from __future__ import annotations

import pytest

from deploy.checks.commands import UnknownCommand, command_problem, invocations, resolve


@pytest.mark.parametrize(
    ("args", "name"),
    [
        (["dispatch"], "dispatch"),
        (["worker", "triggers"], "triggers"),
        (["db", "wait", "--timeout", "600"], "wait"),
        (["ingest", "--help"], "ingest"),
        (["db", "--help"], "db"),
    ],
)
def test_a_command_resolves_to_the_one_it_runs(args: list[str], name: str) -> None:
    assert resolve(args).name == name


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (["worker", "trigger"], r"`nudge worker` has no subcommand 'trigger' \(it has: .*triggers"),
        (["ingest", "--prot", "8080"], "`nudge ingest` refuses `--prot 8080`: No such option"),
        (["db"], r"`nudge db` needs a subcommand \(.*migrate"),
        ([], "`nudge` needs a subcommand"),
        (["--bogus"], "`nudge` refuses `--bogus`"),
        (["db", "migrate", "now"], "unexpected extra argument"),
    ],
)
def test_an_unknown_command_is_refused_naming_what_did_not_resolve(
    args: list[str], match: str
) -> None:
    with pytest.raises(UnknownCommand, match=match):
        resolve(args)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["dispatch"], None),
        (["db", "wait", "--timeout", "600"], None),
        (["--help"], None),  # the image's CMD
        (["worker"], "needs a subcommand"),
        (["ingset"], "`nudge ingset` is not a nudge command"),
        (["ingest", "--prot", "1"], "No such option"),
    ],
)
def test_container_arguments_are_parsed_as_the_cli_would(
    args: list[str], expected: str | None
) -> None:
    problem = command_problem(args)
    assert problem is None if expected is None else expected in (problem or "")


def test_help_prints_nothing_while_resolving(capsys: pytest.CaptureFixture[str]) -> None:
    assert command_problem(["ingest", "--help"]) is None
    assert capsys.readouterr().out == ""


def test_nudge_calls_are_found_in_a_shell_script() -> None:
    script = (
        "#!/bin/sh\n"
        "set -eu\n"
        "if nudge shops list | grep -q x; then\n"
        "  exec nudge db migrate >/x\n"
        "fi\n"
        "NUDGE_X=1 nudge keys derive \\\n  links  # a comment\n"
        "# nudge not-a-call\n"
        "echo nudge\n"
    )
    assert invocations(script) == [
        ["shops", "list"],
        ["db", "migrate"],
        ["keys", "derive", "links"],
    ]
