"""Dispatch signs links with the derived link keys only: it never reads a master key, and a
sender given no link keys does not start."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from pydantic import SecretStr

from services.dispatch.service import link_keys, run
from services.dispatch.settings import DispatchSettings
from shared.keyring import MasterKey, MasterKeyRing

MASTER = "master-key-0123456789abcdefghijklmnop"
DISPATCH = Path(__file__).resolve().parents[3] / "services" / "dispatch"
MASTER_KEY_NAMES = {"SecretKeySettings", "MasterKeyRing", "MasterKey", "SecretBox"}


@pytest.fixture
def master_keys_everywhere(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> MasterKeyRing:
    """Every way a master key can be given, set; no link keys."""
    ring = MasterKeyRing((MasterKey("k1", SecretStr(MASTER)),), "test")
    (tmp_path / "secret.key").write_text(MASTER)
    (tmp_path / "ring").write_text(ring.to_text())
    monkeypatch.setenv("NUDGE_SECRET_KEY", MASTER)
    monkeypatch.setenv("NUDGE_SECRET_KEY_FILE", str(tmp_path / "secret.key"))
    monkeypatch.setenv("NUDGE_SECRET_KEYS_FILE", str(tmp_path / "ring"))
    monkeypatch.delenv("NUDGE_LINK_KEYS", raising=False)
    monkeypatch.delenv("NUDGE_LINK_KEYS_FILE", raising=False)
    return ring


def test_a_sender_never_falls_back_to_the_master_keys(
    master_keys_everywhere: MasterKeyRing,
) -> None:
    with pytest.raises(ValueError, match=r"set NUDGE_LINK_KEYS .*nudge keys derive links"):
        link_keys(DispatchSettings(roles=frozenset({"send"})))


def test_a_sender_without_link_keys_stops_at_start_naming_the_setting(
    master_keys_everywhere: MasterKeyRing,
) -> None:
    with pytest.raises(SystemExit, match="dispatch cannot start: set NUDGE_LINK_KEYS"):
        run(DispatchSettings(roles=frozenset({"intake", "send"})))


def test_a_sender_signs_with_the_link_keys_it_is_given(
    master_keys_everywhere: MasterKeyRing, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    given = master_keys_everywhere.link_keys()
    (tmp_path / "links").write_text(given.to_text())
    monkeypatch.setenv("NUDGE_LINK_KEYS_FILE", str(tmp_path / "links"))
    assert link_keys(DispatchSettings()) == given
    monkeypatch.setenv("NUDGE_LINK_KEYS", "k7 " + "A" * 43)
    found = link_keys(DispatchSettings())
    assert found is not None and found.active.kid == "k7"  # the variable wins over the file


def test_intake_alone_signs_nothing_and_needs_no_keys(
    master_keys_everywhere: MasterKeyRing,
) -> None:
    assert link_keys(DispatchSettings(roles=frozenset({"intake"}))) is None


def test_no_dispatch_module_touches_the_master_keys() -> None:
    """What dispatch imports from shared: never the master ring, its settings or SecretBox."""
    found = []
    for path in DISPATCH.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                names = {alias.name for alias in node.names} & MASTER_KEY_NAMES
                if names or node.module in ("shared.credentials",):
                    found.append(f"{path.relative_to(DISPATCH)}: {node.module} {names}")
    assert found == []
