"""Checks that the rendered manifests agree with the Kafka declarations in shared/.

Every topic a manifest names (a KafkaTopic, an ACL, a KEDA trigger, an alert's expression, a
container's environment or arguments, a ConfigMap's settings) must be declared in
shared/topics.py or be a Faust app's own topic; the KafkaTopics and KafkaUsers must be the
generated ones (an overlay may only lower the replication for a smaller cluster); the Strimzi
cluster, when the overlay brings one, must offer what the clients are configured for; and each
service connects as its own KafkaUser.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from functools import cache
from typing import Any, Final

from deploy.checks.render import Manifest, containers, of_kind, ref
from deploy.k8s_resources import CLUSTER, all_topic_specs, kafka_topics, kafka_users, user_name
from shared.topic_access import (
    DISPATCH,
    FEEDBACK,
    INGEST,
    PRINCIPALS,
    SEGMENTER,
    SEGMENTER_API,
    TRIGGERS,
    KafkaPrincipal,
)

TOPIC_LIKE: Final = re.compile(r"^[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)*\.v[0-9]+$")
"""How our topic names look (`<words>.v<version>`): a value of this form is taken for a topic."""
TOPIC_SETTING: Final = re.compile(r"(^|_)TOPICS?$")
"""A setting whose value is a topic or a comma-separated list of them (not `..._TOPIC_ARNS`)."""
PROMQL_TOPIC: Final = re.compile(r'\btopic\s*=\s*"([^"]*)"')
"""An exact `topic="..."` matcher in an alert's expression (regex matchers are not names)."""
CLUSTER_LABEL: Final = "strimzi.io/cluster"
CLIENT_LISTENER_PORT: Final = 9093
BOOTSTRAP_HOST: Final = f"{CLUSTER}-kafka-bootstrap"
WORKLOAD_PRINCIPALS: Final = {
    "ingest": INGEST,
    "triggers": TRIGGERS,
    "segmenter": SEGMENTER,
    "segmenter-api": SEGMENTER_API,
    "dispatch-intake": DISPATCH,
    "dispatch-sender": DISPATCH,
    "feedback": FEEDBACK,
}
"""The Kafka identity of each workload (`app.kubernetes.io/name`)."""
WORKLOAD_KINDS: Final = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Pod")


@cache
def declared_topics() -> frozenset[str]:
    """shared/topics.py's topics and the Faust apps' changelog topics."""
    return frozenset(spec.name for spec in all_topic_specs())


def faust_prefixes() -> tuple[str, ...]:
    """The topic name prefixes Faust apps own (`<app id>-`): changelogs, assignor topics."""
    return tuple(f"{p.internal_prefix}-" for p in PRINCIPALS if p.internal_prefix is not None)


def is_declared(topic: str) -> bool:
    return topic in declared_topics() or topic.startswith(faust_prefixes())


def declared_groups() -> frozenset[str]:
    groups = {group for p in PRINCIPALS for group in p.groups}
    groups |= {p.internal_prefix for p in PRINCIPALS if p.internal_prefix is not None}
    return frozenset(groups)


