"""Resolves a container's arguments against the `nudge` command line, without running anything.

The image's entry point is `nudge` (services/cli.py; deploy/checks/dockerfile.py reads it);
Kubernetes workloads and compose services give it their arguments (`worker triggers`,
`db migrate`, ...). `resolve` walks the typer app's command tree with those arguments (group
by group, as click's `resolve_command` does) and parses the leaf command's options and
arguments (`make_context`), so that a misspelt subcommand, an option the command does not have
or a missing argument fails a check rather than a rollout. `command_problem` says it in a
sentence for the checks. Shell scripts that call `nudge` (compose's set-up and demo scripts, a
Job's `sh -c`) are searched with `invocations`.

typer (0.29) carries its own copy of click: the tree is made of `typer.core.TyperGroup` and
`typer.core.TyperCommand`, its errors derive from `typer.TyperException`, not from the click
package's classes.
"""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from collections.abc import Sequence
from functools import cache
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

_SHELL_BREAK = re.compile(r"&&|\|\||[;|&()`]|\$\(")
_REDIRECT = re.compile(r"^\d*[<>]")
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_PREFIXES = frozenset({"if", "then", "else", "elif", "while", "until", "do", "!", "exec"})


class UnknownCommand(ValueError):
    """The arguments name no `nudge` command, or that command refuses them."""


@cache
def _cli() -> TyperGroup:
    """The `nudge` command tree (imported when first needed: it loads every service's CLI)."""
    from services.cli import app

    command = typer.main.get_command(app)
    if not isinstance(command, TyperGroup):
        raise TypeError(f"services.cli's app is a {type(command).__name__}, not a group")
    return command


def _parse(
    command: TyperCommand | TyperGroup, path: list[str], args: list[str], parent: Any
) -> bool:
    """Parse `args` as the command's own options and arguments, as a run would; False when they
    ask for its help (valid: it only prints), UnknownCommand when they are refused."""
    given = list(args)  # the parser consumes its list
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # --help prints before it exits
            command.make_context(path[-1], args, parent=parent)
    except typer.Exit:
        return False
    except typer.TyperException as exc:
        raise UnknownCommand(
            f"`{' '.join(path)}` refuses `{shlex.join(given)}`: {exc.format_message()}"
        ) from None
    return True


def resolve(args: Sequence[str]) -> TyperCommand | TyperGroup:
    """The command `nudge <args>` runs (a group when the arguments ask for its help);
    UnknownCommand naming what did not resolve."""
    command: TyperCommand | TyperGroup = _cli()
    ctx = command.make_context("nudge", [], resilient_parsing=True)
    rest = [str(a) for a in args]
    path = ["nudge"]
    while isinstance(command, TyperGroup):
        choices = ", ".join(sorted(command.list_commands(ctx)))
        if rest and rest[0].startswith("-") and not _parse(command, path, rest, ctx.parent):
            return command  # `nudge db --help`
        if not rest or rest[0].startswith("-"):
            raise UnknownCommand(f"`{' '.join(path)}` needs a subcommand ({choices})")
        wanted = rest[0]
        name, sub, rest = command.resolve_command(ctx, rest)
        if name is None or sub is None:
            raise UnknownCommand(
                f"`{shlex.join([*path, wanted])}` is not a nudge command: `{' '.join(path)}` "
                f"has no subcommand {wanted!r} (it has: {choices})"
            )
        path.append(name)
        if not isinstance(sub, TyperCommand | TyperGroup):
            raise UnknownCommand(f"`{' '.join(path)}` is not a command typer made")
        command = sub
        if isinstance(command, TyperGroup):
            ctx = command.make_context(name, [], parent=ctx, resilient_parsing=True)
    _parse(command, path, rest, ctx)
    return command


def command_problem(args: Sequence[str]) -> str | None:
    """Why `nudge <args>` is not a command the CLI would run (what did not resolve), or None."""
    try:
        resolve(args)
    except UnknownCommand as exc:
        return str(exc)
    return None


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
