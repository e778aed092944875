"""The Kafka checks: topics named anywhere are declared, the generated KafkaTopics and
KafkaUsers are what renders, the dev cluster fits them, and each client is who it should be."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from deploy.checks.kafka import (
    KAFKA_CHECKS,
    check_kafka_clients,
    check_kafka_topics_generated,
    check_kafka_users_generated,
    check_strimzi_cluster,
    check_topics_declared,
)
from deploy.checks.render import Manifest
from tests.support.kustomize import broken_copy, find, overlay_objects, rendered

PLATFORM_ONLY = """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: nudge-dev
resources:
  - ../../base/kafka
  - ../../platform/dev
components:
  - ../../components/single-broker
"""


def _platform_only(root: Path) -> None:
    (root / "overlays" / "platform-only").mkdir(parents=True, exist_ok=True)
    (root / "overlays" / "platform-only" / "kustomization.yaml").write_text(PLATFORM_ONLY)


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> list[Manifest]:
    """The generated Kafka resources and the dev platform, as the dev overlay combines them."""
    root = broken_copy(tmp_path_factory.mktemp("k8s"), _platform_only)
    return overlay_objects(root, "platform-only")


@pytest.fixture
def objects(platform: list[Manifest]) -> list[Manifest]:
    return copy.deepcopy(platform)


def _client(name: str = "ingest", username: str = "nudge-ingest", **env: str) -> Manifest:
    settings = {
        "KAFKA_BOOTSTRAP_SERVERS": "nudge-kafka-bootstrap:9093",
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "KAFKA_SSL_CAFILE": "/etc/nudge/kafka-ca/ca.crt",
        "KAFKA_SASL_USERNAME": username,
        **env,
    }
    entries: list[dict[str, Any]] = [{"name": k, "value": v} for k, v in settings.items()]
    entries.append(
        {
            "name": "KAFKA_SASL_PASSWORD",
            "valueFrom": {"secretKeyRef": {"name": username, "key": "password"}},
        }
    )
    labels = {"app.kubernetes.io/name": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": name, "image": "nudge", "env": entries}]},
            },
        },
    }


def _scaled(topic: str, group: str) -> Manifest:
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": "dispatch-intake"},
        "spec": {
            "scaleTargetRef": {"name": "dispatch-intake"},
            "triggers": [{"type": "kafka", "metadata": {"topic": topic, "consumerGroup": group}}],
        },
    }


def _topic(objects: list[Manifest], topic: str) -> Manifest:
    return next(o for o in objects if o["kind"] == "KafkaTopic" and o["spec"]["topicName"] == topic)


def _run_all(objects: list[Manifest]) -> list[str]:
    return [problem for check in KAFKA_CHECKS for problem in check(objects)]


def test_the_platform_and_generated_resources_pass(objects: list[Manifest]) -> None:
    assert _run_all([*objects, _client(), _scaled("triggers.fired.v1", "nudge-dispatch")]) == []


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_the_overlays_pass(overlay: str) -> None:
    assert _run_all(rendered(overlay)) == []


def test_an_undeclared_topic_in_an_env_value_is_found(objects: list[Manifest]) -> None:
    problems = check_topics_declared([*objects, _client(NUDGE_SOMETHING="shop.evnets.v1")])
    assert problems == [
        "Deployment/ingest: container ingest env NUDGE_SOMETHING names topic 'shop.evnets.v1', "
        "which shared/topics.py does not declare"
    ]


def test_every_name_of_a_topic_setting_is_checked(objects: list[Manifest]) -> None:
    client = _client(NUDGE_EXTRA_TOPICS="shop.events.v1, audit")
    assert [p.split(" names topic ")[1] for p in check_topics_declared([*objects, client])] == [
        "'audit', which shared/topics.py does not declare"
    ]


def test_an_undeclared_kafka_topic_is_found(objects: list[Manifest]) -> None:
    _topic(objects, "shop.events.v1")["spec"]["topicName"] = "shop.evnets.v1"
    problems = check_topics_declared(objects)
    assert len(problems) == 1 and "KafkaTopic/shop-events-v1: spec.topicName" in problems[0]
    assert "'shop.evnets.v1'" in problems[0]
    missing = check_kafka_topics_generated(objects)
    assert missing == [
        "KafkaTopic/shop-events-v1: missing from the render (deploy/k8s/base/kafka is generated "
        "by `python -m deploy.k8s_resources`)"
    ]


def test_undeclared_topics_in_keda_args_and_acls_are_found(objects: list[Manifest]) -> None:
    client = _client()
    client["spec"]["template"]["spec"]["containers"][0]["args"] = ["tail", "segments.chnages.v1"]
    user = find(objects, "KafkaUser", "nudge-ingest")
    user["spec"]["authorization"]["acls"][0]["resource"]["name"] = "shop.event.v1"
    problems = check_topics_declared([*objects, client, _scaled("triggers.fire.v1", "x")])
    assert [p.split(": ")[0] for p in problems] == [
        "KafkaUser/nudge-ingest",
        "Deployment/ingest",
        "ScaledObject/dispatch-intake",
    ]
    assert "'segments.chnages.v1'" in problems[1] and "'triggers.fire.v1'" in problems[2]


def test_topics_in_alert_expressions_are_checked(objects: list[Manifest]) -> None:
    expr = (
        'increase(kafka_topic_partition_current_offset{topic="messages.dlq.v1"}[5m]) > 0 or '
        'kafka_consumergroup_lag{topic=~".*\\.dlq\\.v1"} or x{topic="message.dlq.v1"}'
    )
    rule = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": "nudge"},
        "spec": {"groups": [{"name": "g", "rules": [{"alert": "A", "expr": expr}]}]},
    }
    assert check_topics_declared([*objects, rule]) == [
        "PrometheusRule/nudge: spec.groups[0].rules[0].expr names topic 'message.dlq.v1', "
        "which shared/topics.py does not declare"
    ]


def test_settings_about_other_kinds_of_topic_are_left_alone(objects: list[Manifest]) -> None:
    arns = "arn:aws:sns:eu-west-1:123456789012:bounces"
    assert check_topics_declared([*objects, _client(NUDGE_FEEDBACK_SNS_TOPIC_ARNS=arns)]) == []


def test_faust_apps_own_topics_are_declared(objects: list[Manifest]) -> None:
    client = _client(NUDGE_X_TOPIC="nudge-triggers-__assignor-__leader")
    assert check_topics_declared([*objects, client]) == []


def test_a_topic_prefix_acl_outside_the_faust_apps_is_found(objects: list[Manifest]) -> None:
    user = find(objects, "KafkaUser", "nudge-dispatch")
    acl = {"resource": {"type": "topic", "name": "shop.", "patternType": "prefix"}}
    user["spec"]["authorization"]["acls"].append({**acl, "operations": ["Read"]})
    problems = check_topics_declared(objects)
    assert len(problems) == 1 and "topic prefix 'shop.'" in problems[0]


def test_partitions_and_settings_are_the_declared_ones(objects: list[Manifest]) -> None:
    topic = _topic(objects, "triggers.fired.v1")
    topic["spec"]["partitions"] = 24
    topic["spec"]["config"]["retention.ms"] = "1000"
    assert check_kafka_topics_generated(objects) == [
        "KafkaTopic/triggers-fired-v1: 24 partitions, shared/topics.py declares 12 "
        "(partitions are never changed by hand)",
        "KafkaTopic/triggers-fired-v1: config retention.ms is '1000', the declaration says "
        "'1209600000'",
    ]


def test_the_single_broker_component_fits_the_dev_cluster(objects: list[Manifest]) -> None:
    topics = [o for o in objects if o["kind"] == "KafkaTopic"]
    assert {t["spec"]["replicas"] for t in topics} == {1}
    assert {t["spec"]["config"]["min.insync.replicas"] for t in topics} == {"1"}


def test_production_replication_on_one_broker_is_found(objects: list[Manifest]) -> None:
    topic = _topic(objects, "conversions.v1")
    topic["spec"]["replicas"] = 3
    topic["spec"]["config"]["min.insync.replicas"] = "4"
    problems = check_kafka_topics_generated(objects)
    assert problems == [
        "KafkaTopic/conversions-v1: min.insync.replicas 4 with 3 replicas: acks=all writes "
        "could never succeed",
        "KafkaTopic/conversions-v1: 3 replicas on a cluster of 1 broker(s) (include "
        "deploy/k8s/components/single-broker for a one-broker cluster)",
    ]


def test_users_have_exactly_the_generated_acls(objects: list[Manifest]) -> None:
    user = find(objects, "KafkaUser", "nudge-analysts")
    user["spec"]["authorization"]["acls"][1]["operations"].append("Write")
    del find(objects, "KafkaUser", "nudge-ingest")["spec"]["authorization"]["acls"][0]
    objects.remove(find(objects, "KafkaUser", "nudge-operators"))
    problems = check_kafka_users_generated(objects)
    assert problems[0].startswith("KafkaUser/nudge-operators: missing from the render")
    assert problems[1] == (
        "KafkaUser/nudge-analysts: ACLs beyond its declaration: "
        "allow Write on topic literal 'conversions.v1'"
    )
    assert problems[2] == (
        "KafkaUser/nudge-ingest: declared ACLs missing: allow Describe on topic literal "
        "'shop.events.v1'; allow Write on topic literal 'shop.events.v1'"
    )
    assert len(problems) == 3


def test_an_unknown_user_is_found(objects: list[Manifest]) -> None:
    extra = copy.deepcopy(find(objects, "KafkaUser", "nudge-analysts"))
    extra["metadata"]["name"] = "nudge-admin"
    assert check_kafka_users_generated([*objects, extra]) == [
        "KafkaUser/nudge-admin: no principal of shared/topic_access.py is called so"
    ]


def test_the_dev_cluster_offers_what_clients_use(objects: list[Manifest]) -> None:
    assert check_strimzi_cluster(objects) == []
    kafka = find(objects, "Kafka", "nudge")
    kafka["spec"]["kafka"]["listeners"][0]["authentication"]["type"] = "tls"
    del kafka["spec"]["kafkaExporter"]
    find(objects, "KafkaTopic")["metadata"]["labels"]["strimzi.io/cluster"] = "other"
    problems = check_strimzi_cluster(objects)
    assert problems == [
        "KafkaTopic/conversions-dlq-v1: label strimzi.io/cluster is 'other', not 'nudge'",
        "Kafka/nudge: the listener on 9093 must authenticate scram-sha-512",
        "Kafka/nudge: kafkaExporter is missing (the consumer lag alerts read its metrics)",
    ]


def test_a_service_connects_as_itself(objects: list[Manifest]) -> None:
    problems = check_kafka_clients([*objects, _client("feedback", "nudge-analysts")])
    assert problems == [
        "Deployment/feedback: container feedback: connects as 'nudge-analysts', but feedback's "
        "identity is 'nudge-feedback'"
    ]


def test_client_settings_must_match_the_cluster(objects: list[Manifest]) -> None:
    client = _client(KAFKA_BOOTSTRAP_SERVERS="kafka:9092", KAFKA_SECURITY_PROTOCOL="SSL")
    env = client["spec"]["template"]["spec"]["containers"][0]["env"]
    env[-1]["valueFrom"]["secretKeyRef"]["name"] = "nudge-dispatch"
    problems = check_kafka_clients([*objects, client])
    assert [p.split(": ", 2)[2] for p in problems] == [
        "KAFKA_SECURITY_PROTOCOL is 'SSL', the cluster wants 'SASL_SSL'",
        "KAFKA_BOOTSTRAP_SERVERS 'kafka:9092' is not nudge-kafka-bootstrap:9093",
        "KAFKA_SASL_PASSWORD must come from Secret 'nudge-ingest' key 'password' (Strimzi "
        "writes it for the KafkaUser)",
    ]


def test_keda_consumer_groups_are_declared(objects: list[Manifest]) -> None:
    problems = check_kafka_clients([*objects, _scaled("triggers.fired.v1", "dispatch")])
    assert len(problems) == 1
    assert "consumerGroup 'dispatch' is no consumer group of shared/topic_access.py" in problems[0]


def _authenticated(
    topic: str, group: str, domain: str, secret: str
) -> tuple[Manifest, dict[str, Any], Manifest]:
    """A lag trigger on `topic` for `group`, reaching Kafka in `domain` with the password of
    the Secret `secret` (through a TriggerAuthentication `lag`): the ScaledObject, its
    trigger and the authentication."""
    scaled = _scaled(topic, group)
    trigger = scaled["spec"]["triggers"][0]
    trigger["metadata"]["bootstrapServers"] = f"nudge-kafka-bootstrap.{domain}:9093"
    trigger["authenticationRef"] = {"name": "lag"}
    auth: Manifest = {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "TriggerAuthentication",
        "metadata": {"name": "lag"},
        "spec": {"secretTargetRef": [{"parameter": "password", "name": secret, "key": "password"}]},
    }
    return scaled, trigger, auth


def test_a_faust_app_rebuilt_under_a_new_app_id_scales_on_its_new_group(
    objects: list[Manifest],
) -> None:
    """The runbook's rebuild: `nudge-triggers-p24`, covered by the triggers' group prefix."""
    scaled, _trigger, auth = _authenticated(
        "shop.events.v1", "nudge-triggers-p24", "nudge.svc", "nudge-triggers"
    )
    assert check_kafka_clients([*objects, scaled, auth]) == []
    auth["spec"]["secretTargetRef"][0]["name"] = "nudge-segmenter"
    assert check_kafka_clients([*objects, scaled, auth]) == [
        "ScaledObject/dispatch-intake: spec.triggers[0]: TriggerAuthentication lag authenticates "
        "with Secret 'nudge-segmenter', whose KafkaUser may not read group 'nudge-triggers-p24' "
        "(may: nudge-triggers)",
    ]


def test_keda_reads_the_lag_as_a_user_allowed_to(objects: list[Manifest]) -> None:
    scaled, trigger, auth = _authenticated(
        "triggers.fired.v1", "nudge-dispatch", "nudge-dev.svc", "nudge-dispatch"
    )
    assert check_kafka_clients([*objects, scaled, auth]) == []
    auth["spec"]["secretTargetRef"][0]["name"] = "nudge-ingest"
    trigger["metadata"]["bootstrapServers"] = "kafka:9092"
    assert check_kafka_clients([*objects, scaled, auth]) == [
        "ScaledObject/dispatch-intake: spec.triggers[0].metadata.bootstrapServers 'kafka:9092' "
        "is not nudge-kafka-bootstrap:9093",
        "ScaledObject/dispatch-intake: spec.triggers[0]: TriggerAuthentication lag authenticates "
        "with Secret 'nudge-ingest', whose KafkaUser may not read group 'nudge-dispatch' "
        "(may: nudge-dispatch)",
    ]
