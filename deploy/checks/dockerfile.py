"""Reads deploy/Dockerfile without a Docker engine: its stages, their instructions, and the
entry point an image built from it runs.

The parser covers what a Dockerfile like ours uses: line continuations, comments (also inside
a continued instruction), `FROM [--platform=...] <base> [AS <name>]`, ARG defaults. It knows no
heredocs and no `# escape=` directive. The checks use it to compare the image with the
manifests (deploy/checks/workloads.py); tests/unit/deploy/test_dockerfile.py uses it to check
the shipped stage.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Instruction:
    keyword: str
    """Upper case: RUN, COPY, ..."""
    text: str
    """The rest of the instruction, continuation lines joined."""


@dataclass
class Stage:
    base: str
    """The image or the earlier stage it starts `FROM`."""
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]


def parse(text: str) -> list[Stage]:
    """The stages of a Dockerfile, their instructions in order (global ARGs before the first
    FROM are dropped: ours has none)."""
    stages: list[Stage] = []
    logical: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue  # also inside a continued instruction, as Docker does
        if line.endswith("\\"):
            logical.append(line[:-1].strip())
            continue
        logical.append(line)
        keyword, _, rest = " ".join(part for part in logical if part).partition(" ")
        logical = []
        keyword = keyword.upper()
        if keyword == "FROM":
            words = [w for w in rest.split() if not w.startswith("--")]
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base=words[0] if words else "", name=name))
        elif stages:
            stages[-1].instructions.append(Instruction(keyword, rest.strip()))
    return stages


def lineage(stages: list[Stage], name: str | None = None) -> list[Stage]:
    """The stage (default: the last, `docker build`'s default target) and the stages it is
    built on, the base first; ValueError when there is no such stage."""
    if not stages:
        raise ValueError("no FROM: the Dockerfile has no stage")
    by_name = {s.name: s for s in stages if s.name}
    if name is None:
        chain = [stages[-1]]
    elif name in by_name:
        chain = [by_name[name]]
    else:
        raise ValueError(f"no stage named {name!r} (stages: {', '.join(sorted(by_name))})")
    while chain[0].base in by_name and by_name[chain[0].base] not in chain:
        chain.insert(0, by_name[chain[0].base])
    return chain


def effective(stages: list[Stage], name: str | None = None) -> list[Instruction]:
    """Every instruction that shaped the stage's image, inherited ones first."""
    return [i for stage in lineage(stages, name) for i in stage.instructions]


def arg_defaults(instructions: list[Instruction]) -> dict[str, str]:
    defaults = {}
    for arg in (i for i in instructions if i.keyword == "ARG"):
        name, _, value = arg.text.partition("=")
        defaults[name.strip()] = value.strip().strip('"')
    return defaults


def substitute(value: str, args: dict[str, str]) -> str:
    """`$NAME` and `${NAME}` replaced by the build args' values (unknown ones left)."""
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: args.get(m[1] or m[2], m[0]), value)


def key_values(text: str) -> dict[str, str]:
    """`LABEL` / `ENV` in the `key=value key2="value 2"` form."""
    pairs = {}
    for word in shlex.split(text):
        key, _, value = word.partition("=")
        pairs[key] = value
    return pairs


def exec_form(text: str) -> list[str] | None:
    """The words of an instruction in exec form (a JSON array of strings), or None: Docker
    runs anything else through `/bin/sh -c` (shell form)."""
    try:
        words = json.loads(text)
    except ValueError:
        return None
    if isinstance(words, list) and all(isinstance(w, str) for w in words):
        return words
    return None


def entrypoint(text: str, stage: str | None = None) -> list[str]:
    """The exec-form ENTRYPOINT of the stage (default: the last one, the default build target),
    its own or inherited from the stages it is built on. ValueError naming the problem when the
    stage has none, clears it (`[]`) or has it in shell form, whose `/bin/sh -c` would take
    the container's arguments away from the program."""
    chain = lineage(parse(text), stage)
    which = f"stage {chain[-1].name!r}" if chain[-1].name else "the last stage"
    entrypoints = [i for s in chain for i in s.all("ENTRYPOINT")]
    if not entrypoints:
        raise ValueError(
            f"{which} has no ENTRYPOINT, nor has any stage it is built on (what its base "
            f"image {chain[0].base!r} sets is not known here)"
        )
    words = exec_form(entrypoints[-1].text)
    if words is None:
        raise ValueError(
            f"{which}: `ENTRYPOINT {entrypoints[-1].text}` is in shell form (run by /bin/sh -c, "
            'which drops the container\'s arguments); write the exec form, ["program", ...]'
        )
    if not words:
        raise ValueError(f"{which}: `ENTRYPOINT []` clears the entry point")
    return words