def group_principals(group: str) -> tuple[KafkaPrincipal, ...]:
    """Whose consumer group `group` is: the principals that declare it, else the Faust apps
    whose app id it extends (a rebuilt app's `nudge-triggers-p24`: their group ACL is the
    prefix `<app id>`)."""
    exact = tuple(p for p in PRINCIPALS if group in (*p.groups, p.internal_prefix))
    if exact:
        return exact
    return tuple(
        p
        for p in PRINCIPALS
        if p.internal_prefix is not None and group.startswith(p.internal_prefix)
    )


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def named_topics(objects: Sequence[Manifest]) -> Iterator[tuple[Manifest, str, str]]:
    """(object, where, topic) for every topic name a manifest mentions."""
    for obj in objects:
        kind, spec = obj.get("kind"), _dict(obj.get("spec"))
        if kind == "KafkaTopic":
            name = spec.get("topicName") or _dict(obj.get("metadata")).get("name")
            yield obj, "spec.topicName", str(name)
        elif kind == "KafkaUser":
            acls = _list(_dict(spec.get("authorization")).get("acls"))
            for index, acl in enumerate(acls):
                resource = _dict(_dict(acl).get("resource"))
                literal = resource.get("patternType", "literal") == "literal"
                if resource.get("type") == "topic" and literal and resource.get("name") != "*":
                    where = f"spec.authorization.acls[{index}].resource.name"
                    yield obj, where, str(resource.get("name"))
        elif kind == "ScaledObject":
            for index, trigger in enumerate(_list(spec.get("triggers"))):
                metadata = _dict(_dict(trigger).get("metadata"))
                if _dict(trigger).get("type") == "kafka" and "topic" in metadata:
                    for topic in _split(str(metadata["topic"])):
                        yield obj, f"spec.triggers[{index}].metadata.topic", topic
        elif kind == "PrometheusRule":
            for g, group in enumerate(_list(spec.get("groups"))):
                for r, rule in enumerate(_list(_dict(group).get("rules"))):
                    for topic in PROMQL_TOPIC.findall(str(_dict(rule).get("expr", ""))):
                        yield obj, f"spec.groups[{g}].rules[{r}].expr", topic
        elif kind == "ConfigMap":
            for key, value in _dict(obj.get("data")).items():
                yield from ((obj, f"data.{key}", t) for t in _setting_topics(key, value))
        if kind in WORKLOAD_KINDS:
            for container in containers(obj):
                where = f"container {container.get('name')}"
                for env in _list(container.get("env")):
                    name, value = _dict(env).get("name"), _dict(env).get("value")
                    for topic in _setting_topics(str(name), value):
                        yield obj, f"{where} env {name}", topic
                for field in ("command", "args"):
                    for arg in _list(container.get(field)):
                        if isinstance(arg, str) and TOPIC_LIKE.match(arg):
                            yield obj, f"{where} {field}", arg


def _setting_topics(name: str, value: Any) -> list[str]:
    """The topics a setting names: every value of a `..._TOPIC(S)` setting (comma-separated),
    or a value that looks like one of our topic names."""
    if not isinstance(value, str) or "\n" in value.strip():
        return []
    if TOPIC_SETTING.search(name.upper()):
        return _split(value)
    return [value] if TOPIC_LIKE.match(value.strip()) else []


def check_topics_declared(objects: Sequence[Manifest]) -> list[str]:
    """Every topic a manifest names is declared in shared/topics.py (or a Faust app's own)."""
    problems = [
        f"{ref(obj)}: {where} names topic {topic!r}, which shared/topics.py does not declare"
        for obj, where, topic in named_topics(objects)
        if not is_declared(topic)
    ]
    for user in of_kind(objects, "KafkaUser"):
        acls = _list(_dict(_dict(user.get("spec")).get("authorization")).get("acls"))
        for index, acl in enumerate(acls):
            resource = _dict(_dict(acl).get("resource"))
            prefix = resource.get("name")
            if resource.get("type") == "topic" and resource.get("patternType") == "prefix":
                if prefix in faust_prefixes():
                    continue
                problems.append(
                    f"{ref(user)}: spec.authorization.acls[{index}] grants the topic prefix "
                    f"{prefix!r}, which is no Faust app's ({', '.join(faust_prefixes())})"
                )
    return problems


def _broker_count(objects: Sequence[Manifest]) -> int | None:
    """The brokers of the rendered Strimzi cluster, or None when the overlay brings none."""
    if not of_kind(objects, "Kafka"):
        return None
    return sum(
        int(_dict(pool.get("spec")).get("replicas") or 0)
        for pool in of_kind(objects, "KafkaNodePool")
        if "broker" in _list(_dict(pool.get("spec")).get("roles"))
    )


