"""Strict validation: built-in kinds by their Kubernetes schemas, custom resources by ours."""

from __future__ import annotations

from typing import Any

import pytest

from deploy.checks.custom_resources import CUSTOM_RESOURCES
from deploy.checks.render import K8S_ROOT
from deploy.checks.schema import (
    MINIMUM_KUBERNETES,
    check_schemas,
    kubernetes_versions,
    validation_errors,
)
from deploy.k8s_resources import kafka_topics, kafka_users
from tests.support.kustomize import rendered


def _deployment(**container: Any) -> dict[str, Any]:
    labels = {"app": "x"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "x"},
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "x", "image": "nudge", **container}]},
            },
        },
    }


def _scaled_object(**metadata: str) -> dict[str, Any]:
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": "x"},
        "spec": {
            "scaleTargetRef": {"name": "x"},
            "maxReplicaCount": 12,
            "triggers": [{"type": "kafka", "metadata": metadata}],
        },
    }


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_the_overlays_validate(overlay: str) -> None:
    assert check_schemas(rendered(overlay)) == []


def test_the_generated_kafka_resources_validate() -> None:
    assert check_schemas([*kafka_topics(), *kafka_users()]) == []


def test_schemas_of_the_oldest_supported_and_the_newest_kubernetes() -> None:
    versions = kubernetes_versions()
    assert versions[0].startswith(f"{MINIMUM_KUBERNETES}.")
    assert len(versions) <= 2


def test_the_oldest_validated_is_the_oldest_the_base_supports() -> None:
    """The base names the Kubernetes it needs; validating a newer one only would let a field
    that version added slip through."""
    text = (K8S_ROOT / "base" / "kustomization.yaml").read_text(encoding="utf-8")
    assert f"Kubernetes {MINIMUM_KUBERNETES} or later" in text


def test_a_valid_deployment_passes() -> None:
    assert validation_errors(_deployment(imagePullPolicy="IfNotPresent")) == []


def test_a_misspelled_field_fails() -> None:
    problems = validation_errors(_deployment(imagePullPolicyy="IfNotPresent"))
    assert len(problems) == 1
    assert "spec.template.spec.containers[0]" in problems[0]
    assert "'imagePullPolicyy' was unexpected" in problems[0]


def test_every_problem_of_an_object_is_reported() -> None:
    deployment = _deployment(imagePullPolicyy="IfNotPresent")
    deployment["spec"]["replica"] = 2
    problems = check_schemas([deployment])
    assert any("'replica' was unexpected" in p for p in problems)
    assert any("'imagePullPolicyy' was unexpected" in p for p in problems)
    assert all(p.startswith("Deployment/x: ") for p in problems)


def test_a_wrong_type_fails() -> None:
    problems = validation_errors(_deployment(ports=[{"containerPort": "http"}]))
    assert problems and "containerPort" in problems[0]


def test_a_kind_without_any_schema_fails() -> None:
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    problems = validation_errors(widget)
    assert problems and "no schema for example.com/v1 Widget" in problems[0]


def test_custom_resources_are_checked_field_by_field() -> None:
    topic = kafka_topics()[0]
    topic["spec"]["partitons"] = topic["spec"].pop("partitions")
    problems = validation_errors(topic)
    assert problems == [
        "spec: unknown field 'partitons' (known: config, partitions, replicas, topicName)"
    ]


def test_custom_resources_have_typed_fields() -> None:
    topic = kafka_topics()[0]
    topic["spec"]["partitions"] = "12"
    assert validation_errors(topic) == ["spec.partitions: expected integer, got '12'"]


def test_custom_resource_enums_and_required_fields() -> None:
    user = kafka_users()[0]
    user["spec"]["authorization"]["acls"][0]["operations"] = ["Reed"]
    del user["spec"]["authorization"]["type"]
    problems = validation_errors(user)
    assert "spec.authorization: missing required field 'type'" in problems
    assert any("operations[0]: 'Reed' is not one of" in p for p in problems)


def test_custom_resources_metadata_is_kubernetes_strict() -> None:
    topic = kafka_topics()[0]
    topic["metadata"]["lables"] = topic["metadata"].pop("labels")
    problems = validation_errors(topic)
    assert len(problems) == 1 and "'lables' was unexpected" in problems[0]


def test_custom_resources_parts_use_kubernetes_definitions() -> None:
    topic_resources = {"requests": {"cpu": "1"}, "limit": {"memory": "1Gi"}}
    pool = {
        "apiVersion": "kafka.strimzi.io/v1",
        "kind": "KafkaNodePool",
        "metadata": {"name": "p"},
        "spec": {
            "replicas": 1,
            "roles": ["broker"],
            "storage": {"type": "ephemeral"},
            "resources": topic_resources,
        },
    }
    problems = validation_errors(pool)
    assert len(problems) == 1 and problems[0].startswith("spec.resources: ")
    assert "'limit' was unexpected" in problems[0]


def test_keda_kafka_trigger_metadata_keys_are_checked() -> None:
    good = _scaled_object(bootstrapServers="b:9093", consumerGroup="g", lagThreshold="10")
    assert validation_errors(good) == []
    bad = _scaled_object(bootstrapServers="b:9093", consumerGroup="g", lagThreshhold="10")
    problems = validation_errors(bad)
    assert len(problems) == 1
    assert "spec.triggers[0].metadata: unknown kafka scaler key 'lagThreshhold'" in problems[0]


def test_keda_trigger_metadata_values_are_strings() -> None:
    problems = validation_errors(_scaled_object(lagThreshold=10))  # type: ignore[arg-type]
    assert problems == ["spec.triggers[0].metadata.lagThreshold: expected string, got 10"]


def test_every_custom_kind_has_a_shape_for_its_spec() -> None:
    assert {kind for _, kind in CUSTOM_RESOURCES} >= {
        "Kafka",
        "KafkaNodePool",
        "KafkaTopic",
        "KafkaUser",
        "Cluster",
        "ScheduledBackup",
        "ObjectStore",
        "ScaledObject",
        "TriggerAuthentication",
        "ServiceMonitor",
        "PodMonitor",
        "PrometheusRule",
    }
