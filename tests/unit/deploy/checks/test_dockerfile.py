"""deploy/checks/dockerfile.py: the stages of a Dockerfile, and the exec-form entry point of the
image a stage builds, its own or inherited."""

from __future__ import annotations

import pytest

from deploy.checks.dockerfile import effective, entrypoint, lineage, parse

BASE = """\
# syntax=docker/dockerfile:1
FROM --platform=$BUILDPLATFORM python:3.11-slim AS build
RUN echo build

FROM python:3.11-slim AS runtime
ENV A=1 \\
    # a comment inside a continued instruction
    B=2
"""


def test_stages_and_continued_instructions_are_read() -> None:
    stages = parse(BASE + 'ENTRYPOINT ["nudge"]\n\nFROM runtime AS nudge\nLABEL x=y\n')
    assert [(s.base, s.name) for s in stages] == [
        ("python:3.11-slim", "build"),
        ("python:3.11-slim", "runtime"),
        ("runtime", "nudge"),
    ]
    assert stages[1].all("ENV")[0].text == "A=1 B=2"
    assert [s.name for s in lineage(stages)] == ["runtime", "nudge"]
    assert [i.keyword for i in effective(stages, "nudge")] == ["ENV", "ENTRYPOINT", "LABEL"]


def test_the_entry_point_is_inherited_from_a_base_stage() -> None:
    text = BASE + 'ENTRYPOINT ["nudge"]\nCMD ["--help"]\n\nFROM runtime AS nudge\nLABEL x=y\n'
    assert entrypoint(text) == ["nudge"]
    assert entrypoint(text, "runtime") == ["nudge"]


def test_the_last_entry_point_of_the_stage_wins() -> None:
    text = BASE + 'ENTRYPOINT ["nudge"]\nFROM runtime AS tools\nENTRYPOINT ["python", "-m", "x"]\n'
    assert entrypoint(text) == ["python", "-m", "x"]
    assert entrypoint(text, "runtime") == ["nudge"]


def test_the_default_stage_is_the_last_even_when_an_earlier_one_has_an_entry_point() -> None:
    text = BASE + 'ENTRYPOINT ["nudge"]\n\nFROM python:3.11-slim AS other\nRUN true\n'
    with pytest.raises(ValueError, match="stage 'other' has no ENTRYPOINT"):
        entrypoint(text)


@pytest.mark.parametrize(
    "line", ["ENTRYPOINT nudge", "ENTRYPOINT ['nudge']", 'ENTRYPOINT ["nudge", 1]']
)
def test_a_shell_form_entry_point_is_refused(line: str) -> None:
    with pytest.raises(ValueError, match="shell form"):
        entrypoint(BASE + line + "\n\nFROM runtime AS nudge\n")


def test_no_entry_point_is_refused() -> None:
    with pytest.raises(ValueError, match=r"stage 'nudge' has no ENTRYPOINT.*python:3\.11-slim"):
        entrypoint(BASE + '\nFROM runtime AS nudge\nCMD ["--help"]\n')
    with pytest.raises(ValueError, match="clears the entry point"):
        entrypoint(BASE + "ENTRYPOINT []\n")


def test_an_unknown_stage_or_no_stage_is_refused() -> None:
    with pytest.raises(ValueError, match="no stage named 'nudge'"):
        entrypoint(BASE, "nudge")
    with pytest.raises(ValueError, match="no FROM"):
        entrypoint("# nothing\n")
