"""The workload checks of `make deploy-check` (deploy/checks/workloads.py): each passes on both
overlays as committed, and each finds the problem in a copy broken on purpose, edited in the
rendered objects or, for the acceptance cases, in the Kustomize files themselves."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from deploy.checks import CHECKS
from deploy.checks.render import Manifest
from deploy.checks.workloads import (
    WORKLOAD_CHECKS,
    check_alert_metrics_exist,
    check_alerts_are_actionable,
    check_autoscaling_within_partitions,
    check_commands,
    check_database_users_wait_for_schema,
    check_disruption_budgets,
    check_ingress,
    check_kafka_exporter_reachable,
    check_keda_hosts_qualified,
    check_listen_settings,
    check_migration_job,
    check_network_policies,
    check_no_faust_web_port,
    check_no_secret_data,
    check_probe_ports,
    check_probes,
    check_resources,
    check_security_contexts,
    check_services_and_monitors,
    check_setting_paths_are_mounted,
    check_settings_are_known,
    check_stream_workers,
    check_whole_secrets_have_one_reader,
    check_writable_tmp,
    known_metrics,
    metric_names,
)
from tests.support.kustomize import broken_copy, overlay_objects, rendered, replace_in
from tests.support.stack import ROOT

OVERLAYS = ("dev", "prod")
DOCKERFILE = ROOT / "deploy" / "Dockerfile"


def find(objects: list[Manifest], kind: str, name: str) -> Manifest:
    (found,) = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    return found


def container(objects: list[Manifest], kind: str, name: str, index: int = 0) -> dict[str, Any]:
    spec: dict[str, Any] = find(objects, kind, name)["spec"]["template"]["spec"]
    return spec["containers"][index]  # type: ignore[no-any-return]


def only(problems: list[str], *needles: str) -> None:
    """There are problems, and each names all of `needles`."""
    assert problems, "the broken copy was not noticed"
    for problem in problems:
        assert all(needle in problem for needle in needles), problem


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("check", WORKLOAD_CHECKS, ids=lambda check: check.__name__)
def test_the_committed_overlays_pass(
    overlay: str, check: Callable[[list[Manifest]], list[str]]
) -> None:
    assert check(rendered(overlay)) == []


def test_deploy_check_runs_every_workload_check() -> None:
    assert set(WORKLOAD_CHECKS) <= set(CHECKS)


# --- The acceptance cases, broken in the files ----------------------------------------------


def test_a_probe_on_a_port_the_container_does_not_open_fails(tmp_path: Path) -> None:
    root = broken_copy(
        tmp_path,
        replace_in(
            "base/ingest/deployment.yaml",
            "              path: /readyz\n              port: http",
            "              path: /readyz\n              port: 8081",
        ),
    )
    only(check_probe_ports(overlay_objects(root, "dev")), "Deployment/ingest", "8081", "readiness")


def test_a_keda_maximum_above_the_partition_count_fails(tmp_path: Path) -> None:
    root = broken_copy(
        tmp_path,
        replace_in("base/triggers/scaledobject.yaml", "maxReplicaCount: 12", "maxReplicaCount: 13"),
    )
    problems = check_autoscaling_within_partitions(overlay_objects(root, "prod"))
    only(problems, "ScaledObject/triggers", "13", "12 partitions")


def test_a_misspelled_setting_fails(tmp_path: Path) -> None:
    """The SRE review's case: the segmenter set NUDGE_SEGMENTER_CAMPAIGNS_DIR, which no setting
    reads (its folder is segments_dir), and kept its default, no segments."""
    root = broken_copy(
        tmp_path,
        replace_in(
            "base/segmenter/statefulset.yaml",
            "- name: NUDGE_SEGMENTER_SEGMENTS_DIR",
            "- name: NUDGE_SEGMENTER_CAMPAIGNS_DIR",
        ),
    )
    only(
        check_settings_are_known(overlay_objects(root, "prod")),
        "StatefulSet/segmenter",
        "NUDGE_SEGMENTER_CAMPAIGNS_DIR",
    )


def test_a_misspelled_key_of_the_shared_configmap_fails(tmp_path: Path) -> None:
    root = broken_copy(
        tmp_path,
        replace_in(
            "overlays/prod/kustomization.yaml",
            "- NUDGE_TRIGGERS_STANDBY_REPLICAS=1",
            "- NUDGE_TRIGGERS_STANDBY_REPLICA=1",
        ),
    )
    problems = check_settings_are_known(overlay_objects(root, "prod"))
    only(problems, "NUDGE_TRIGGERS_STANDBY_REPLICA,")
    assert any("StatefulSet/triggers" in p for p in problems)


def test_a_secret_loaded_whole_and_read_by_another_workload_fails(tmp_path: Path) -> None:
    """The SRE review's case: feedback read its webhook token out of the senders' nudge-twilio,
    whose keys are the senders' settings (an API key there is refused beside a token)."""
    root = broken_copy(
        tmp_path,
        replace_in(
            "base/feedback/deployment.yaml",
            "                  name: nudge-twilio-webhook\n",
            "                  name: nudge-twilio\n",
        ),
    )
    only(
        check_whole_secrets_have_one_reader(overlay_objects(root, "dev")),
        "Deployment/dispatch-sender",
        "nudge-twilio",
        "Deployment/feedback",
    )