def check_kafka_topics_generated(objects: Sequence[Manifest]) -> list[str]:
    """The KafkaTopics are the generated ones: every declared topic is there with its declared
    partitions and settings; only replicas and min.insync.replicas may be changed, and they
    must fit the overlay's cluster."""
    expected = {topic["spec"]["topicName"]: topic for topic in kafka_topics()}
    rendered: dict[str, Manifest] = {}
    for obj in of_kind(objects, "KafkaTopic"):
        spec = _dict(obj.get("spec"))
        rendered[str(spec.get("topicName") or _dict(obj.get("metadata")).get("name"))] = obj
    brokers = _broker_count(objects)
    problems = [
        f"KafkaTopic/{topic['metadata']['name']}: missing from the render (deploy/k8s/base/kafka "
        "is generated by `python -m deploy.k8s_resources`)"
        for name, topic in expected.items()
        if name not in rendered
    ]
    for name, obj in rendered.items():
        if name not in expected:
            continue  # check_topics_declared names it
        want, spec = expected[name]["spec"], _dict(obj.get("spec"))
        if spec.get("partitions") != want["partitions"]:
            problems.append(
                f"{ref(obj)}: {spec.get('partitions')} partitions, shared/topics.py declares "
                f"{want['partitions']} (partitions are never changed by hand)"
            )
        config = {key: str(value) for key, value in _dict(spec.get("config")).items()}
        for key in sorted(set(config) | set(want["config"])):
            if key == "min.insync.replicas":
                continue
            if config.get(key) != want["config"].get(key):
                problems.append(
                    f"{ref(obj)}: config {key} is {config.get(key)!r}, the declaration says "
                    f"{want['config'].get(key)!r}"
                )
        problems += _replication_problems(obj, spec, config, brokers)
    return problems


def _replication_problems(
    obj: Manifest, spec: Mapping[str, Any], config: Mapping[str, str], brokers: int | None
) -> list[str]:
    replicas = spec.get("replicas")
    if not isinstance(replicas, int) or replicas < 1:
        return [f"{ref(obj)}: replicas must be a positive integer, not {replicas!r}"]
    problems = []
    min_insync = config.get("min.insync.replicas", "1")
    if not min_insync.isdigit() or not 1 <= int(min_insync) <= replicas:
        problems.append(
            f"{ref(obj)}: min.insync.replicas {min_insync} with {replicas} replicas: "
            "acks=all writes could never succeed"
        )
    if brokers is not None and replicas > brokers:
        problems.append(
            f"{ref(obj)}: {replicas} replicas on a cluster of {brokers} broker(s) "
            "(include deploy/k8s/components/single-broker for a one-broker cluster)"
        )
    return problems


def _acl_entries(user: Manifest) -> set[tuple[str, str, str, str, str]]:
    entries = set()
    acls = _list(_dict(_dict(user.get("spec")).get("authorization")).get("acls"))
    for acl in acls:
        resource = _dict(_dict(acl).get("resource"))
        for operation in _list(_dict(acl).get("operations")):
            entries.add(
                (
                    str(_dict(acl).get("type", "allow")),
                    str(resource.get("type")),
                    str(resource.get("patternType", "literal")),
                    str(resource.get("name", "")),
                    str(operation),
                )
            )
    return entries


def _describe(entries: set[tuple[str, str, str, str, str]]) -> str:
    return "; ".join(f"{e[0]} {e[4]} on {e[1]} {e[2]} {e[3]!r}" for e in sorted(entries))


def check_kafka_users_generated(objects: Sequence[Manifest]) -> list[str]:
    """The KafkaUsers are the generated ones: one per principal of shared/topic_access.py,
    SCRAM-SHA-512, and exactly the generated ACLs (least privilege)."""
    expected = {user["metadata"]["name"]: user for user in kafka_users()}
    rendered = {str(_dict(u.get("metadata")).get("name")): u for u in of_kind(objects, "KafkaUser")}
    problems = [
        f"KafkaUser/{name}: missing from the render (generated by `python -m deploy.k8s_resources`)"
        for name in expected
        if name not in rendered
    ]
    for name, user in sorted(rendered.items()):
        if name not in expected:
            problems.append(f"{ref(user)}: no principal of shared/topic_access.py is called so")
            continue
        want, spec = expected[name]["spec"], _dict(user.get("spec"))
        if spec.get("authentication") != want["authentication"]:
            problems.append(f"{ref(user)}: authentication must be {want['authentication']}")
        have, should = _acl_entries(user), _acl_entries(expected[name])
        if have - should:
            problems.append(f"{ref(user)}: ACLs beyond its declaration: {_describe(have - should)}")
        if should - have:
            problems.append(f"{ref(user)}: declared ACLs missing: {_describe(should - have)}")
    return problems


