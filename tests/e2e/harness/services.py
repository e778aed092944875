"""What the harness starts: each service and sink as a command line, an environment and a
readiness URL, all on one shared scaled clock, as deploy/local/run.sh starts the local stack."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tests.e2e.harness.layout import ROOT, Layout
from tests.e2e.model import ClockMap

BIN = ROOT / ".venv" / "bin"
NUDGE = str(BIN / "nudge")
SMS_ACCOUNT_SID = "AC00000000000000000000000000000000"
SMS_AUTH_TOKEN = "sms-sink-token"
SMS_FROM = "+15005550006"
SECRET_VARIABLES = ("NUDGE_SECRET_KEY", "NUDGE_SECRET_KEY_FILE", "NUDGE_SECRET_KEYS_FILE")
"""Dispatch and feedback get only the derived link keys, never the master key."""


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    argv: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)
    ready_url: str | None = None
    """GET answering 200 once it serves; None: ready once its port accepts connections."""
    port: int | None = None
    fault_target: bool = True
    """A service the sigkill and slow-consumer faults may hit (the sinks are providers)."""


def base_env(layout: Layout) -> dict[str, str]:
    """What every process of the stack shares: the broker, the database, the key file."""
    return {
        "KAFKA_BOOTSTRAP_SERVERS": layout.bootstrap,
        "DATABASE_URL": layout.database_url,
        "NUDGE_SECRET_KEY_FILE": str(layout.secret_key_file),
        "PYTHONUNBUFFERED": "1",
    }


def clock_env(clock: ClockMap) -> dict[str, str]:
    """The one scaled clock every service and the simulator run on."""
    env: dict[str, str] = {}
    for prefix in ("TRIGGERS", "SEGMENTER", "DISPATCH", "FEEDBACK", "SIMULATE"):
        env[f"NUDGE_{prefix}_TIME_SCALE"] = f"{clock.scale:g}"
        env[f"NUDGE_{prefix}_CLOCK_ORIGIN"] = f"{clock.origin:.3f}"
    return env


def _url(port: int, path: str = "/readyz") -> str:
    return f"http://127.0.0.1:{port}{path}"


def service_specs(layout: Layout, clock: ClockMap) -> list[ServiceSpec]:
    """Every process of the stack, sinks first (dispatch sends to them from its start)."""
    p = layout.ports
    cfg = layout.config_dir
    feedback_url = f"http://127.0.0.1:{p.feedback}"
    shared = {**base_env(layout), **clock_env(clock)}
    without_master = {"NUDGE_LINK_KEYS_FILE": str(layout.link_keys_file)}
    dispatch = {
        **shared,
        **without_master,
        "NUDGE_SMTP_HOST": "127.0.0.1",
        "NUDGE_SMTP_PORT": str(p.smtp),
        "NUDGE_TWILIO_BASE_URL": f"http://127.0.0.1:{p.sms}",
        "NUDGE_TWILIO_ACCOUNT_SID": SMS_ACCOUNT_SID,
        "NUDGE_TWILIO_AUTH_TOKEN": SMS_AUTH_TOKEN,
        "NUDGE_TWILIO_FROM_NUMBER": SMS_FROM,
        "NUDGE_DISPATCH_SHOPS_DIR": str(cfg / "shops"),
        "NUDGE_DISPATCH_DEFAULT_SHOP_URL": "https://{shop_id}.example",
        "NUDGE_DISPATCH_PUBLIC_URL": feedback_url,
        "NUDGE_DISPATCH_SMS_STATUS_CALLBACK_URL": f"{feedback_url}/sms/status",
    }
    python = sys.executable
    return [
        ServiceSpec(
            "smtp-sink",
            (
                python,
                "-m",
                "deploy.local.sinks.smtp_sink",
                "--port",
                str(p.smtp),
                "--control-port",
                str(p.smtp_control),
                "--log",
                str(layout.smtp_log),
            ),
            shared,
            _url(p.smtp_control, "/healthz"),
            p.smtp,
            fault_target=False,
        ),
        ServiceSpec(
            "sms-sink",
            (
                python,
                "-m",
                "deploy.local.sinks.sms_sink",
                "--port",
                str(p.sms),
                "--log",
                str(layout.sms_log),
            ),
            shared,
            _url(p.sms, "/healthz"),
            p.sms,
            fault_target=False,
        ),
        ServiceSpec(
            "ingest",
            (NUDGE, "ingest", "--port", str(p.ingest)),
            {**shared, "NUDGE_INGEST_CREDENTIALS_REFRESH_S": "1"},
            _url(p.ingest),
            p.ingest,
        ),
        ServiceSpec(
            "triggers",
            (NUDGE, "worker", "triggers"),
            {
                **shared,
                "NUDGE_TRIGGERS_PORT": str(p.triggers),
                "NUDGE_TRIGGERS_DATA_DIR": str(layout.run_dir / "state" / "triggers"),
                "NUDGE_TRIGGERS_CAMPAIGNS_DIR": str(cfg / "campaigns"),
                # Static membership, as the StatefulSet gives it (deploy/k8s/base/triggers/):
                # a worker restarted within the session timeout gets its partitions back.
                "NUDGE_TRIGGERS_INSTANCE_ID": "e2e-triggers-0",
            },
            _url(p.triggers),
            p.triggers,
        ),
        ServiceSpec(
            "segmenter",
            (NUDGE, "worker", "segmenter"),
            {
                **shared,
                "NUDGE_SEGMENTER_PORT": str(p.segmenter),
                "NUDGE_SEGMENTER_DATA_DIR": str(layout.run_dir / "state" / "segmenter"),
                "NUDGE_SEGMENTER_SEGMENTS_DIR": str(cfg / "segments"),
                "NUDGE_SEGMENTER_INSTANCE_ID": "e2e-segmenter-0",
            },
            _url(p.segmenter),
            p.segmenter,
        ),
        ServiceSpec(
            "segmenter-api",
            (NUDGE, "segmenter-api"),
            {**shared, "NUDGE_SEGMENTER_API_PORT": str(p.segmenter_api)},
            _url(p.segmenter_api),
            p.segmenter_api,
        ),
        ServiceSpec(
            "dispatch-intake",
            (NUDGE, "dispatch"),
            {
                **dispatch,
                "NUDGE_DISPATCH_ROLES": "intake",
                "NUDGE_DISPATCH_PORT": str(p.dispatch_intake),
            },
            _url(p.dispatch_intake),
            p.dispatch_intake,
        ),
        ServiceSpec(
            "dispatch-sender",
            (NUDGE, "dispatch"),
            {
                **dispatch,
                "NUDGE_DISPATCH_ROLES": "send",
                "NUDGE_DISPATCH_PORT": str(p.dispatch_sender),
            },
            _url(p.dispatch_sender),
            p.dispatch_sender,
        ),
        ServiceSpec(
            "feedback",
            (NUDGE, "feedback"),
            {
                **shared,
                **without_master,
                "NUDGE_FEEDBACK_PORT": str(p.feedback),
                "NUDGE_FEEDBACK_PUBLIC_URL": feedback_url,
                "NUDGE_FEEDBACK_TWILIO_AUTH_TOKEN": SMS_AUTH_TOKEN,
                "NUDGE_FEEDBACK_SHOPS_DIR": str(cfg / "feedback-shops"),
                "NUDGE_FEEDBACK_CREDENTIALS_REFRESH_S": "1",
                # Simulated customers click a few wall seconds after the send, which on a fast
                # clock is hours: not the machine scanners this guard is for.
                "NUDGE_FEEDBACK_MACHINE_AFTER_SEND_S": "0",
            },
            _url(p.feedback),
            p.feedback,
        ),
    ]


def masterless(spec: ServiceSpec) -> bool:
    """Whether the process must run without the master key (it has the link keys only)."""
    return "NUDGE_LINK_KEYS_FILE" in spec.env


def run_folder_paths(layout: Layout) -> list[Path]:
    return [layout.logs_dir, layout.run_dir / "state"]