def test_a_keda_trigger_on_a_short_host_name_fails(tmp_path: Path) -> None:
    """KEDA's operator runs in namespace `keda`: `nudge-kafka-bootstrap` does not resolve there."""
    root = broken_copy(
        tmp_path,
        replace_in(
            "base/segmenter/scaledobject.yaml",
            "bootstrapServers: nudge-kafka-bootstrap.NAMESPACE.svc:9093",
            "bootstrapServers: nudge-kafka-bootstrap:9093",
        ),
    )
    only(
        check_keda_hosts_qualified(overlay_objects(root, "prod")),
        "ScaledObject/segmenter",
        "'nudge-kafka-bootstrap'",
    )


def test_the_keda_bootstrap_names_each_overlays_namespace() -> None:
    for overlay, namespace in (("dev", "nudge-dev"), ("prod", "nudge")):
        objects = rendered(overlay)
        servers = {
            trigger["metadata"]["bootstrapServers"]
            for scaled in objects
            if scaled["kind"] == "ScaledObject"
            for trigger in scaled["spec"]["triggers"]
            if trigger["type"] == "kafka"
        }
        assert servers == {f"nudge-kafka-bootstrap.{namespace}.svc:9093"}


def test_a_keda_trigger_left_with_the_namespace_placeholder_fails() -> None:
    objects = rendered("dev")
    scaled = find(objects, "ScaledObject", "triggers")
    scaled["spec"]["triggers"][0]["metadata"]["bootstrapServers"] = (
        "nudge-kafka-bootstrap.NAMESPACE.svc:9093"
    )
    scaled["spec"]["triggers"].append(
        {"type": "postgresql", "metadata": {"host": "nudge-db-rw", "query": "SELECT 1"}}
    )
    problems = check_keda_hosts_qualified(objects)
    assert len(problems) == 2
    only(problems, "ScaledObject/triggers")


def test_prometheus_kept_from_the_kafka_exporter_fails(tmp_path: Path) -> None:
    """The SRE review's case: prod had no policy for the exporter of the SREs' Kafka, which
    runs in the namespace the base closes; the lag alerts saw nothing."""
    root = broken_copy(
        tmp_path,
        replace_in(
            "platform/prod/network.yaml",
            "      strimzi.io/name: nudge-kafka-exporter\n",
            "      strimzi.io/name: another-exporter\n",
        ),
    )
    only(check_kafka_exporter_reachable(overlay_objects(root, "prod")), "Kafka Exporter", "9404")


def test_a_migration_that_does_not_wait_for_postgres_fails() -> None:
    objects = rendered("dev")
    del find(objects, "Job", "migrate-dev")["spec"]["template"]["spec"]["initContainers"]
    only(check_migration_job(objects), "Job/migrate-dev", "nudge wait postgres")


def test_a_migration_run_before_the_database_exists_fails(tmp_path: Path) -> None:
    """The SRE review's case: as an Argo CD PreSync hook the Job ran before anything else,
    the database included, on a first install."""
    root = broken_copy(
        tmp_path,
        replace_in(
            "base/migrate/job.yaml",
            "argocd.argoproj.io/hook: Sync\n",
            "argocd.argoproj.io/hook: PreSync\n",
        ),
    )
    only(check_migration_job(overlay_objects(root, "prod")), "Job/migrate-0.1.0", "PreSync")


def _migration_in_wave(wave: str) -> list[str]:
    objects = rendered("dev")
    job = find(objects, "Job", "migrate-dev")
    job["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"] = wave
    return check_migration_job(objects)


