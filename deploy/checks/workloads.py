"""Checks of the rendered workloads against what the services need and what an SRE expects.

Every long-running workload has probes on ports its container opens and listens on, requests
and a memory limit, a PodDisruptionBudget, the restricted security context, a writable /tmp;
every variable it sets under our prefixes is a setting, and a Secret it loads whole is its own;
its arguments are a `nudge` command, and `nudge` is the entry point of the image
deploy/Dockerfile builds; autoscalers never run more consumers than partitions, and KEDA's
triggers name hosts its operator resolves; the migration waits for PostgreSQL and runs between
what it needs and the services; only the ingress controller and Prometheus reach in from
outside the namespace, and only where they must (Prometheus reaching the Kafka Exporter too);
every metric an alert reads exists; Secrets are referenced, never shipped.
Each check returns its problems as `<kind>/<name>: <what is wrong>` (`<file>: ...` for a
problem of the Dockerfile).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import import_module
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from deploy.checks.commands import command_problem
from deploy.checks.dockerfile import entrypoint
from deploy.checks.kafka import group_principals
from deploy.checks.render import Check, Manifest, containers, of_kind, pod_spec, ref
from deploy.checks.settings_env import unknown_names

ROOT: Final = Path(__file__).resolve().parents[2]
WORKLOAD_KINDS: Final = ("Deployment", "StatefulSet")
"""Long-running workloads; Jobs get the checks that make sense for a one-shot run."""
RUN_AS_USER: Final = 10001
"""The image's user (deploy/Dockerfile)."""
FAUST_WEB_PORT: Final = 6066
PUBLIC_WORKLOADS: Final = frozenset({"ingest", "feedback"})
"""The workloads the Ingress exposes, on their `http` port."""
INGRESS_NAMESPACE: Final = "ingress-nginx"
PROMETHEUS_PEER: Final = {
    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}},
    "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}},
}
"""The one reader of metrics from outside the namespace (network/networkpolicies.yaml)."""
METRICS_PORT_NAMES: Final = frozenset({"metrics", "http"})
"""Where our containers serve /metrics: `metrics` (workers, dispatch) or `http` (beside an API)."""
PRIVATE_PATHS: Final = ("/metrics", "/healthz", "/readyz", "/docs", "/openapi")
"""Paths no Ingress may route: they are for the cluster's eyes only."""
EXTERNAL_METRICS: Final = {
    "kafka_consumergroup_lag": "Strimzi's Kafka Exporter (consumer lag per group and partition)",
    "kafka_topic_partition_current_offset": "Strimzi's Kafka Exporter (a partition's end offset)",
}
"""Metrics the alerts may read that are not Nudge's: the exporter the platform runs."""
PROMQL_WORDS: Final = frozenset(
    {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right"}
    | {"bool", "offset", "inf", "nan", "start", "end"}
)
SEVERITIES: Final = frozenset({"critical", "warning", "info"})
RUNBOOK: Final = "deploy/README.md#"
LISTEN_SETTINGS: Final[dict[tuple[str, ...], str]] = {
    ("ingest",): "NUDGE_INGEST",
    ("worker", "triggers"): "NUDGE_TRIGGERS",
    ("worker", "segmenter"): "NUDGE_SEGMENTER",
    ("segmenter-api",): "NUDGE_SEGMENTER_API",
    ("dispatch",): "NUDGE_DISPATCH",
    ("feedback",): "NUDGE_FEEDBACK",
}
"""The settings prefix (`<prefix>_HOST`, `<prefix>_PORT`) of each serving `nudge` command."""
STREAM_WORKER_COMMANDS: Final[dict[tuple[str, ...], str]] = {
    ("worker", "triggers"): "TRIGGERS",
    ("worker", "segmenter"): "SEGMENTER",
}


# --- Reading the objects ---------------------------------------------------------------------


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _name(obj: Manifest) -> str:
    return str(_dict(obj.get("metadata")).get("name", "?"))


def workloads(objects: Sequence[Manifest]) -> list[Manifest]:
    return of_kind(objects, *WORKLOAD_KINDS)


def main_containers(obj: Manifest) -> list[dict[str, Any]]:
    """The containers of the pod template, init containers left out."""
    return [c for c in _list(_dict(pod_spec(obj)).get("containers")) if isinstance(c, dict)]


def pod_labels(obj: Manifest) -> dict[str, str]:
    metadata = _dict(_dict(_dict(obj.get("spec")).get("template")).get("metadata"))
    return {str(k): str(v) for k, v in _dict(metadata.get("labels")).items()}


def env_values(container: Mapping[str, Any], objects: Sequence[Manifest] = ()) -> dict[str, str]:
    """A container's literal settings: its ConfigMaps' (envFrom) overridden by its own `env`."""
    values: dict[str, str] = {}
    maps = {_name(m): _dict(m.get("data")) for m in of_kind(objects, "ConfigMap")}
    for source in _list(container.get("envFrom")):
        name = _dict(_dict(source).get("configMapRef")).get("name")
        prefix = str(_dict(source).get("prefix", ""))
        for key, value in maps.get(str(name), {}).items():
            values[prefix + key] = str(value)
    for var in _list(container.get("env")):
        var = _dict(var)
        if "value" in var:
            values[str(var.get("name"))] = str(var["value"])
    return values


def env_names(container: Mapping[str, Any]) -> set[str]:
    return {str(_dict(var).get("name")) for var in _list(container.get("env"))}


def container_ports(container: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [_dict(p) for p in _list(container.get("ports"))]


def resolve_port(container: Mapping[str, Any], port: Any) -> int | None:
    """The container port a probe or Service names (by name or number), if the container
    declares it."""
    for declared in container_ports(container):
        if port == declared.get("name") or port == declared.get("containerPort"):
            return int(declared["containerPort"])
    return None


def nudge_command(container: Mapping[str, Any]) -> tuple[str, ...]:
    """The `nudge` subcommand words of a container's arguments (options left out)."""
    words = []
    for arg in _list(container.get("args")):
        if str(arg).startswith("-"):
            break
        words.append(str(arg))
    return tuple(words)


def matches(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """Whether a Kubernetes label selector selects these labels (an empty one selects all)."""
    for name, value in _dict(selector.get("matchLabels")).items():
        if labels.get(name) != value:
            return False
    for item in _list(selector.get("matchExpressions")):
        expression = _dict(item)
        key, operator = str(expression.get("key")), expression.get("operator")
        values = _list(expression.get("values"))
        present = key in labels
        if operator == "In" and not (present and labels[key] in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


def _pod_security(obj: Manifest) -> dict[str, Any]:
    return _dict(_dict(pod_spec(obj)).get("securityContext"))


# --- Probes and ports ------------------------------------------------------------------------


def check_probes(objects: Sequence[Manifest]) -> list[str]:
    """Every long-running container has startup, liveness and readiness probes."""
    problems = []
    for obj in workloads(objects):
        for container in main_containers(obj):
            missing = [
                kind
                for kind in ("startupProbe", "livenessProbe", "readinessProbe")
                if not isinstance(container.get(kind), dict)
            ]
            if missing:
                problems.append(
                    f"{ref(obj)}: container {container.get('name')} has no {', '.join(missing)}"
                )
    return problems


def _probe_ports(container: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    for kind in ("startupProbe", "livenessProbe", "readinessProbe"):
        probe = _dict(container.get(kind))
        for action in ("httpGet", "tcpSocket", "grpc"):
            if action in probe:
                yield kind, _dict(probe[action]).get("port")


def check_probe_ports(objects: Sequence[Manifest]) -> list[str]:
    """Every port a probe names is a port the container declares, and the one its `nudge`
    command listens on (the `<SERVICE>_PORT` setting)."""
    problems = []
    for obj in (*workloads(objects), *of_kind(objects, "Job")):
        for container in containers(obj):
            name = container.get("name")
            listening = _listen_port(container, objects)
            for kind, port in _probe_ports(container):
                number = resolve_port(container, port)
                if number is None:
                    problems.append(
                        f"{ref(obj)}: container {name}'s {kind} probes port {port!r}, which "
                        "the container does not open (not in its ports)"
                    )
                elif listening is not None and number != listening:
                    problems.append(
                        f"{ref(obj)}: container {name}'s {kind} probes port {number}, but the "
                        f"service listens on {listening}"
                    )
    return problems


def _listen_port(container: Mapping[str, Any], objects: Sequence[Manifest]) -> int | None:
    prefix = LISTEN_SETTINGS.get(nudge_command(container))
    value = env_values(container, objects).get(f"{prefix}_PORT") if prefix else None
    return int(value) if value is not None and value.isdigit() else None


def check_listen_settings(objects: Sequence[Manifest]) -> list[str]:
    """A serving `nudge` command listens on all interfaces, on a port its container declares
    (its `<SERVICE>_HOST` and `<SERVICE>_PORT` settings; the defaults are loopback-only)."""
    problems = []
    for obj in workloads(objects):
        for container in main_containers(obj):
            prefix = LISTEN_SETTINGS.get(nudge_command(container))
            if prefix is None:
                continue
            values = env_values(container, objects)
            where = f"{ref(obj)}: container {container.get('name')}"
            if values.get(f"{prefix}_HOST") != "0.0.0.0":
                problems.append(
                    f"{where}: {prefix}_HOST must be 0.0.0.0 (probes come from the node)"
                )
            port = _listen_port(container, objects)
            if port is None:
                problems.append(f"{where}: {prefix}_PORT is not set to a port number")
            elif resolve_port(container, port) is None:
                problems.append(f"{where}: listens on {port} ({prefix}_PORT), not a declared port")
    return problems


def check_no_faust_web_port(objects: Sequence[Manifest]) -> list[str]:
    """Faust's own web server (6066) exposes the tables: no container opens it, no Service
    targets it."""
    problems = []
    for obj in (*workloads(objects), *of_kind(objects, "Job")):
        for container in containers(obj):
            for port in container_ports(container):
                if port.get("containerPort") == FAUST_WEB_PORT:
                    problems.append(
                        f"{ref(obj)}: container {container.get('name')} opens {FAUST_WEB_PORT}"
                    )
    for service in of_kind(objects, "Service"):
        for port in _list(_dict(service.get("spec")).get("ports")):
            port = _dict(port)
            if FAUST_WEB_PORT in (port.get("port"), port.get("targetPort")):
                problems.append(f"{ref(service)}: exposes {FAUST_WEB_PORT} (Faust's web server)")
    return problems


# --- Resources and security ------------------------------------------------------------------


def check_resources(objects: Sequence[Manifest]) -> list[str]:
    """Every container (init containers and Jobs too) requests CPU and memory and has a memory
    limit at least its request; none has a CPU limit (throttling stalls event loops)."""
    problems = []
    for obj in (*workloads(objects), *of_kind(objects, "Job")):
        for container in containers(obj):
            where = f"{ref(obj)}: container {container.get('name')}"
            resources = _dict(container.get("resources"))
            requests, limits = _dict(resources.get("requests")), _dict(resources.get("limits"))
            for resource in ("cpu", "memory"):
                if resource not in requests:
                    problems.append(f"{where} requests no {resource}")
            if "memory" not in limits:
                problems.append(f"{where} has no memory limit")
            elif "memory" in requests and _bytes(limits["memory"]) < _bytes(requests["memory"]):
                problems.append(f"{where}'s memory limit is below its request")
            if "cpu" in limits:
                problems.append(f"{where} has a CPU limit (throttling stalls its event loop)")
    return problems


_UNITS: Final = {
    "": 1,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
}


def _bytes(quantity: Any) -> float:
    match = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", str(quantity))
    if match is None or match.group(2) not in _UNITS:
        return float("nan")
    return float(match.group(1)) * _UNITS[match.group(2)]


def check_security_contexts(objects: Sequence[Manifest]) -> list[str]:
    """The restricted profile for every container: non-root as the image's user, no privilege
    escalation, a read-only root file system, every capability dropped, seccomp RuntimeDefault."""
    problems = []
    for obj in (*workloads(objects), *of_kind(objects, "Job")):
        pod = _pod_security(obj)
        for container in containers(obj):
            where = f"{ref(obj)}: container {container.get('name')}"
            own = _dict(container.get("securityContext"))

            def effective(key: str, own: dict[str, Any] = own, pod: dict[str, Any] = pod) -> Any:
                return own.get(key, pod.get(key))

            if effective("runAsNonRoot") is not True:
                problems.append(f"{where}: runAsNonRoot is not true")
            if effective("runAsUser") != RUN_AS_USER:
                problems.append(f"{where}: runAsUser is not {RUN_AS_USER} (the image's user)")
            if _dict(effective("seccompProfile")).get("type") != "RuntimeDefault":
                problems.append(f"{where}: seccompProfile is not RuntimeDefault")
            if own.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{where}: allowPrivilegeEscalation is not false")
            if own.get("readOnlyRootFilesystem") is not True:
                problems.append(f"{where}: readOnlyRootFilesystem is not true")
            if own.get("privileged") is True:
                problems.append(f"{where}: runs privileged")
            capabilities = _dict(own.get("capabilities"))
            if "ALL" not in _list(capabilities.get("drop")):
                problems.append(f"{where}: does not drop ALL capabilities")
            if _list(capabilities.get("add")):
                problems.append(f"{where}: adds capabilities")
    return problems


def check_writable_tmp(objects: Sequence[Manifest]) -> list[str]:
    """With a read-only root, /tmp is an emptyDir in every main container (temporary files,
    the metrics of several worker processes)."""
    problems = []
    for obj in (*workloads(objects), *of_kind(objects, "Job")):
        volumes = {
            _dict(v).get("name"): _dict(v) for v in _list(_dict(pod_spec(obj)).get("volumes"))
        }
        for container in main_containers(obj):
            mounts = {
                _dict(m).get("mountPath"): _dict(m) for m in _list(container.get("volumeMounts"))
            }
            volume = volumes.get(mounts.get("/tmp", {}).get("name"), {})
            if "emptyDir" not in volume:
                problems.append(
                    f"{ref(obj)}: container {container.get('name')} has no emptyDir at /tmp"
                )
    return problems


def set_names(container: Mapping[str, Any], objects: Sequence[Manifest]) -> set[str]:
    """The variable names a container sets that the render shows: its `env` entries and the
    keys of the ConfigMaps it loads whole (envFrom, with their prefix). A Secret loaded whole
    shows its name only."""
    names = env_names(container)
    maps = {_name(m): _dict(m.get("data")) for m in of_kind(objects, "ConfigMap")}
    for source in _list(container.get("envFrom")):
        name = _dict(_dict(source).get("configMapRef")).get("name")
        prefix = str(_dict(source).get("prefix", ""))
        names |= {prefix + str(key) for key in maps.get(str(name), {})}
    return names


def check_settings_are_known(objects: Sequence[Manifest]) -> list[str]:
    """Every variable a container sets under our prefixes (NUDGE_, KAFKA_, DATABASE_) is a
    field of a settings class: the settings ignore unknown names, so a misspelled one would
    leave its default in force without a word."""
    problems = []
    for obj in (*workloads(objects), *of_kind(objects, "Job")):
        for container in containers(obj):
            for name in unknown_names(set_names(container, objects)):
                problems.append(
                    f"{ref(obj)}: container {container.get('name')} sets {name}, which no "
                    "settings class reads (deploy/checks/settings_env.py)"
                )
    return problems


def _secret_reads(obj: Manifest) -> tuple[set[str], set[str]]:
    """The Secrets a workload's pods load whole (envFrom), and every Secret they reference
    (envFrom, single keys, volumes)."""
    whole: set[str] = set()
    every: set[str] = set()
    for container in containers(obj):
        for source in _list(container.get("envFrom")):
            name = _dict(_dict(source).get("secretRef")).get("name")
            if name:
                whole.add(str(name))
        for var in _list(container.get("env")):
            key_ref = _dict(_dict(_dict(var).get("valueFrom")).get("secretKeyRef"))
            if key_ref.get("name"):
                every.add(str(key_ref["name"]))
    for volume in _list(_dict(pod_spec(obj)).get("volumes")):
        name = _dict(_dict(volume).get("secret")).get("secretName")
        if name:
            every.add(str(name))
    return whole, every | whole


def check_whole_secrets_have_one_reader(objects: Sequence[Manifest]) -> list[str]:
    """A Secret a workload loads whole (envFrom) is that workload's settings and nobody
    else's: another reader would tie its settings to keys it does not own (a key added for
    the one changes the other; a value valid for the one is refused by the other)."""
    readers = [
        (obj, *_secret_reads(obj)) for obj in (*workloads(objects), *of_kind(objects, "Job"))
    ]
    problems = []
    for obj, whole, _every in readers:
        for secret in sorted(whole):
            others = sorted(ref(o) for o, _w, every in readers if o is not obj and secret in every)
            if others:
                problems.append(
                    f"{ref(obj)}: loads Secret {secret} whole (envFrom), which "
                    f"{', '.join(others)} also read(s): give each reader a Secret of its own"
                )
    return problems


def check_setting_paths_are_mounted(objects: Sequence[Manifest]) -> list[str]:
    """Every file or folder a setting names (`*_DIR`, `*_FILE`, `*_CAFILE`) is inside one of the
    container's mounts: config, keys and data come from volumes, the image holds none."""
    problems = []
    for obj in (*workloads(objects), *of_kind(objects, "Job")):
        for container in containers(obj):
            mounts = [str(_dict(m).get("mountPath")) for m in _list(container.get("volumeMounts"))]
            for name, value in sorted(env_values(container, objects).items()):
                if not re.search(r"_(DIR|FILE|CAFILE)$", name) or not value.startswith("/"):
                    continue
                if not any(value == m or value.startswith(m.rstrip("/") + "/") for m in mounts):
                    problems.append(
                        f"{ref(obj)}: container {container.get('name')}: {name}={value} is in "
                        "none of its volume mounts"
                    )
    return problems


# --- Availability and scaling ----------------------------------------------------------------


def check_disruption_budgets(objects: Sequence[Manifest]) -> list[str]:
    """Every long-running workload has exactly one PodDisruptionBudget, which limits how many of
    its pods a drain may take."""
    budgets = of_kind(objects, "PodDisruptionBudget")
    problems = []
    for obj in workloads(objects):
        labels = pod_labels(obj)
        covering = [
            b for b in budgets if matches(_dict(_dict(b.get("spec")).get("selector")), labels)
        ]
        if not covering:
            problems.append(f"{ref(obj)}: no PodDisruptionBudget selects its pods")
        elif len(covering) > 1:
            names = ", ".join(ref(b) for b in covering)
            problems.append(f"{ref(obj)}: several PodDisruptionBudgets select its pods ({names})")
    for budget in budgets:
        spec = _dict(budget.get("spec"))
        if "maxUnavailable" not in spec and "minAvailable" not in spec:
            problems.append(f"{ref(budget)}: sets neither maxUnavailable nor minAvailable")
        if not _dict(spec.get("selector")):
            problems.append(f"{ref(budget)}: has no selector")
    return problems


@dataclass(frozen=True)
class _Scaler:
    obj: Manifest
    target_kind: str
    target_name: str
    max_replicas: int


def _scalers(objects: Sequence[Manifest]) -> list[_Scaler]:
    found = []
    for obj in of_kind(objects, "HorizontalPodAutoscaler", "ScaledObject"):
        spec = _dict(obj.get("spec"))
        target = _dict(spec.get("scaleTargetRef"))
        if obj.get("kind") == "HorizontalPodAutoscaler":
            most = spec.get("maxReplicas")
        else:
            most = spec.get("maxReplicaCount", 100)  # KEDA's default
        kind = str(target.get("kind", "Deployment"))
        found.append(_Scaler(obj, kind, str(target.get("name")), int(most or 0)))
    return found


@cache
def _partitions() -> dict[str, int]:
    from shared.topics import ALL_TOPICS

    return {spec.name: spec.partitions for spec in ALL_TOPICS}


def _group_reads(group: str) -> tuple[str, ...] | None:
    """The topics a consumer group reads (shared/topic_access.py), or None if no principal
    declares it."""
    principals = group_principals(group)
    return principals[0].reads if principals else None


def _user_reads(user: str) -> tuple[str, ...]:
    """The topics the consumer groups of a Kafka user (`nudge-<principal>`) read."""
    from shared.topic_access import PRINCIPALS

    for principal in PRINCIPALS:
        if f"nudge-{principal.name}" == user and (principal.groups or principal.internal_prefix):
            return principal.reads
    return ()


def _fewest_partitions(topics: Sequence[str]) -> int | None:
    counts = [_partitions()[t] for t in topics if t in _partitions()]
    return min(counts) if counts else None


def check_autoscaling_within_partitions(objects: Sequence[Manifest]) -> list[str]:
    """No autoscaler may run more consumers than the partitions they share: a KEDA Kafka
    trigger's topic (or every topic its group reads, shared/topic_access.py), and for an HPA
    the topics its target's Kafka user consumes (shared/topics.py's partition counts). Each
    targets a workload of the overlay, which leaves its replicas to it."""
    problems = []
    targets = {(str(o.get("kind")), _name(o)): o for o in workloads(objects)}
    for scaler in _scalers(objects):
        target = targets.get((scaler.target_kind, scaler.target_name))
        if target is None:
            problems.append(
                f"{ref(scaler.obj)}: scales {scaler.target_kind}/{scaler.target_name}, "
                "which the overlay does not have"
            )
            continue
        if "replicas" in _dict(target.get("spec")):
            problems.append(
                f"{ref(target)}: sets replicas, which {ref(scaler.obj)} owns (every apply "
                "would reset them)"
            )
        for limit, why in _partition_limits(scaler, target, objects):
            if scaler.max_replicas > limit:
                problems.append(
                    f"{ref(scaler.obj)}: at most {scaler.max_replicas} replicas, above the "
                    f"{limit} partitions of {why}"
                )
    return problems


def _partition_limits(
    scaler: _Scaler, target: Manifest, objects: Sequence[Manifest]
) -> Iterator[tuple[int, str]]:
    spec = _dict(scaler.obj.get("spec"))
    for trigger in _list(spec.get("triggers")):
        trigger = _dict(trigger)
        if trigger.get("type") != "kafka":
            continue
        metadata = _dict(trigger.get("metadata"))
        topic, group = metadata.get("topic"), str(metadata.get("consumerGroup"))
        if topic:
            topics: tuple[str, ...] = (str(topic),)
        else:
            reads = _group_reads(group)
            if reads is None:
                continue  # deploy.checks.kafka reports groups no principal declares
            topics = reads
        fewest = _fewest_partitions(topics)
        if fewest is not None:
            yield fewest, f"{', '.join(topics)} (consumer group {group})"
    if scaler.obj.get("kind") == "HorizontalPodAutoscaler":
        for container in main_containers(target):
            user = env_values(container, objects).get("KAFKA_SASL_USERNAME", "")
            reads = _user_reads(user)
            fewest = _fewest_partitions(reads)
            if fewest is not None:
                yield fewest, f"{', '.join(reads)} (read by {user}'s consumer groups)"


KEDA_HOST_KEYS: Final = ("bootstrapServers", "host", "serverAddress")
"""The trigger metadata that names hosts (Kafka's comma-separated `host:port` list, a
PostgreSQL host, a URL)."""
_DNS_LABEL: Final = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


def _trigger_hosts(metadata: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    for key in KEDA_HOST_KEYS:
        value = metadata.get(key)
        if not isinstance(value, str):
            continue
        for part in (p.strip() for p in value.split(",")):
            if "://" in part:
                yield key, urlsplit(part).hostname or ""
            elif part:
                yield key, part.rsplit(":", 1)[0] if part.count(":") == 1 else part


def check_keda_hosts_qualified(objects: Sequence[Manifest]) -> list[str]:
    """The hosts KEDA's triggers name are Services fully qualified (`<service>.<namespace>.svc`):
    the operator runs in a namespace of its own (`keda`), where a short name does not resolve
    and the scaler sees no metric. Hosts inside a TriggerAuthentication's Secret are not seen."""
    problems = []
    for scaled in of_kind(objects, "ScaledObject", "ScaledJob"):
        for index, trigger in enumerate(_list(_dict(scaled.get("spec")).get("triggers"))):
            metadata = _dict(_dict(trigger).get("metadata"))
            for key, host in _trigger_hosts(metadata):
                labels = host.split(".")
                qualified = (
                    len(labels) >= 3
                    and labels[2] == "svc"
                    and all(_DNS_LABEL.fullmatch(label) for label in labels[:2])
                )
                if not qualified:
                    problems.append(
                        f"{ref(scaled)}: spec.triggers[{index}].metadata.{key} names {host!r}, "
                        "not <service>.<namespace>.svc: KEDA's operator, in its own namespace, "
                        "cannot resolve it"
                    )
    return problems


# --- Commands, image, migration --------------------------------------------------------------


def _image_name(image: str) -> str:
    """The repository part of an image reference (no tag, no digest)."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return name[: len(name) - len(last)] + last.split(":", 1)[0]


def image_tag(image: str) -> str | None:
    last = image.split("@", 1)[0].rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else None


def check_commands(
    objects: Sequence[Manifest], *, dockerfile: Path = ROOT / "deploy" / "Dockerfile"
) -> list[str]:
    """Every container runs the one Nudge image with its entry point: the image's ENTRYPOINT
    (the Dockerfile's default target) is `nudge`, no container overrides it (`command`), and
    every container's arguments are a command the `nudge` CLI accepts."""
    problems = []
    where_built = dockerfile.relative_to(ROOT) if dockerfile.is_relative_to(ROOT) else dockerfile
    try:
        image_entrypoint = entrypoint(dockerfile.read_text())
    except (OSError, ValueError) as exc:
        problems.append(f"{where_built}: the image's entry point is not known: {exc}")
    else:
        if image_entrypoint != ["nudge"]:
            problems.append(
                f"{where_built}: the image's ENTRYPOINT is {json.dumps(image_entrypoint)}, not "
                '["nudge"]: the manifests\' arguments are `nudge` commands'
            )
    images = set()
    for obj in (*workloads(objects), *of_kind(objects, "Job")):
        for container in containers(obj):
            where = f"{ref(obj)}: container {container.get('name')}"
            image = str(container.get("image", ""))
            images.add(image)
            if _image_name(image).rsplit("/", 1)[-1] != "nudge":
                problems.append(f"{where} runs {image!r}, not the nudge image")
            if container.get("command"):
                problems.append(f"{where} overrides the image's entry point (`nudge`)")
            reason = command_problem([str(a) for a in _list(container.get("args"))])
            if reason is not None:
                problems.append(f"{where}: {reason}")
    if len(images) > 1:
        problems.append(f"the workloads run several images: {', '.join(sorted(images))}")
    return problems


ARGO_WAVE: Final = "argocd.argoproj.io/sync-wave"
ARGO_HOOK: Final = "argocd.argoproj.io/hook"


def argo_wave(obj: Manifest) -> int | None:
    """The Argo CD sync wave of an object (0 unless annotated), None when not an integer."""
    value = str(_dict(_dict(obj.get("metadata")).get("annotations")).get(ARGO_WAVE, "0"))
    return int(value) if re.fullmatch(r"[+-]?[0-9]+", value.strip()) else None


def _database_secret(container: Mapping[str, Any]) -> str | None:
    for var in _list(container.get("env")):
        if _dict(var).get("name") == "DATABASE_URL":
            key_ref = _dict(_dict(_dict(var).get("valueFrom")).get("secretKeyRef"))
            return str(key_ref["name"]) if key_ref.get("name") else None
    return None


def _migration_order_problems(job: Manifest, objects: Sequence[Manifest]) -> list[str]:
    """On a first install the Job needs its Namespace, ServiceAccount and database first, and
    the services need the Job first: Argo CD's waves must say so (a PreSync hook runs before
    anything exists; a service in an earlier wave than the Job never turns healthy)."""
    hook = str(_dict(_dict(job.get("metadata")).get("annotations")).get(ARGO_HOOK, ""))
    problems = []
    if "PreSync" in hook:
        problems.append(
            f"{ref(job)}: an Argo CD PreSync hook runs before the Namespace, ServiceAccount and "
            "database exist: a first install would wait for ever (use a sync wave)"
        )
    wave = argo_wave(job)
    if wave is None:
        return [*problems, f"{ref(job)}: {ARGO_WAVE} is not an integer"]
    secrets = {_database_secret(c) for c in containers(job)} - {None}
    account = _dict(pod_spec(job)).get("serviceAccountName")
    needed = [
        *of_kind(objects, "Namespace"),
        *(a for a in of_kind(objects, "ServiceAccount") if _name(a) == account),
        *(
            c
            for c in of_kind(objects, "Cluster")
            if str(c.get("apiVersion", "")).startswith("postgresql.cnpg.io/")
            and f"{_name(c)}-app" in secrets
        ),
    ]
    for obj in needed:
        before = argo_wave(obj)
        if before is None or before >= wave:
            problems.append(
                f"{ref(obj)}: Argo CD sync wave {before} is not before the migration's ({wave}), "
                f"which needs it"
            )
    for obj in workloads(objects):
        after = argo_wave(obj)
        if after is not None and after < wave:
            problems.append(
                f"{ref(obj)}: Argo CD sync wave {after} is before the migration's ({wave}): its "
                "pods wait for the schema, the migration waits for them"
            )
    return problems


def check_migration_job(objects: Sequence[Manifest]) -> list[str]:
    """The migration runs as a Job named for the release's image tag (`migrate-<tag>`: a Job's
    pod template cannot change, so each release needs a Job of its own), running
    `nudge db migrate` once PostgreSQL answers (an init container runs `nudge wait postgres`
    on the same database: on a first install it is created at the same time), ordered for
    Argo CD between what it needs and the services."""
    jobs = [
        j
        for j in of_kind(objects, "Job")
        if pod_labels(j).get("app.kubernetes.io/name") == "migrate"
    ]
    if len(jobs) != 1:
        return [f"Job/migrate: expected one migration Job, found {len(jobs)}"]
    (job,) = jobs
    problems = []
    for container in main_containers(job):
        if nudge_command(container) != ("db", "migrate"):
            problems.append(f"{ref(job)}: runs {container.get('args')}, not `nudge db migrate`")
        tag = image_tag(str(container.get("image", "")))
        if tag is None:
            problems.append(f"{ref(job)}: its image {container.get('image')!r} has no tag")
        elif _name(job) != f"migrate-{tag}":
            problems.append(
                f"{ref(job)}: must be named migrate-{tag} after the image tag (the overlay's "
                "patch and its `images:` entry disagree)"
            )
    databases = {_database_secret(c) for c in main_containers(job)} - {None}
    init = [_dict(c) for c in _list(_dict(pod_spec(job)).get("initContainers"))]
    if not any(
        nudge_command(c) == ("wait", "postgres") and _database_secret(c) in databases for c in init
    ):
        problems.append(
            f"{ref(job)}: no init container runs `nudge wait postgres` on its database (on a "
            "first install the migration would fail while PostgreSQL starts)"
        )
    return problems + _migration_order_problems(job, objects)


def check_database_users_wait_for_schema(objects: Sequence[Manifest]) -> list[str]:
    """A workload that uses PostgreSQL starts once the schema is at its image's migrations: an
    init container runs `nudge db wait` against the same database."""
    problems = []
    for obj in workloads(objects):
        if not any("DATABASE_URL" in env_names(c) for c in main_containers(obj)):
            continue
        init = _list(_dict(pod_spec(obj)).get("initContainers"))
        waits = [
            _dict(c)
            for c in init
            if nudge_command(_dict(c)) == ("db", "wait") and "DATABASE_URL" in env_names(_dict(c))
        ]
        if not waits:
            problems.append(
                f"{ref(obj)}: uses DATABASE_URL but no init container runs `nudge db wait`"
            )
    return problems


def check_stream_workers(objects: Sequence[Manifest]) -> list[str]:
    """Faust workers run as StatefulSets: pods started in parallel, the pod name as static
    group membership id, their RocksDB folder on the pod's own volume, and time to finish a
    batch and commit when stopped."""
    from shared.faust_runtime import STOP_GRACE_S

    problems = []
    for obj in of_kind(objects, "Deployment", "StatefulSet", "Job"):
        for container in main_containers(obj):
            setting = STREAM_WORKER_COMMANDS.get(nudge_command(container))
            if setting is None:
                continue
            where = f"{ref(obj)}: container {container.get('name')}"
            if obj.get("kind") != "StatefulSet":
                problems.append(f"{where}: a Faust worker must be a StatefulSet (name, volume)")
                continue
            spec = _dict(obj.get("spec"))
            if spec.get("podManagementPolicy") != "Parallel":
                problems.append(f"{ref(obj)}: podManagementPolicy is not Parallel")
            instance = [
                _dict(v)
                for v in _list(container.get("env"))
                if _dict(v).get("name") == f"NUDGE_{setting}_INSTANCE_ID"
            ]
            field = (
                _dict(_dict(_dict(instance[0]).get("valueFrom")).get("fieldRef"))
                if instance
                else {}
            )
            if field.get("fieldPath") != "metadata.name":
                problems.append(f"{where}: NUDGE_{setting}_INSTANCE_ID is not the pod's name")
            data_dir = env_values(container, objects).get(f"NUDGE_{setting}_DATA_DIR")
            claims = {
                _name(c) for c in _list(spec.get("volumeClaimTemplates")) if isinstance(c, dict)
            }
            mounts = {
                _dict(m).get("mountPath"): _dict(m).get("name")
                for m in _list(container.get("volumeMounts"))
            }
            if data_dir is None or mounts.get(data_dir) not in claims:
                problems.append(
                    f"{where}: NUDGE_{setting}_DATA_DIR ({data_dir}) is not a volume claim's mount"
                )
            grace = _dict(pod_spec(obj)).get("terminationGracePeriodSeconds", 30)
            if int(grace) <= STOP_GRACE_S:
                problems.append(
                    f"{ref(obj)}: terminationGracePeriodSeconds {grace} leaves no time to commit "
                    f"after a batch's {STOP_GRACE_S:g} s"
                )
    return problems


# --- Services, monitoring, network -----------------------------------------------------------


def check_services_and_monitors(objects: Sequence[Manifest]) -> list[str]:
    """Every Service selects a workload's pods on ports they declare; every ServiceMonitor
    scrapes a port of a Service it selects; every workload is scraped."""
    problems = []
    pods = [(o, pod_labels(o)) for o in workloads(objects)]
    services = of_kind(objects, "Service")
    scraped: set[str] = set()
    monitors = of_kind(objects, "ServiceMonitor")
    for service in services:
        spec = _dict(service.get("spec"))
        selected = [
            o
            for o, labels in pods
            if spec.get("selector") and matches({"matchLabels": spec["selector"]}, labels)
        ]
        if not selected:
            problems.append(f"{ref(service)}: selects no workload's pods")
            continue
        for port in _list(spec.get("ports")):
            target = _dict(port).get("targetPort", _dict(port).get("port"))
            for obj in selected:
                if not any(resolve_port(c, target) for c in main_containers(obj)):
                    problems.append(
                        f"{ref(service)}: targets port {target!r}, which {ref(obj)} does not open"
                    )
    for monitor in monitors:
        spec = _dict(monitor.get("spec"))
        selected_services = [
            s
            for s in services
            if matches(_dict(spec.get("selector")), _dict(_dict(s.get("metadata")).get("labels")))
        ]
        if not selected_services:
            problems.append(f"{ref(monitor)}: selects no Service")
        for endpoint in _list(spec.get("endpoints")):
            port = _dict(endpoint).get("port")
            if not any(
                port in {_dict(p).get("name") for p in _list(_dict(s.get("spec")).get("ports"))}
                for s in selected_services
            ):
                problems.append(
                    f"{ref(monitor)}: scrapes port {port!r}, which its Services do not name"
                )
        for service in selected_services:
            selector = _dict(_dict(service.get("spec")).get("selector"))
            scraped |= {
                _name(o) for o, labels in pods if matches({"matchLabels": selector}, labels)
            }
    for obj, _labels in pods:
        if _name(obj) not in scraped:
            problems.append(f"{ref(obj)}: no ServiceMonitor scrapes its metrics")
    return problems


def check_ingress(objects: Sequence[Manifest]) -> list[str]:
    """The Ingress routes only the public services' `http` port, and never a path that is for
    the cluster's eyes (metrics, probes, API docs), nor everything (`/`)."""
    problems = []
    for ingress in of_kind(objects, "Ingress"):
        spec = _dict(ingress.get("spec"))
        if "defaultBackend" in spec:
            problems.append(f"{ref(ingress)}: has a default backend (routes every path)")
        for rule in _list(spec.get("rules")):
            for path in _list(_dict(_dict(rule).get("http")).get("paths")):
                path = _dict(path)
                text = str(path.get("path", "/"))
                service = _dict(_dict(path.get("backend")).get("service"))
                port = _dict(service.get("port"))
                where = f"{ref(ingress)}: path {text}"
                if service.get("name") not in PUBLIC_WORKLOADS:
                    problems.append(
                        f"{where} routes to {service.get('name')}, not a public service"
                    )
                if port.get("name") != "http":
                    problems.append(f"{where} routes to port {port}, not `http`")
                if text.rstrip("/") == "" or text.startswith(PRIVATE_PATHS):
                    problems.append(f"{where} exposes more than the public routes")
    return problems


def _peer_key(peer: Mapping[str, Any]) -> str:
    return repr(sorted((k, repr(v)) for k, v in peer.items()))


def _outside_peers(rule: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The peers of an ingress rule that are outside the namespace (everyone, when none)."""
    peers = [_dict(p) for p in _list(rule.get("from"))]
    if not peers:
        return [{"everyone": True}]
    return [p for p in peers if "namespaceSelector" in p or "ipBlock" in p]


def _is_ingress_controller(peer: Mapping[str, Any]) -> bool:
    labels = _dict(_dict(peer.get("namespaceSelector")).get("matchLabels"))
    return set(peer) <= {"namespaceSelector", "podSelector"} and labels == {
        "kubernetes.io/metadata.name": INGRESS_NAMESPACE
    }


def check_network_policies(objects: Sequence[Manifest]) -> list[str]:
    """Ingress to the namespace is denied by default; from outside it, only the ingress
    controller reaches the public services' `http` port and only Prometheus reaches the ports
    that serve metrics. No other outside peer reaches any port of a workload."""
    policies = of_kind(objects, "NetworkPolicy")
    problems = []
    if not _denies_by_default(policies):
        problems.append("NetworkPolicy/*: none denies ingress to every pod by default")
    pods = [(o, pod_labels(o)) for o in workloads(objects)]
    for policy in policies:
        spec = _dict(policy.get("spec"))
        selected = [o for o, labels in pods if matches(_dict(spec.get("podSelector")), labels)]
        for rule in _list(spec.get("ingress")):
            rule = _dict(rule)
            for peer in _outside_peers(rule):
                for obj in selected:
                    for port in _allowed_ports(obj, rule):
                        reason = _outside_problem(peer, obj, port)
                        if reason:
                            problems.append(f"{ref(policy)}: lets {reason}")
    return problems


def _allowed_ports(obj: Manifest, rule: Mapping[str, Any]) -> Iterator[str]:
    """The names (or numbers) of the workload's ports a rule opens."""
    declared = [p for c in main_containers(obj) for p in container_ports(c)]
    ports = [_dict(p) for p in _list(rule.get("ports"))]
    for port in declared:
        name, number = port.get("name"), port.get("containerPort")
        if not ports or any(p.get("port") in (None, name, number) for p in ports):
            yield str(name or number)


def _outside_problem(peer: Mapping[str, Any], obj: Manifest, port: str) -> str | None:
    workload = _name(obj)
    if _peer_key(peer) == _peer_key(PROMETHEUS_PEER):
        if port in METRICS_PORT_NAMES:
            return None
        return f"Prometheus reach {ref(obj)}'s port {port}, which serves no metrics"
    if _is_ingress_controller(peer) and workload in PUBLIC_WORKLOADS and port == "http":
        return None
    who = "everyone" if "everyone" in peer else f"peer {dict(peer)}"
    return f"{who} from outside the namespace reach {ref(obj)}'s port {port}"


KAFKA_EXPORTER_LABELS: Final = {
    "strimzi.io/cluster": "nudge",
    "strimzi.io/kind": "Kafka",
    "strimzi.io/name": "nudge-kafka-exporter",
    "strimzi.io/component-type": "kafka-exporter",
}
"""The labels Strimzi gives the Kafka Exporter's pods of cluster `nudge`."""
KAFKA_EXPORTER_PORT: Final = 9404
"""Where the exporter serves /metrics (Strimzi's port `tcp-prometheus`)."""


def _denies_by_default(policies: Sequence[Manifest]) -> bool:
    return any(
        not _dict(_dict(p.get("spec")).get("podSelector"))
        and "Ingress" in _list(_dict(p.get("spec")).get("policyTypes"))
        and not _list(_dict(p.get("spec")).get("ingress"))
        for p in policies
    )


def check_kafka_exporter_reachable(objects: Sequence[Manifest]) -> list[str]:
    """Where ingress is denied by default and an alert reads the Kafka Exporter's metrics, a
    NetworkPolicy lets Prometheus reach the exporter's pods (by Strimzi's labels) on its
    port: else the lag and dead-letter alerts see no data and never fire."""
    policies = of_kind(objects, "NetworkPolicy")
    reads_exporter = any(
        metric_names(str(rule.get("expr", ""))) & set(EXTERNAL_METRICS)
        for _rules, rule in _alerts(objects)
    )
    if not reads_exporter or not _denies_by_default(policies):
        return []
    for policy in policies:
        spec = _dict(policy.get("spec"))
        if not matches(_dict(spec.get("podSelector")), KAFKA_EXPORTER_LABELS):
            continue
        for rule in _list(spec.get("ingress")):
            peers = [_peer_key(_dict(peer)) for peer in _list(_dict(rule).get("from"))]
            ports = [_dict(port).get("port") for port in _list(_dict(rule).get("ports"))]
            reaches_port = not ports or any(
                port in (None, KAFKA_EXPORTER_PORT, "tcp-prometheus") for port in ports
            )
            if (not peers or _peer_key(PROMETHEUS_PEER) in peers) and reaches_port:
                return []
    return [
        "NetworkPolicy/*: none lets Prometheus reach the Kafka Exporter's pods "
        f"({', '.join(f'{k}={v}' for k, v in KAFKA_EXPORTER_LABELS.items())}) on "
        f"{KAFKA_EXPORTER_PORT}, whose metrics the alerts read (platform/<env>/network.yaml)"
    ]


def check_no_secret_data(objects: Sequence[Manifest]) -> list[str]:
    """Secrets are referenced by name only: the manifests carry none."""
    return [
        f"{ref(s)}: a Secret in the manifests (reference it by name)"
        for s in of_kind(objects, "Secret")
    ]


# --- Alerts ----------------------------------------------------------------------------------


def _metric_modules() -> list[str]:
    files = sorted((ROOT / "services").rglob("metrics.py")) + sorted(
        (ROOT / "shared").rglob("metrics.py")
    )
    return [".".join(f.relative_to(ROOT).with_suffix("").parts) for f in files]


@cache
def known_metrics() -> frozenset[str]:
    """Every sample name the services' Prometheus metrics expose (a counter's `_total`, a
    histogram's `_bucket`, `_sum`, `_count`...), from their metrics modules."""
    names: set[str] = set()
    suffixes = {
        "counter": ("_total", "_created"),
        "gauge": ("",),
        "histogram": ("_bucket", "_sum", "_count", "_created"),
        "summary": ("", "_sum", "_count", "_created"),
        "info": ("_info",),
    }
    from prometheus_client.metrics import MetricWrapperBase

    for module_name in _metric_modules():
        module = import_module(module_name)
        for value in vars(module).values():
            if isinstance(value, MetricWrapperBase):
                for family in value.describe():
                    names |= {family.name + s for s in suffixes.get(family.type, ("",))}
    return frozenset(names)


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads (functions, keywords, labels left out)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    found = set()
    for match in re.finditer(r"(?<![\w.])[A-Za-z_:][A-Za-z0-9_:]*", text):
        word = match.group(0)
        if word in PROMQL_WORDS or text[match.end() :].lstrip().startswith("("):
            continue
        found.add(word)
    return found


def _alerts(objects: Sequence[Manifest]) -> Iterator[tuple[Manifest, dict[str, Any]]]:
    for rule_set in of_kind(objects, "PrometheusRule"):
        for group in _list(_dict(rule_set.get("spec")).get("groups")):
            for rule in _list(_dict(group).get("rules")):
                yield rule_set, _dict(rule)


def check_alert_metrics_exist(objects: Sequence[Manifest]) -> list[str]:
    """Every metric an alert or recording rule reads is one of ours (services/**/metrics.py)
    or an exporter's the platform runs (EXTERNAL_METRICS): a renamed metric would silence it."""
    problems = []
    known = known_metrics()
    for rule_set, rule in _alerts(objects):
        name = rule.get("alert") or rule.get("record")
        for metric in sorted(metric_names(str(rule.get("expr", "")))):
            if metric not in known and metric not in EXTERNAL_METRICS:
                problems.append(
                    f"{ref(rule_set)}: {name} reads {metric}, which no metrics module defines "
                    "and no known exporter exposes"
                )
    return problems


def check_alerts_are_actionable(objects: Sequence[Manifest]) -> list[str]:
    """Every alert waits (`for`), has a severity, a summary, a description and a runbook
    section in deploy/README.md."""
    problems = []
    for rule_set, rule in _alerts(objects):
        if "alert" not in rule:
            continue
        where = f"{ref(rule_set)}: alert {rule['alert']}"
        annotations = _dict(rule.get("annotations"))
        if "for" not in rule:
            problems.append(f"{where} has no `for`")
        if _dict(rule.get("labels")).get("severity") not in SEVERITIES:
            problems.append(f"{where} has no severity ({', '.join(sorted(SEVERITIES))})")
        for key in ("summary", "description"):
            if not str(annotations.get(key, "")).strip():
                problems.append(f"{where} has no {key}")
        runbook = str(annotations.get("runbook_url", ""))
        if not runbook.startswith(RUNBOOK) or len(runbook) == len(RUNBOOK):
            problems.append(f"{where}: runbook_url is not a section of {RUNBOOK}")
    return problems


WORKLOAD_CHECKS: Final[tuple[Check, ...]] = (
    check_probes,
    check_probe_ports,
    check_listen_settings,
    check_no_faust_web_port,
    check_resources,
    check_security_contexts,
    check_writable_tmp,
    check_setting_paths_are_mounted,
    check_settings_are_known,
    check_whole_secrets_have_one_reader,
    check_disruption_budgets,
    check_autoscaling_within_partitions,
    check_keda_hosts_qualified,
    check_commands,
    check_migration_job,
    check_database_users_wait_for_schema,
    check_stream_workers,
    check_services_and_monitors,
    check_ingress,
    check_network_policies,
    check_kafka_exporter_reachable,
    check_no_secret_data,
    check_alert_metrics_exist,
    check_alerts_are_actionable,
)
"""The workload checks `python -m deploy.checks` runs (deploy/checks/__init__.py)."""
