"""deploy/compose/compose.yaml: valid by the Compose Specification's schema (and a broken copy
is not), and in step with the image and the services: every `nudge` command it runs exists,
every variable it sets is a settings field, every probe hits the port its service opens.

No Docker engine is needed (none runs here): the file is read as compose reads it, YAML with
anchors and merge keys resolved.
"""

from __future__ import annotations

import copy
import importlib.util
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from deploy.checks.commands import invocations, resolve
from deploy.checks.settings_env import OUR_PREFIXES, SETTINGS_CLASSES, unknown_names
from tests.support.compose_schema import load_compose, schema_errors
from tests.support.stack import ROOT

COMPOSE_DIR = ROOT / "deploy" / "compose"
COMPOSE_FILE = COMPOSE_DIR / "compose.yaml"
OUR_IMAGES = {"nudge:dev": "nudge", "nudge-sinks:dev": "sinks"}
"""Our images and the Dockerfile stage each is built from."""
SERVICES = (
    "ingest",
    "triggers",
    "segmenter",
    "segmenter-api",
    "dispatch-intake",
    "dispatch-sender",
    "feedback",
)
"""The canonical workload names (the Kubernetes manifests use the same)."""
PUBLISHED = {8080: "ingest", 8083: "feedback", 10026: "smtp-sink", 10088: "sms-sink"}
SCRIPT_VARIABLES = {"NUDGE_DEMO_TIME_SCALE"}
"""Read by deploy/compose/init.sh itself, not by a settings class."""
RESTART_POLICIES = re.compile(r"no|always|unless-stopped|on-failure(:\d+)?")
CLOCK_WRAPPER = 'set -a && . /var/lib/nudge/clock/clock.env && set +a && exec nudge "$$@"'


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document = load_compose(COMPOSE_FILE)
    assert isinstance(document, dict)
    return document


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = compose["services"]
    assert isinstance(found, dict)
    return found


def ours(service: dict[str, Any]) -> bool:
    return service.get("image") in OUR_IMAGES


def policy_errors(document: dict[str, Any]) -> list[str]:
    """What the schema lets through and compose would refuse or misread: restart policies
    (a free string in the schema), images neither built here nor pinned by a tag."""
    errors = []
    for name, service in document["services"].items():
        restart = service.get("restart", "no")
        if not RESTART_POLICIES.fullmatch(str(restart)):
            errors.append(f"services/{name}/restart: {restart!r} is no restart policy")
        image = str(service.get("image", ""))
        if "build" in service:
            if image not in OUR_IMAGES or service["build"].get("target") != OUR_IMAGES[image]:
                errors.append(f"services/{name}: built, but not as one of {sorted(OUR_IMAGES)}")
            continue
        tag = image.rsplit("/", 1)[-1].partition(":")[2]
        if not tag or tag == "latest":
            errors.append(f"services/{name}/image: {image!r} is not pinned by a tag")
    return sorted(errors)


def nudge_arguments(name: str, service: dict[str, Any]) -> list[list[str]]:
    """The `nudge` command lines a container of ours runs: its command under the image's
    entry point or the clock wrapper, or the calls in the script it runs."""
    entrypoint = service.get("entrypoint")
    command = [str(word) for word in service.get("command", [])]
    if entrypoint is None:
        return [command]
    if entrypoint[:3] == ["/bin/sh", "-c", CLOCK_WRAPPER]:
        assert entrypoint[3:] == ["nudge"], name  # $0; the command is "$@"
        return [command]
    if entrypoint[0] == "/bin/sh" and len(entrypoint) == 2:
        return invocations(mounted_script(service, entrypoint[1]).read_text())
    if entrypoint[:2] == ["python", "-m"]:
        assert importlib.util.find_spec(entrypoint[2]) is not None, name
        return []
    raise AssertionError(f"{name}: an entry point this test does not know: {entrypoint}")


def mounted_script(service: dict[str, Any], target: str) -> Path:
    for volume in service.get("volumes", []):
        source, _, rest = str(volume).partition(":")
        if rest.split(":")[0] == target:
            return COMPOSE_DIR / source
    raise AssertionError(f"{target} is not mounted")


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    assert isinstance(env, dict), "environment: a mapping, so that anchors merge"
    return {str(key): str(value) for key, value in env.items()}


def probe_port(service: dict[str, Any]) -> int:
    test = service["healthcheck"]["test"]
    port = urlsplit(str(test[-1])).port
    assert port is not None, test
    return port


def listen_port(name: str, service: dict[str, Any]) -> int:
    """The HTTP port the container listens on: a service's `NUDGE_<SERVICE>_PORT`, a sink's
    `--control-port` (SMTP's inspection port) or `--port`."""
    env = environment(service)
    for settings in SETTINGS_CLASSES:
        prefix = str(settings.model_config.get("env_prefix", ""))
        if f"{prefix}PORT" in env:
            return int(env[f"{prefix}PORT"])
    flags = dict(str(word).partition("=")[::2] for word in service.get("command", []))
    port = flags.get("--control-port") or flags.get("--port")  # a sink's HTTP port
    assert port, f"{name}: no port set"
    return int(port)


