"""Resolve a container's arguments against the `nudge` command line, without running anything.

The image's entry point is `nudge` (services/cli.py); compose services and Kubernetes
workloads give it their arguments (`worker triggers`, `db migrate`, ...). `resolve` walks the
typer app's command tree with those arguments (group by group, as click's `resolve_command`
does) and parses the leaf command's options and arguments (`make_context`), so that a
misspelt subcommand, an option the command does not have or a missing argument fails a test
rather than a rollout. Shell scripts that call `nudge` (compose's set-up and demo scripts, a
Job's `sh -c`) are searched with `invocations`.

typer (0.29) carries its own copy of click: the tree is made of `typer.core.TyperGroup` and
`typer.core.TyperCommand`, its errors derive from `typer.TyperException`, not from the click
package's classes.
"""

from __future__ import annotations

import re
import shlex

import typer
from typer.core import TyperCommand, TyperGroup

from services.cli import app

_SHELL_BREAK = re.compile(r"&&|\|\||[;|&()`]|\$\(")
_REDIRECT = re.compile(r"^\d*[<>]")
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_PREFIXES = frozenset({"if", "then", "else", "elif", "while", "until", "do", "!", "exec"})


class UnknownCommand(ValueError):
    """The arguments name no `nudge` command, or that command refuses them."""


def resolve(args: list[str]) -> TyperCommand:
    """The command `nudge <args>` runs; UnknownCommand naming what did not resolve."""
    command = typer.main.get_command(app)
    ctx = command.make_context("nudge", [], resilient_parsing=True)
    rest = list(args)
    path = ["nudge"]
    while isinstance(command, TyperGroup):
        choices = ", ".join(sorted(command.list_commands(ctx)))
        if not rest or rest[0].startswith("-"):
            raise UnknownCommand(f"`{' '.join(path)}` needs a subcommand ({choices})")
        wanted = rest[0]
        name, sub, rest = command.resolve_command(ctx, rest)
        if name is None or sub is None:
            raise UnknownCommand(
                f"`{' '.join(path)}` has no subcommand {wanted!r} (it has: {choices})"
            )
        path.append(name)
        command = sub
        if isinstance(command, TyperGroup):
            ctx = command.make_context(name, [], parent=ctx, resilient_parsing=True)
    if not isinstance(command, TyperCommand):
        raise UnknownCommand(f"`{' '.join(path)}` is not a command typer made")
    given = list(rest)  # the parser consumes its list
    try:
        command.make_context(path[-1], rest, parent=ctx)
    except typer.Exit:  # --help: valid, it only prints
        pass
    except typer.TyperException as exc:
        raise UnknownCommand(
            f"`{' '.join(path)}` refuses {given}: {exc.format_message()}"
        ) from None
    return command


def invocations(script: str) -> list[list[str]]:
    """The arguments of every `nudge` call in a POSIX shell script (one call per command of
    a line: `a && nudge x | grep y` gives `["x"]`); redirections and what follows are dropped."""
    found = []
    joined = script.replace("\\\n", " ")
    for line in joined.splitlines():
        code = line.split(" #", 1)[0] if not line.lstrip().startswith("#") else ""
        for part in _SHELL_BREAK.split(code):
            try:
                words = shlex.split(part)
            except ValueError:
                continue
            while words and (words[0] in _PREFIXES or _ASSIGNMENT.match(words[0])):
                words = words[1:]
            if words[:1] != ["nudge"]:
                continue
            args = []
            for word in words[1:]:
                if _REDIRECT.match(word):
                    break
                args.append(word)
            found.append(args)
    return found