def test_a_migration_in_the_wave_of_what_it_needs_fails() -> None:
    problems = _migration_in_wave("-2")
    assert len(problems) == 3
    for name in ("Namespace/nudge-dev", "ServiceAccount/nudge", "Cluster/nudge-db"):
        assert any(p.startswith(name) and "not before" in p for p in problems), name


def test_a_migration_in_a_wave_after_the_services_fails() -> None:
    problems = _migration_in_wave("1")
    only(problems, "is before the migration's (1)")
    assert any(p.startswith("StatefulSet/triggers") for p in problems)


# --- Each check against a broken copy of the rendered objects --------------------------------


def test_a_workload_without_probes_fails() -> None:
    objects = rendered("dev")
    del container(objects, "StatefulSet", "segmenter")["startupProbe"]
    only(check_probes(objects), "StatefulSet/segmenter", "startupProbe")


def test_a_probe_on_a_port_the_service_does_not_listen_on_fails() -> None:
    objects = rendered("dev")
    triggers = container(objects, "StatefulSet", "triggers")
    triggers["ports"].append({"name": "other", "containerPort": 9000})
    triggers["livenessProbe"]["httpGet"]["port"] = "other"
    only(check_probe_ports(objects), "StatefulSet/triggers", "listens on 8081")


def test_a_service_listening_on_loopback_or_an_undeclared_port_fails() -> None:
    objects = rendered("dev")
    env = container(objects, "Deployment", "feedback")["env"]
    for var in env:
        if var["name"] == "NUDGE_FEEDBACK_HOST":
            var["value"] = "127.0.0.1"
        if var["name"] == "NUDGE_FEEDBACK_PORT":
            var["value"] = "9999"
    problems = check_listen_settings(objects)
    assert len(problems) == 2
    only(problems, "Deployment/feedback")


def test_opening_fausts_web_port_fails() -> None:
    objects = rendered("dev")
    container(objects, "StatefulSet", "segmenter")["ports"].append({"containerPort": 6066})
    only(check_no_faust_web_port(objects), "StatefulSet/segmenter", "6066")


def test_a_workload_without_a_memory_limit_or_with_a_cpu_limit_fails() -> None:
    objects = rendered("prod")
    del container(objects, "StatefulSet", "segmenter")["resources"]["limits"]
    container(objects, "Deployment", "ingest")["resources"]["limits"]["cpu"] = "1"
    problems = check_resources(objects)
    assert any("StatefulSet/segmenter" in p and "no memory limit" in p for p in problems)
    assert any("Deployment/ingest" in p and "CPU limit" in p for p in problems)


def test_an_init_container_without_requests_fails() -> None:
    objects = rendered("dev")
    spec = find(objects, "Deployment", "ingest")["spec"]["template"]["spec"]
    del spec["initContainers"][0]["resources"]["requests"]
    only(check_resources(objects), "Deployment/ingest", "db-wait", "requests no")


def test_a_workload_without_its_security_context_fails() -> None:
    objects = rendered("dev")
    del container(objects, "Deployment", "feedback")["securityContext"]
    problems = check_security_contexts(objects)
    only(problems, "Deployment/feedback")
    for what in ("allowPrivilegeEscalation", "readOnlyRootFilesystem", "ALL capabilities"):
        assert any(what in p for p in problems)


def test_a_pod_running_as_root_without_seccomp_fails() -> None:
    objects = rendered("dev")
    pod = find(objects, "Job", "migrate-dev")["spec"]["template"]["spec"]
    del pod["securityContext"]
    del pod["containers"][0]["securityContext"]["runAsUser"]
    problems = check_security_contexts(objects)
    only(problems, "Job/migrate-dev")
    assert any("seccompProfile" in p for p in problems)
    assert any("runAsUser" in p for p in problems)


def test_a_read_only_container_without_a_writable_tmp_fails() -> None:
    objects = rendered("dev")
    mounts = container(objects, "Deployment", "dispatch-sender")["volumeMounts"]
    mounts[:] = [m for m in mounts if m["mountPath"] != "/tmp"]
    only(check_writable_tmp(objects), "Deployment/dispatch-sender", "/tmp")