# --- schema and policy --------------------------------------------------------------------


def test_valid_by_the_compose_specification(compose: dict[str, Any]) -> None:
    assert "version" not in compose  # obsolete in the Compose Specification
    assert schema_errors(compose) == []


def test_a_misspelt_key_breaks_the_schema(compose: dict[str, Any]) -> None:
    broken = copy.deepcopy(compose)
    broken["services"]["ingest"]["depends_onn"] = broken["services"]["ingest"].pop("depends_on")
    errors = schema_errors(broken)
    assert errors and "depends_onn" in errors[0] and errors[0].startswith("services/ingest")


def test_a_wrong_type_breaks_the_schema(compose: dict[str, Any]) -> None:
    broken = copy.deepcopy(compose)
    broken["services"]["kafka"]["healthcheck"]["retries"] = ["many"]
    assert any("services/kafka/healthcheck/retries" in e for e in schema_errors(broken))


def test_restart_policies_and_image_pins(compose: dict[str, Any]) -> None:
    assert policy_errors(compose) == []


def test_what_the_schema_lets_through_policy_catches(compose: dict[str, Any]) -> None:
    broken = copy.deepcopy(compose)
    broken["services"]["ingest"]["restart"] = "sometimes"
    broken["services"]["postgres"]["image"] = "postgres"
    broken["services"]["kafka"]["image"] = "apache/kafka:latest"
    assert schema_errors(broken) == []  # restart is any string to the schema
    assert policy_errors(broken) == [
        "services/ingest/restart: 'sometimes' is no restart policy",
        "services/kafka/image: 'apache/kafka:latest' is not pinned by a tag",
        "services/postgres/image: 'postgres' is not pinned by a tag",
    ]


# --- in step with the image and the services ----------------------------------------------


def test_every_service_runs_and_from_our_image(services: dict[str, dict[str, Any]]) -> None:
    for name in SERVICES:
        assert services[name]["image"] == "nudge:dev", name
        assert services[name]["build"]["target"] == "nudge"
    assert {"kafka", "postgres", "smtp-sink", "sms-sink", "demo"} <= set(services)
    assert services["kafka"]["image"].startswith("apache/kafka:4.")
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"


def test_every_nudge_command_exists(services: dict[str, dict[str, Any]]) -> None:
    resolved = {}
    for name, service in services.items():
        if ours(service):
            for args in nudge_arguments(name, service):
                resolved[(name, *args)] = resolve(args).name
    expected = {
        ("ingest", "ingest"): "ingest",
        ("triggers", "worker", "triggers"): "triggers",
        ("segmenter", "worker", "segmenter"): "segmenter",
        ("segmenter-api", "segmenter-api"): "segmenter-api",
        ("dispatch-intake", "dispatch"): "dispatch",
        ("dispatch-sender", "dispatch"): "dispatch",
        ("feedback", "feedback"): "feedback",
        ("topics", "topics", "create"): "create",
        ("migrate", "db", "migrate"): "migrate",
        ("init", "keys", "derive", "links"): "derive",
        ("demo", "reports", "url", "demo-coffee"): "url",
    }
    assert expected.items() <= resolved.items()


def test_dispatch_runs_in_its_two_roles(services: dict[str, dict[str, Any]]) -> None:
    roles = {
        name: environment(services[name])["NUDGE_DISPATCH_ROLES"]
        for name in ("dispatch-intake", "dispatch-sender")
    }
    assert roles == {"dispatch-intake": "intake", "dispatch-sender": "send"}


def test_every_variable_set_is_a_settings_field(services: dict[str, dict[str, Any]]) -> None:
    names = {key for service in services.values() if ours(service) for key in environment(service)}
    clock = (COMPOSE_DIR / "init.sh").read_text()
    names |= set(re.findall(r"^(NUDGE_[A-Z_]+)=", clock, flags=re.MULTILINE))
    assert "NUDGE_TRIGGERS_CLOCK_ORIGIN" in names
    assert unknown_names(names, allowed=SCRIPT_VARIABLES) == []
    assert unknown_names({"NUDGE_TRIGGERS_CAMPAIGN_DIR"}, allowed=SCRIPT_VARIABLES) == [
        "NUDGE_TRIGGERS_CAMPAIGN_DIR"
    ]


