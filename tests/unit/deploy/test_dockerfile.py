"""deploy/Dockerfile: hadolint passes (and fails a broken copy), and the shipped stage is the
image the issue asks for: non-root, `nudge` as entry point, OCI labels, no HEALTHCHECK, the
locked runtime dependencies only, nothing from the tests or the laptop stack.

No Docker engine is needed: the Dockerfile is read with the instruction parser of
deploy/checks/dockerfile.py (its own tests are in tests/unit/deploy/checks/test_dockerfile.py).
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from deploy.checks.dockerfile import (
    Instruction,
    Stage,
    arg_defaults,
    effective,
    entrypoint,
    key_values,
    lineage,
    parse,
    substitute,
)
from deploy.checks.settings_env import unknown_names
from tests.support.stack import ROOT

DOCKERFILE = ROOT / "deploy" / "Dockerfile"
HADOLINT = ROOT / ".venv" / "bin" / "hadolint"
HADOLINT_CONFIG = ROOT / ".hadolint.yaml"
SHIPPED = "nudge"
"""The stage to ship: the last one, so the default target of `docker build`."""
OCI_LABELS = (
    "org.opencontainers.image.title",
    "org.opencontainers.image.description",
    "org.opencontainers.image.source",
    "org.opencontainers.image.version",
    "org.opencontainers.image.revision",
    "org.opencontainers.image.created",
    "org.opencontainers.image.licenses",
)
FROM_BUILD_ARGS = ("source", "version", "revision", "created", "licenses")


# --- the shipped stage, read ---------------------------------------------------------------


def final_user(text: str) -> str | None:
    """The user the shipped stage runs as (its last USER, inherited or its own), build args
    filled in; None when no USER is set, which means root."""
    instructions = effective(parse(text), SHIPPED)
    users = [i.text for i in instructions if i.keyword == "USER"]
    return substitute(users[-1], arg_defaults(instructions)) if users else None


def runs_as_non_root(text: str) -> bool:
    user = final_user(text)
    if user is None:
        return False
    uid = user.split(":", 1)[0]
    return uid.isdigit() and int(uid) != 0


def hadolint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(HADOLINT), "--no-color", "--config", str(HADOLINT_CONFIG), str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    return parse(DOCKERFILE.read_text())


@pytest.fixture(scope="module")
def shipped(stages: list[Stage]) -> list[Instruction]:
    return effective(stages, SHIPPED)


# --- hadolint -----------------------------------------------------------------------------


def test_hadolint_passes_without_ignoring_any_rule() -> None:
    result = hadolint(DOCKERFILE)
    assert result.returncode == 0, result.stdout + result.stderr
    config = yaml.safe_load(HADOLINT_CONFIG.read_text())
    assert not config.get("ignored")
    assert config["failure-threshold"] == "style"  # every finding fails
    assert "hadolint ignore" not in DOCKERFILE.read_text()


def _after_cmd(extra: str) -> str:
    """The Dockerfile with an instruction added at the end of the runtime stage."""
    text = DOCKERFILE.read_text()
    anchor = 'CMD ["--help"]\n'
    assert anchor in text
    return text.replace(anchor, anchor + extra + "\n", 1)


@pytest.mark.parametrize(
    ("broken", "rule"),
    [
        pytest.param(_after_cmd("RUN cd /opt/nudge && ls"), "DL3003", id="cd-in-run"),
        pytest.param(
            _after_cmd(
                "RUN apt-get update && apt-get install -y --no-install-recommends curl"
                " && rm -rf /var/lib/apt/lists/*"
            ),
            "DL3008",
            id="apt-get-install-unpinned",
        ),
        pytest.param(_after_cmd("USER root"), "DL3002", id="last-user-root"),
        pytest.param(
            DOCKERFILE.read_text().replace(
                "FROM python:3.11-slim-bookworm AS runtime", "FROM python AS runtime"
            ),
            "DL3006",
            id="untagged-base",
        ),
        pytest.param(
            DOCKERFILE.read_text().replace(
                "FROM python:3.11-slim-bookworm AS runtime",
                "FROM ghcr.io/example/python:3.11 AS runtime",
            ),
            "DL3026",
            id="untrusted-registry",
        ),
    ],
)
def test_hadolint_fails_a_broken_copy(tmp_path: Path, broken: str, rule: str) -> None:
    copy = tmp_path / "Dockerfile"
    copy.write_text(broken)
    result = hadolint(copy)
    assert result.returncode != 0
    assert rule in result.stdout


# --- the shipped stage --------------------------------------------------------------------


def test_the_shipped_stage_is_the_last_so_the_default_target(stages: list[Stage]) -> None:
    assert stages[-1].name == SHIPPED
    assert [s.name for s in stages] == ["build", "runtime", "sinks", SHIPPED]


def test_base_images_are_pinned_by_tag(stages: list[Stage]) -> None:
    named = {s.name for s in stages}
    external = [s.base for s in stages if s.base not in named]
    assert external == ["python:3.11-slim-bookworm"] * 2


def test_runs_as_a_numeric_non_root_user() -> None:
    text = DOCKERFILE.read_text()
    assert final_user(text) == "10001:10001"
    assert runs_as_non_root(text)


def test_a_copy_without_user_is_caught() -> None:
    text = "\n".join(
        line for line in DOCKERFILE.read_text().splitlines() if not line.startswith("USER ")
    )
    assert final_user(text) is None
    assert not runs_as_non_root(text)
    assert not runs_as_non_root(_after_cmd("USER 0"))


def test_entry_point_is_nudge_and_the_default_is_help(shipped: list[Instruction]) -> None:
    assert entrypoint(DOCKERFILE.read_text()) == ["nudge"]
    assert entrypoint(DOCKERFILE.read_text(), SHIPPED) == ["nudge"]
    commands = [json.loads(i.text) for i in shipped if i.keyword == "CMD"]
    assert commands[-1] == ["--help"]


def test_no_healthcheck_anywhere(stages: list[Stage]) -> None:
    assert all(not stage.all("HEALTHCHECK") for stage in stages)


def test_oci_labels_come_from_build_args(shipped: list[Instruction]) -> None:
    labels: dict[str, str] = {}
    for label in (i for i in shipped if i.keyword == "LABEL"):
        labels.update(key_values(label.text))
    assert set(OCI_LABELS) <= set(labels)
    args = arg_defaults(shipped)
    for suffix in FROM_BUILD_ARGS:
        value = labels[f"org.opencontainers.image.{suffix}"]
        match = re.fullmatch(r"\$\{(\w+)\}", value)
        assert match, f"{suffix}: {value!r} is not a build arg"
        assert match[1] in args


def test_nothing_from_the_tests_or_the_laptop_stack_is_shipped(
    stages: list[Stage], shipped: list[Instruction]
) -> None:
    for copy in (i for i in shipped if i.keyword == "COPY"):
        words = copy.text.split()
        options = [w for w in words if w.startswith("--")]
        sources = [w for w in words if not w.startswith("--")][:-1]
        if any(o.startswith("--from=") for o in options):
            assert sources == ["/opt/nudge"], copy.text  # the venv, not /opt/nudge-local
        else:
            assert not any(s.startswith(("tests", "deploy/local", "deploy/")) for s in sources)
    sinks = effective(stages, "sinks")
    assert any("/opt/nudge-local" in i.text for i in sinks if i.keyword == "COPY")


def test_the_build_context_leaves_tests_and_local_state_out() -> None:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    rules = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert rules[0] == "*"  # an allowlist
    included = [rule[1:] for rule in rules if rule.startswith("!")]
    assert not any(rule.startswith(("tests", ".local", ".venv", ".cache")) for rule in included)
    assert not any(
        rule.startswith("deploy/local/demo/") and rule.endswith("/") for rule in included
    )


def test_the_locked_runtime_dependencies_and_no_build_tools_ship(
    stages: list[Stage], shipped: list[Instruction]
) -> None:
    build = " ".join(i.text for i in lineage(stages, "build")[-1].all("RUN"))
    assert "uv pip compile" in build and "--constraint requirements.lock" in build
    assert "--extra" not in build and "--all-extras" not in build
    assert "uv pip sync" in build and "runtime.lock" in build
    assert re.search(r"uv pip install .*--no-deps \.", build) and " -e " not in build
    assert "--invalidation-mode unchecked-hash" in build  # bytecode compiled at build time
    shipped_runs = " ".join(i.text for i in shipped if i.keyword == "RUN")
    assert not re.search(r"apt-get|pip install|\buv\b|gcc|build-essential", shipped_runs)


def test_environment_suits_a_read_only_root(shipped: list[Instruction]) -> None:
    env: dict[str, str] = {}
    for instruction in (i for i in shipped if i.keyword == "ENV"):
        env.update(key_values(instruction.text))
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env["PYTHONUNBUFFERED"] == "1"
    assert env["HOME"] == "/tmp"
    assert env["NUDGE_TRIGGERS_DATA_DIR"].startswith("/var/lib/nudge/")
    assert env["NUDGE_SEGMENTER_DATA_DIR"].startswith("/var/lib/nudge/")
    assert unknown_names(env) == []


def test_settings_names_are_checked() -> None:
    assert unknown_names(["NUDGE_TRIGGERS_DATA_DIRR", "PATH", "NUDGE_INGEST_PORT"]) == [
        "NUDGE_TRIGGERS_DATA_DIRR"
    ]
