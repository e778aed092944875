from pathlib import Path

import pytest

from tests.e2e.harness.layout import Layout, Ports
from tests.e2e.harness.services import service_specs
from tests.e2e.harness.supervisor import child_env
from tests.e2e.model import ClockMap

CLOCK = ClockMap(origin=1_800_000_000.5, scale=672.0)


def _specs(tmp_path: Path):  # type: ignore[no-untyped-def]
    return service_specs(Layout(tmp_path, Ports(base=18080)), CLOCK)


def test_every_process_has_its_own_port_and_the_stacks_broker(tmp_path: Path) -> None:
    specs = _specs(tmp_path)
    ports = [s.port for s in specs]
    assert len(set(ports)) == len(ports)
    assert all(s.env["KAFKA_BOOTSTRAP_SERVERS"] == "127.0.0.1:29392" for s in specs)
    assert all(":25432/" in s.env["DATABASE_URL"] for s in specs)
    roles = {s.name: s.env.get("NUDGE_DISPATCH_ROLES") for s in specs}
    assert (roles["dispatch-intake"], roles["dispatch-sender"]) == ("intake", "send")


def test_every_service_runs_on_the_one_clock(tmp_path: Path) -> None:
    for spec in _specs(tmp_path):
        for prefix in ("TRIGGERS", "SEGMENTER", "DISPATCH", "FEEDBACK"):
            assert spec.env[f"NUDGE_{prefix}_TIME_SCALE"] == "672"
            assert spec.env[f"NUDGE_{prefix}_CLOCK_ORIGIN"] == "1800000000.500"


def test_services_read_the_e2e_config(tmp_path: Path) -> None:
    by_name = {s.name: s.env for s in _specs(tmp_path)}
    assert by_name["triggers"]["NUDGE_TRIGGERS_CAMPAIGNS_DIR"].endswith("e2e/config/campaigns")
    assert by_name["dispatch-sender"]["NUDGE_DISPATCH_SHOPS_DIR"].endswith("e2e/config/shops")
    assert by_name["feedback"]["NUDGE_FEEDBACK_SHOPS_DIR"].endswith("config/feedback-shops")
    assert by_name["segmenter"]["NUDGE_SEGMENTER_SEGMENTS_DIR"].endswith("config/segments")


def test_link_key_holders_never_get_the_master_key_nor_the_callers_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NUDGE_DISPATCH_GROUP_ID", "someone-elses")
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:19092")
    by_name = {s.name: s for s in _specs(tmp_path)}
    dispatch = child_env(by_name["dispatch-sender"])
    assert "NUDGE_SECRET_KEY_FILE" not in dispatch
    assert "NUDGE_DISPATCH_GROUP_ID" not in dispatch
    assert dispatch["KAFKA_BOOTSTRAP_SERVERS"] == "127.0.0.1:29392"
    assert "NUDGE_SECRET_KEY_FILE" in child_env(by_name["ingest"])