def test_the_services_accept_the_values_set(
    services: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each settings class a container is configured through validates what compose sets
    (URLs that must be https or loopback, patterns, numbers), as the service does at start.
    Not the demo's: the storyline reads a few of the same names itself (the Twilio account
    its inbound SMS claims to come from), without the settings classes."""
    for name in (*SERVICES, "topics", "migrate", "init", "tail"):
        env = environment(services[name])
        with monkeypatch.context() as patch:
            for key in os.environ:
                if key.startswith(OUR_PREFIXES):
                    patch.delenv(key)
            for key, value in env.items():
                patch.setenv(key, value)
            for settings in SETTINGS_CLASSES:
                prefix = str(settings.model_config.get("env_prefix", ""))
                fields = {f"{prefix}{field}".upper() for field in settings.model_fields}
                if fields & set(env):
                    settings()  # raises a ValidationError naming the variable


def test_master_key_only_where_it_is_needed(services: dict[str, dict[str, Any]]) -> None:
    holders = {
        name
        for name, service in services.items()
        if any(str(v).startswith("master-key:") for v in service.get("volumes", []))
    }
    assert holders == {"init", "ingest"}
    for name in ("dispatch-sender", "feedback", "demo"):
        assert "NUDGE_LINK_KEYS_FILE" in environment(services[name])
        assert not {"NUDGE_SECRET_KEY", "NUDGE_SECRET_KEY_FILE"} & set(environment(services[name]))


def test_our_containers_run_read_only_in_one_network_namespace(
    services: dict[str, dict[str, Any]],
) -> None:
    for name, service in services.items():
        if ours(service):
            assert service["read_only"] is True, name
            assert service["tmpfs"] == ["/tmp"], name
            assert service["network_mode"] == "service:net", name
            assert "user" not in service, name  # the image's non-root user


def test_only_the_public_ports_are_published_on_loopback(
    services: dict[str, dict[str, Any]],
) -> None:
    published = {}
    for name, service in services.items():
        for mapping in service.get("ports", []):
            host, host_port, container_port = str(mapping).split(":")
            assert host == "127.0.0.1" and host_port == container_port, mapping
            published[int(container_port)] = name
    assert published == dict.fromkeys(PUBLISHED, "net")
    for port, owner in PUBLISHED.items():
        assert listen_port(owner, services[owner]) == port


def test_probes_hit_the_port_each_service_opens(services: dict[str, dict[str, Any]]) -> None:
    ports = {}
    for name, service in services.items():
        if ours(service) and "healthcheck" in service:
            test = service["healthcheck"]["test"]
            assert test[:3] == ["CMD", "python", "-c"], name  # no curl in the image
            path = urlsplit(test[-1]).path
            assert path in ("/readyz", "/healthz"), name
            ports[name] = probe_port(service)
            assert ports[name] == listen_port(name, service), name
    assert set(SERVICES) <= set(ports)
    assert len(set(ports.values())) == len(ports), "two services on one port of the pod"


def test_services_start_after_their_dependencies(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        for dependency, rule in (service.get("depends_on") or {}).items():
            assert dependency in services, (name, dependency)
            condition = rule["condition"]
            if condition == "service_healthy":
                assert "healthcheck" in services[dependency], (name, dependency)
            elif condition == "service_completed_successfully":
                assert "restart" not in services[dependency], (name, dependency)
            else:
                assert condition == "service_started", (name, dependency)
    for name in SERVICES:
        after = services[name]["depends_on"]
        assert after["topics"]["condition"] == "service_completed_successfully"
        assert after["init"]["condition"] == "service_completed_successfully"
    demo = services["demo"]["depends_on"]
    assert all(demo[name]["condition"] == "service_healthy" for name in SERVICES)


def test_bind_mounts_exist_and_are_read_only(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source, _, rest = str(volume).partition(":")
            if source.startswith("."):
                assert (COMPOSE_DIR / source).exists(), (name, source)
                assert rest.endswith(":ro"), (name, volume)


def test_the_sinks_and_storyline_come_from_the_sinks_stage(
    services: dict[str, dict[str, Any]],
) -> None:
    for name in ("smtp-sink", "sms-sink", "demo"):
        assert services[name]["image"] == "nudge-sinks:dev"
    storyline = ROOT / "deploy" / "local" / "demo" / "storyline.py"
    assert f"/opt/nudge-local/{storyline.relative_to(ROOT)}" in (
        (COMPOSE_DIR / "demo.sh").read_text()
    )
    smtp = [str(w) for w in services["smtp-sink"]["command"]]
    assert "--log=/var/lib/nudge/demo/smtp-sink.jsonl" in smtp  # the storyline reads it there


def test_yaml_has_no_duplicate_keys() -> None:
    """PyYAML keeps the last of two equal keys silently; compose refuses them."""

    class Strict(yaml.SafeLoader):
        pass

    def mapping(loader: Strict, node: yaml.MappingNode) -> dict[Any, Any]:
        keys = [key.value for key, _ in node.value if not key.tag.endswith(":merge")]
        assert len(keys) == len(set(keys)), f"duplicate keys near line {node.start_mark.line}"
        return loader.construct_mapping(node)

    Strict.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)
    assert yaml.load(COMPOSE_FILE.read_text(), Loader=Strict)  # a SafeLoader