def check_strimzi_cluster(objects: Sequence[Manifest]) -> list[str]:
    """Strimzi resources belong to the cluster `nudge`; a rendered `Kafka` offers the TLS +
    SCRAM-SHA-512 listener on 9093, simple authorization, both entity operators and the Kafka
    Exporter, and has brokers."""
    problems = []
    for obj in of_kind(objects, "KafkaTopic", "KafkaUser", "KafkaNodePool"):
        label = _dict(_dict(obj.get("metadata")).get("labels")).get(CLUSTER_LABEL)
        if label != CLUSTER:
            problems.append(f"{ref(obj)}: label {CLUSTER_LABEL} is {label!r}, not {CLUSTER!r}")
    for kafka in of_kind(objects, "Kafka"):
        problems += [f"{ref(kafka)}: {problem}" for problem in _kafka_problems(kafka)]
    if of_kind(objects, "Kafka") and not _broker_count(objects):
        problems.append(f"Kafka/{CLUSTER}: no KafkaNodePool with the broker role")
    return problems


def _kafka_problems(kafka: Manifest) -> list[str]:
    problems = []
    if _dict(kafka.get("metadata")).get("name") != CLUSTER:
        problems.append(f"the clients and the KafkaTopics expect the cluster to be {CLUSTER!r}")
    spec = _dict(kafka.get("spec"))
    broker = _dict(spec.get("kafka"))
    listeners = [_dict(item) for item in _list(broker.get("listeners"))]
    client = [item for item in listeners if item.get("port") == CLIENT_LISTENER_PORT]
    if not client or client[0].get("tls") is not True:
        problems.append(f"no TLS listener on {CLIENT_LISTENER_PORT} (the clients use SASL_SSL)")
    elif _dict(client[0].get("authentication")).get("type") != "scram-sha-512":
        problems.append(f"the listener on {CLIENT_LISTENER_PORT} must authenticate scram-sha-512")
    if _dict(broker.get("authorization")).get("type") != "simple":
        problems.append("authorization must be `simple` (the KafkaUsers' ACLs)")
    operators = _dict(spec.get("entityOperator"))
    for operator in ("topicOperator", "userOperator"):
        if operator not in operators:
            problems.append(f"entityOperator.{operator} is missing (it reconciles base/kafka)")
    if "kafkaExporter" not in spec:
        problems.append("kafkaExporter is missing (the consumer lag alerts read its metrics)")
    return problems


def _environment(
    container: Mapping[str, Any], config_maps: Mapping[str, Manifest]
) -> dict[str, Any]:
    """The container's environment: its ConfigMaps' settings, then its own `env` entries."""
    values: dict[str, Any] = {}
    for source in _list(container.get("envFrom")):
        name = _dict(_dict(source).get("configMapRef")).get("name")
        prefix = str(_dict(source).get("prefix") or "")
        for key, value in _dict(config_maps.get(str(name), {}).get("data")).items():
            values[prefix + key] = value
    for env in _list(container.get("env")):
        env = _dict(env)
        values[str(env.get("name"))] = env.get("value", env.get("valueFrom"))
    return values


def check_kafka_clients(objects: Sequence[Manifest]) -> list[str]:
    """Each Kafka client connects as its own service's KafkaUser, with the password from that
    user's Secret, over SASL_SSL / SCRAM-SHA-512 to the cluster's bootstrap on 9093; KEDA's
    Kafka triggers name declared consumer groups."""
    users = {str(_dict(u.get("metadata")).get("name")) for u in of_kind(objects, "KafkaUser")}
    config_maps = {
        str(_dict(cm.get("metadata")).get("name")): cm for cm in of_kind(objects, "ConfigMap")
    }
    problems = []
    for obj in of_kind(objects, *WORKLOAD_KINDS):
        workload = _dict(_dict(obj.get("metadata")).get("labels")).get("app.kubernetes.io/name")
        for container in containers(obj):
            env = _environment(container, config_maps)
            if "KAFKA_SASL_USERNAME" not in env and "KAFKA_BOOTSTRAP_SERVERS" not in env:
                continue
            where = f"{ref(obj)}: container {container.get('name')}"
            problems += [f"{where}: {p}" for p in _client_problems(env, users, workload)]
    for scaled in of_kind(objects, "ScaledObject"):
        for index, trigger in enumerate(_list(_dict(scaled.get("spec")).get("triggers"))):
            if _dict(trigger).get("type") == "kafka":
                where = f"{ref(scaled)}: spec.triggers[{index}]"
                problems += [f"{where}{p}" for p in _keda_problems(_dict(trigger), objects)]
    return problems