def test_a_setting_pointing_outside_the_mounts_fails() -> None:
    objects = rendered("dev")
    for var in container(objects, "StatefulSet", "triggers")["env"]:
        if var["name"] == "NUDGE_TRIGGERS_CAMPAIGNS_DIR":
            var["value"] = "/etc/nudge/campaign"
    only(check_setting_paths_are_mounted(objects), "StatefulSet/triggers", "CAMPAIGNS_DIR")


def test_a_workload_missing_its_disruption_budget_fails() -> None:
    objects = [
        o
        for o in rendered("dev")
        if o["kind"] != "PodDisruptionBudget" or o["metadata"]["name"] != "dispatch-sender"
    ]
    only(check_disruption_budgets(objects), "Deployment/dispatch-sender", "PodDisruptionBudget")


def test_a_consumer_scaled_by_cpu_past_its_partitions_fails() -> None:
    objects = rendered("prod")
    find(objects, "HorizontalPodAutoscaler", "feedback")["spec"]["maxReplicas"] = 20
    only(check_autoscaling_within_partitions(objects), "HorizontalPodAutoscaler/feedback", "20")


def test_a_service_that_consumes_nothing_may_scale_past_the_partitions() -> None:
    objects = rendered("prod")
    find(objects, "HorizontalPodAutoscaler", "ingest")["spec"]["maxReplicas"] = 40
    find(objects, "ScaledObject", "dispatch-sender")["spec"]["maxReplicaCount"] = 40
    assert check_autoscaling_within_partitions(objects) == []


def test_replicas_set_beside_an_autoscaler_fail() -> None:
    objects = rendered("dev")
    find(objects, "StatefulSet", "segmenter")["spec"]["replicas"] = 3
    only(check_autoscaling_within_partitions(objects), "StatefulSet/segmenter", "replicas")


def test_a_container_argument_that_is_not_a_nudge_command_fails() -> None:
    objects = rendered("dev")
    container(objects, "StatefulSet", "triggers")["args"] = ["worker", "trigger"]
    only(check_commands(objects), "StatefulSet/triggers", "nudge worker trigger")


def test_an_entry_point_override_or_another_image_fails() -> None:
    objects = rendered("dev")
    sender = container(objects, "Deployment", "dispatch-sender")
    sender["command"] = ["python", "-m", "services.cli"]
    sender["image"] = "busybox:1"
    problems = check_commands(objects)
    assert any("entry point" in p for p in problems)
    assert any("not the nudge image" in p for p in problems)
    assert any("several images" in p for p in problems)


def test_an_image_whose_entry_point_is_not_nudge_fails(tmp_path: Path) -> None:
    text = DOCKERFILE.read_text()
    assert 'ENTRYPOINT ["nudge"]' in text
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(
        text.replace('ENTRYPOINT ["nudge"]', 'ENTRYPOINT ["python", "-m", "services.cli"]')
    )
    objects = rendered("dev")
    assert check_commands(objects) == []
    only(
        check_commands(objects, dockerfile=dockerfile),
        str(dockerfile),
        'ENTRYPOINT is ["python", "-m", "services.cli"], not ["nudge"]',
    )