def _keda_problems(trigger: Mapping[str, Any], objects: Sequence[Manifest]) -> list[str]:
    """A KEDA Kafka trigger reads the lag of a declared group, on the cluster's bootstrap, as a
    KafkaUser allowed to read that group (else KEDA sees no lag and never scales)."""
    metadata = _dict(trigger.get("metadata"))
    group, problems = metadata.get("consumerGroup"), []
    if group is not None and not group_principals(str(group)):
        problems.append(
            f".metadata.consumerGroup {group!r} is no consumer group of shared/topic_access.py "
            f"({', '.join(sorted(declared_groups()))}, or a Faust app id's extension)"
        )
    servers = str(metadata.get("bootstrapServers", ""))
    problems += [f".metadata.{p}" for p in _bootstrap_problems("bootstrapServers", servers)]
    auth_name = _dict(trigger.get("authenticationRef")).get("name")
    auths = [
        a
        for a in of_kind(objects, "TriggerAuthentication")
        if _dict(a.get("metadata")).get("name") == auth_name
    ]
    if auth_name is None or not auths:
        return problems
    secrets = {
        _dict(item).get("parameter"): _dict(item).get("name")
        for item in _list(_dict(auths[0].get("spec")).get("secretTargetRef"))
    }
    readers = {user_name(p) for p in group_principals(str(group))}
    if secrets.get("password") not in readers:
        problems.append(
            f": TriggerAuthentication {auth_name} authenticates with Secret "
            f"{secrets.get('password')!r}, whose KafkaUser may not read group {group!r} "
            f"(may: {', '.join(sorted(readers)) or 'nobody'})"
        )
    return problems


def _bootstrap_problems(setting: str, servers: str) -> list[str]:
    """The servers that are not the cluster's bootstrap service (in any namespace) on 9093."""
    problems = []
    for server in _split(servers):
        host, _, port = server.rpartition(":")
        if host.split(".")[0] != BOOTSTRAP_HOST or port != str(CLIENT_LISTENER_PORT):
            problems.append(f"{setting} {server!r} is not {BOOTSTRAP_HOST}:{CLIENT_LISTENER_PORT}")
    return problems


def _client_problems(env: Mapping[str, Any], users: set[str], workload: Any) -> list[str]:
    problems = []
    expected = {
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
    }
    for name, value in expected.items():
        if env.get(name) != value:
            problems.append(f"{name} is {env.get(name)!r}, the cluster wants {value!r}")
    bootstrap = env.get("KAFKA_BOOTSTRAP_SERVERS")
    if isinstance(bootstrap, str):
        problems += _bootstrap_problems("KAFKA_BOOTSTRAP_SERVERS", bootstrap)
    if not env.get("KAFKA_SSL_CAFILE"):
        problems.append(
            "KAFKA_SSL_CAFILE is not set: the brokers' certificates are signed by the cluster's "
            f"own CA (Secret {CLUSTER}-cluster-ca-cert, key ca.crt)"
        )
    username = env.get("KAFKA_SASL_USERNAME")
    if not isinstance(username, str):
        problems.append("KAFKA_SASL_USERNAME must be set to its KafkaUser's name")
        return problems
    if username not in users:
        problems.append(f"KAFKA_SASL_USERNAME {username!r} is no rendered KafkaUser")
    principal = WORKLOAD_PRINCIPALS.get(str(workload))
    if principal is not None and username != user_name(principal):
        problems.append(
            f"connects as {username!r}, but {workload}'s identity is {user_name(principal)!r}"
        )
    password = _dict(_dict(env.get("KAFKA_SASL_PASSWORD")).get("secretKeyRef"))
    if password.get("name") != username or password.get("key") != "password":
        problems.append(
            f"KAFKA_SASL_PASSWORD must come from Secret {username!r} key 'password' "
            "(Strimzi writes it for the KafkaUser)"
        )
    return problems


KAFKA_CHECKS: Final = (
    check_topics_declared,
    check_kafka_topics_generated,
    check_kafka_users_generated,
    check_strimzi_cluster,
    check_kafka_clients,
)