def test_a_dockerfile_without_an_exec_form_entry_point_fails(tmp_path: Path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(
        DOCKERFILE.read_text().replace('ENTRYPOINT ["nudge"]', "ENTRYPOINT nudge")
    )
    only(check_commands(rendered("dev"), dockerfile=dockerfile), "shell form")


def test_a_migration_job_not_renamed_with_the_release_fails() -> None:
    objects = rendered("prod")
    job = find(objects, "Job", "migrate-0.1.0")
    job["spec"]["template"]["spec"]["containers"][0]["image"] = "registry.example.com/nudge:0.2.0"
    only(check_migration_job(objects), "Job/migrate-0.1.0", "migrate-0.2.0")


def test_a_database_user_that_does_not_wait_for_the_schema_fails() -> None:
    objects = rendered("dev")
    del find(objects, "Deployment", "segmenter-api")["spec"]["template"]["spec"]["initContainers"]
    only(check_database_users_wait_for_schema(objects), "Deployment/segmenter-api", "db wait")


def test_a_faust_worker_without_static_membership_or_its_volume_fails() -> None:
    objects = rendered("dev")
    triggers = find(objects, "StatefulSet", "triggers")
    triggers["spec"]["podManagementPolicy"] = "OrderedReady"
    env = triggers["spec"]["template"]["spec"]["containers"][0]["env"]
    env[:] = [v for v in env if v["name"] != "NUDGE_TRIGGERS_INSTANCE_ID"]
    triggers["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] = "other"
    problems = check_stream_workers(objects)
    only(problems, "StatefulSet/triggers")
    assert len(problems) == 3


def test_a_faust_worker_as_a_deployment_fails() -> None:
    objects = rendered("dev")
    find(objects, "StatefulSet", "segmenter")["kind"] = "Deployment"
    assert any("must be a StatefulSet" in p for p in check_stream_workers(objects))


def test_a_service_monitor_on_a_port_its_service_does_not_name_fails() -> None:
    objects = rendered("dev")
    find(objects, "ServiceMonitor", "triggers")["spec"]["endpoints"][0]["port"] = "http"
    only(check_services_and_monitors(objects), "ServiceMonitor/triggers", "'http'")


def test_an_ingress_route_to_metrics_or_a_private_service_fails() -> None:
    objects = rendered("dev")
    paths = find(objects, "Ingress", "nudge")["spec"]["rules"][0]["http"]["paths"]
    paths.append({**paths[0], "path": "/metrics"})
    paths.append(
        {
            "path": "/v1/segments",
            "pathType": "Prefix",
            "backend": {"service": {"name": "segmenter-api", "port": {"name": "http"}}},
        }
    )
    problems = check_ingress(objects)
    assert any("/metrics" in p for p in problems)
    assert any("segmenter-api" in p for p in problems)


def _policy(name: str, peer: dict[str, Any], port: str, app: str) -> Manifest:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name},
        "spec": {
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": app}},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [peer], "ports": [{"port": port}]}],
        },
    }


def test_a_metrics_port_reachable_from_another_namespace_fails() -> None:
    objects = rendered("dev")
    objects.append(_policy("leak", {"namespaceSelector": {}}, "metrics", "triggers"))
    only(check_network_policies(objects), "NetworkPolicy/leak", "StatefulSet/triggers", "metrics")


def test_the_ingress_controller_reaching_a_worker_fails() -> None:
    objects = rendered("dev")
    controller = {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}
    }
    objects.append(_policy("too-wide", controller, "metrics", "dispatch-intake"))
    only(check_network_policies(objects), "NetworkPolicy/too-wide", "dispatch-intake")


def test_without_a_default_deny_the_namespace_is_open() -> None:
    objects = [o for o in rendered("dev") if o["metadata"]["name"] != "default-deny-ingress"]
    only(check_network_policies(objects), "denies ingress")


def test_a_secret_in_the_manifests_fails() -> None:
    objects = rendered("dev")
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "nudge-smtp"}}
    objects.append({**secret, "stringData": {"NUDGE_SMTP_PASSWORD": "hunter2"}})
    only(check_no_secret_data(objects), "Secret/nudge-smtp")


def test_an_alert_on_a_metric_nobody_exports_fails() -> None:
    objects = rendered("dev")
    rules = find(objects, "PrometheusRule", "nudge")["spec"]["groups"][1]["rules"]
    rules[0]["expr"] = rules[0]["expr"].replace("timer_lateness", "timer_latenes")
    only(check_alert_metrics_exist(objects), "nudge_triggers_timer_latenes_seconds_bucket")


def test_an_alert_without_runbook_or_severity_fails() -> None:
    objects = rendered("dev")
    rule = find(objects, "PrometheusRule", "nudge")["spec"]["groups"][0]["rules"][0]
    del rule["annotations"]["runbook_url"]
    del rule["labels"]["severity"]
    del rule["for"]
    problems = check_alerts_are_actionable(objects)
    assert len(problems) == 3
    only(problems, rule["alert"])


def test_metric_names_are_read_out_of_promql() -> None:
    expr = """
      histogram_quantile(0.99, sum by (le) (rate(a_seconds_bucket{job=~"x.+"}[5m]))) > 1e3
      and on (channel) label_replace(increase(b_total[10m] offset 5m), "service", "c", "", "")
      unless sum without (pod) (c_gauge) > bool 0
    """
    assert metric_names(expr) == {"a_seconds_bucket", "b_total", "c_gauge"}


def test_our_metrics_are_known_with_the_names_prometheus_scrapes() -> None:
    known = known_metrics()
    assert "nudge_ingest_requests_total" in known  # a counter: _total
    assert "nudge_triggers_timer_lateness_seconds_bucket" in known  # a histogram: _bucket
    assert "nudge_dispatch_waiting_messages" in known  # a gauge: as is
