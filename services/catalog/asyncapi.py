"""The AsyncAPI 3 document of every Kafka topic, generated from the models and the declarations.

Analysts subscribe from it without reading Python: each topic's address, key, partitions,
retention and compaction, its messages with their schemas, and who writes and reads it. The
sources are the ones the services run on: `shared/topics.py` (topics and their settings),
`shared/topic_access.py` (writers and readers, the same declarations the ACLs come from) and the
event models, through the JSON Schemas `nudge schemas export` publishes (services/schema_docs.py).
The document and its HTML page are committed; a test fails when they differ from a fresh
generation, so a model or topic change shows up in review as a diff of the catalog.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any, Final

import yaml
from pydantic import TypeAdapter
from pydantic.json_schema import JsonSchemaMode

from services.catalog.page import duration, render_page
from services.schema_docs import ROOT, topic_models, write_or_check
from shared.events import DeadLetter, EventEnvelope
from shared.events.messages import STATUS_EVENTS, MessageDeliveredEvent, MessageUndeliveredEvent
from shared.settings import LOCAL_KAFKA
from shared.topic_access import ANALYSTS, PRINCIPALS, KafkaPrincipal, readers_of, writers_of
from shared.topics import (
    ALL_TOPICS,
    CUSTOMER_KEY,
    DEAD_LETTER_TOPIC_NAMES,
    DEAD_LETTER_TOPICS,
    MESSAGES_STATUS,
    TopicSpec,
)

ASYNCAPI_VERSION: Final = "3.0.0"
KAFKA_BINDING_VERSION: Final = "0.5.0"
DOCS_DIR: Final = ROOT / "docs" / "asyncapi"
DOCUMENT_PATH: Final = DOCS_DIR / "asyncapi.yaml"
PAGE_PATH: Final = DOCS_DIR / "index.html"

PRODUCTION_BOOTSTRAP: Final = "nudge-kafka-bootstrap:9093"
"""Strimzi's TLS listener of the cluster `nudge` (deploy/k8s/), with SCRAM-SHA-512."""

PUBLIC: Final = "public"
INTERNAL: Final = "internal"
DEAD_LETTER: Final = "dead-letter"
_TOPIC_KINDS: Final = {
    PUBLIC: "A topic analysts may read (the `nudge-analysts` identity has access to it).",
    INTERNAL: (
        "A service's own topic (its commands to itself): not for analysts, its format changes "
        "without notice."
    ),
    DEAD_LETTER: (
        "Records a consumer could not process, with the reason; on-call reads and replays them "
        "with `nudge dlq list|show|replay`."
    ),
}

CUSTOMER_KEY_SCHEMA: Final = "customer"
SOURCE_KEY_SCHEMA: Final = "source record"
WORKER_COMMAND: Final = "worker-command"
"""The message of the worker command topics, whose records are bytes (shared/worker_commands.py)."""

_SENDS_ONLY: Final[dict[tuple[str, str], tuple[str, ...]]] = {
    ("dispatch", MESSAGES_STATUS.name): tuple(
        cls.model_fields["type"].default for cls in STATUS_EVENTS.values()
    ),
    ("feedback", MESSAGES_STATUS.name): tuple(
        cls.model_fields["type"].default for cls in (MessageDeliveredEvent, MessageUndeliveredEvent)
    ),
}
"""Writers that publish only some of a topic's event types (shared/events/messages.py: dispatch
its own statuses, feedback what the provider reported); every other writer may send them all."""

_DEFS: Final = "#/$defs/"
_SCHEMAS: Final = "#/components/schemas/"
_DATA_KEYWORDS: Final = frozenset({"const", "default", "enum", "examples"})
"""Keywords whose values are data, not schemas: copied as they are."""
_SCHEMA_MAPS: Final = frozenset({"properties", "patternProperties", "$defs", "definitions"})
"""Keywords whose values map names (not keywords) to schemas."""


def component_names(definitions: Iterable[str]) -> dict[str, str]:
    """pydantic's definition names -> names under `components/schemas`.

    pydantic names a definition after its class, or after its module and class where two
    classes share a name (`shared__events__triggers__Engagement`): that becomes
    `triggers.Engagement`, still unique and readable.
    """
    names = {name: ".".join(name.split("__")[-2:]) for name in definitions}
    if len(set(names.values())) != len(names):
        raise ValueError(f"schema names collide once shortened: {sorted(names)}")
    return names


def to_asyncapi_schema(node: Any, names: Mapping[str, str]) -> Any:
    """pydantic's JSON Schema as AsyncAPI 3's default schema format reads it.

    That format is JSON Schema draft-07 plus a few fields: `$defs` references become references
    to `components/schemas` (where `build_document` puts every definition, named by `names`),
    and pydantic's OpenAPI-style `discriminator` object becomes AsyncAPI's, the property name.
    """
    if isinstance(node, list):
        return [to_asyncapi_schema(item, names) for item in node]
    if not isinstance(node, dict):
        return node
    converted: dict[str, Any] = {}
    for key, value in node.items():
        if key == "$ref":
            if not (isinstance(value, str) and value.startswith(_DEFS)):
                raise ValueError(f"unexpected $ref {value!r}: only local $defs are supported")
            converted[key] = _SCHEMAS + names[value.removeprefix(_DEFS)]
        elif key == "discriminator" and isinstance(value, dict):
            converted[key] = value["propertyName"]
        elif key in _DATA_KEYWORDS:
            converted[key] = copy.deepcopy(value)
        elif key in _SCHEMA_MAPS and isinstance(value, dict):
            converted[key] = {name: to_asyncapi_schema(sub, names) for name, sub in value.items()}
        else:
            converted[key] = to_asyncapi_schema(value, names)
    return converted


@dataclass(frozen=True)
class _TopicMessage:
    """One kind of record a topic carries: its message id and the schema of its value."""

    message_id: str
    event_type: str | None
    schema_name: str
    """Its name under `components/schemas`."""


@dataclass(frozen=True)
class _Models:
    """What the event models contribute: their schemas and each JSON topic's messages."""

    schemas: dict[str, dict[str, Any]]
    topics: dict[str, list[_TopicMessage]]
    envelope: str
    """The name of the envelope's schema (`EventEnvelope`)."""


def _message_id(model_name: str) -> str:
    """`DeadLetter` -> `dead-letter`: the id of a message that has no event type."""
    return re.sub(r"(?<!^)(?=[A-Z])", "-", model_name).lower()


def _title(name: str) -> str:
    """`shipment.status_changed` -> `Shipment status changed`."""
    words = re.split(r"[._-]", name)
    return " ".join(words).capitalize()


def _models() -> _Models:
    """One pydantic generation over every topic's models (the ones `nudge schemas export`
    publishes), so that a definition shared by topics is one schema under one name."""
    mode: JsonSchemaMode = "validation"  # as `nudge schemas export` publishes them
    envelope: TypeAdapter[Any] = TypeAdapter(EventEnvelope)
    inputs = [(spec.name, mode, adapter) for spec, adapter in topic_models()]
    roots, definitions = TypeAdapter.json_schemas([*inputs, ("envelope", mode, envelope)])
    names = component_names(definitions.get("$defs", {}))
    schemas = {
        names[name]: to_asyncapi_schema(definition, names)
        for name, definition in definitions.get("$defs", {}).items()
    }

    def schema_name(reference: dict[str, Any]) -> str:
        return names[reference["$ref"].removeprefix(_DEFS)]

    topics: dict[str, list[_TopicMessage]] = {}
    for topic, _mode, _adapter in inputs:
        root = roots[(topic, mode)]
        if "oneOf" in root:  # a discriminated union: one message per event type
            mapping = root["discriminator"]["mapping"]
            types = {schema_name({"$ref": ref}): event_type for event_type, ref in mapping.items()}
            members = [schema_name(choice) for choice in root["oneOf"]]
            topics[topic] = [_TopicMessage(types[name], types[name], name) for name in members]
        else:
            name = schema_name(root)
            event_type = schemas[name].get("properties", {}).get("type", {}).get("const")
            message_id = event_type if isinstance(event_type, str) else _message_id(name)
            topics[topic] = [_TopicMessage(message_id, event_type, name)]
    return _Models(schemas, topics, schema_name(roots[("envelope", mode)]))


def is_internal(spec: TopicSpec) -> bool:
    """A service's own topic: neither a dead-letter topic nor one analysts may read."""
    return spec.name not in DEAD_LETTER_TOPIC_NAMES and spec.name not in ANALYSTS.reads


def topic_kind(spec: TopicSpec) -> str:
    if spec.name in DEAD_LETTER_TOPIC_NAMES:
        return DEAD_LETTER
    return INTERNAL if is_internal(spec) else PUBLIC


def channel_id(topic: str) -> str:
    """`shop.events.v1` -> `shop-events-v1`: the channel's id, in references and operation ids."""
    return topic.replace(".", "-")


def retention_text(spec: TopicSpec) -> str:
    """Retention and compaction, in words (the channel's description and the HTML page)."""
    if spec.cleanup_policy == "compact":
        text = (
            "compacted (`cleanup.policy=compact`): the latest record per key is kept, older "
            "ones are removed in the background; read from the beginning for every key's "
            "current record"
        )
        if spec.retention_ms is not None:
            text += f"; records older than {duration(spec.retention_ms)} are deleted too"
        return text
    if spec.retention_ms is None:
        return "deleted after the broker's default retention (`cleanup.policy=delete`)"
    return (
        f"{duration(spec.retention_ms)}, then deleted "
        f"(`cleanup.policy=delete`, `retention.ms={spec.retention_ms}`)"
    )


def _size(n: int) -> str:
    return f"{n / 1024:.0f} KiB" if n < 1024 * 1024 else f"{n / (1024 * 1024):.1f} MiB"


def _topic_configuration(spec: TopicSpec) -> dict[str, Any]:
    """The Kafka binding's `topicConfiguration`: numbers as numbers, the policy as a list."""
    configuration: dict[str, Any] = {"cleanup.policy": [spec.cleanup_policy]}
    if spec.retention_ms is not None:
        configuration["retention.ms"] = spec.retention_ms
    configuration["max.message.bytes"] = spec.max_message_bytes
    for name, value in sorted(spec.extra_config.items()):
        configuration[name] = int(value) if value.isdigit() else value
    return configuration


_SOURCES: Final = {dlq.name: source for source, dlq in DEAD_LETTER_TOPICS.items()}


def _bullets(items: Iterable[tuple[str, str]]) -> str:
    return "\n".join(f"- **{label}:** {text}" for label, text in items)


def _who(names: Iterable[str]) -> str:
    return ", ".join(f"`{name}`" for name in names) or "nobody yet"


def _channel_description(spec: TopicSpec) -> str:
    facts = [
        ("Key", spec.key),
        ("Partitions", str(spec.partitions)),
        ("Retention", retention_text(spec)),
        (
            "Largest record batch",
            f"{_size(spec.max_message_bytes)} (`max.message.bytes={spec.max_message_bytes}`)",
        ),
        ("Written by", _who(writers_of(spec.name))),
        ("Read by", _who(readers_of(spec.name))),
    ]
    if spec.name in DEAD_LETTER_TOPICS:
        facts.append(
            (
                "Dead letters",
                f"records a consumer cannot process are parked on "
                f"`{DEAD_LETTER_TOPICS[spec.name].name}`; `nudge dlq replay` publishes them "
                "here again, unchanged, after a fix",
            )
        )
    if spec.name in _SOURCES:
        facts.append(("Source topic", f"`{_SOURCES[spec.name]}`"))
    if is_internal(spec):
        facts.append(("Internal", "only the service that writes it reads it; not for analysts"))
    return f"{spec.description}\n\n{_bullets(facts)}\n"


def _key_schemas(shop_pattern: str) -> dict[str, dict[str, Any]]:
    prefix = shop_pattern.removesuffix("$")
    return {
        CUSTOMER_KEY_SCHEMA: {
            "type": "string",
            "title": "Customer key",
            "description": (
                "`shop_id:customer_id`, or `shop_id:anon:anonymous_id` before the visitor is "
                "identified (the envelope's `shopid`, `customerid` and `anonymousid`). All of a "
                "customer's records on a topic share one partition, so they are read in the "
                "order they were written."
            ),
            "pattern": f"{prefix}:(anon:)?.+$",
            "examples": ["acme:4711", "acme:anon:9b2f4c1e"],
        },
        SOURCE_KEY_SCHEMA: {
            "type": ["string", "null"],
            "title": "Source record key",
            "description": (
                "The parked record's own key, unchanged (a customer key on every Nudge topic), "
                "so that a replay lands on the same partition; absent when the record had none."
            ),
        },
    }


def _key_schema(spec: TopicSpec, message: _TopicMessage) -> str:
    if message.schema_name == DeadLetter.__name__:
        return SOURCE_KEY_SCHEMA
    if spec.key == CUSTOMER_KEY:
        return CUSTOMER_KEY_SCHEMA
    raise ValueError(
        f"{spec.name}: its key ({spec.key!r}) has no schema in services/catalog/asyncapi.py"
    )


def _worker_command_message(key_schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": WORKER_COMMAND,
        "title": "Worker command",
        "summary": "A stream worker's command to itself, in order with the customer's events.",
        "description": (
            "Bytes, not JSON (shared/worker_commands.py): the byte `D` alone means a timer of "
            "the customer's fell due (the worker re-reads and re-checks the state); `M` "
            "followed by the anonymous visitor's serialised state moves that state to the "
            "customer's key after `customer.identified`. Only the worker that wrote a command "
            "reads it."
        ),
        "contentType": "application/octet-stream",
        "payload": {"type": "string", "format": "binary"},
        "bindings": _message_bindings(key_schema),
    }


def _message_bindings(key_schema: dict[str, Any]) -> dict[str, Any]:
    """The Kafka binding with the key's schema written out: the AsyncAPI JSON Schema refuses a
    `$ref` there (it matches both alternatives of the binding's `oneOf`)."""
    return {"kafka": {"key": key_schema, "bindingVersion": KAFKA_BINDING_VERSION}}


def _json_message(
    message: _TopicMessage, key_schema: dict[str, Any], schemas: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    payload = schemas[message.schema_name]
    data_ref = payload.get("properties", {}).get("data", {}).get("$ref")
    described = schemas[data_ref.removeprefix(_SCHEMAS)] if data_ref else payload
    document: dict[str, Any] = {"name": message.message_id, "title": _title(message.message_id)}
    if "description" in described:
        document["summary"] = described["description"]
    document["contentType"] = "application/json"
    document["payload"] = {"$ref": _SCHEMAS + message.schema_name}
    document["bindings"] = _message_bindings(key_schema)
    if message.event_type is not None:
        document["x-event-type"] = message.event_type
    return document


def _group_binding(principal: KafkaPrincipal) -> dict[str, Any] | None:
    """The Kafka operation binding naming the consumer groups a reader uses, if it uses any."""
    if principal.groups:
        group: dict[str, Any] = {"type": "string", "enum": list(principal.groups)}
    elif principal.group_prefixes:
        alternatives = "|".join(re.escape(prefix) for prefix in principal.group_prefixes)
        group = {"type": "string", "pattern": f"^({alternatives})"}
    else:
        return None
    return {"kafka": {"groupId": group, "bindingVersion": KAFKA_BINDING_VERSION}}


def _send_summary(principal: str, spec: TopicSpec) -> str:
    if spec.name in _SOURCES:
        return f"`{principal}` parks the records of `{_SOURCES[spec.name]}` it cannot process."
    if spec.name in DEAD_LETTER_TOPIC_NAMES:
        return f"`{principal}`: {spec.description}"
    return f"`{principal}` publishes on `{spec.name}`."


def _operations(
    spec: TopicSpec, message_ids: list[str], principals: dict[str, KafkaPrincipal]
) -> Iterable[tuple[str, dict[str, Any]]]:
    channel = channel_id(spec.name)

    def operation(
        principal: str, action: str, summary: str, messages: Iterable[str]
    ) -> tuple[str, dict[str, Any]]:
        document: dict[str, Any] = {
            "action": action,
            "channel": {"$ref": f"#/channels/{channel}"},
            "title": f"{principal} {action}s {spec.name}",
            "summary": summary,
            "messages": [{"$ref": f"#/channels/{channel}/messages/{m}"} for m in messages],
            "tags": [{"name": principal}],
        }
        if action == "receive":
            bindings = _group_binding(principals[principal])
            if bindings is not None:
                document["bindings"] = bindings
        return f"{principal}.{action}.{channel}", document

    for writer in writers_of(spec.name):
        only = _SENDS_ONLY.get((writer, spec.name))
        if only is not None and not set(only) <= set(message_ids):
            raise ValueError(f"{writer} sends types {only} that {spec.name} does not carry")
        sent = [m for m in message_ids if only is None or m in only]
        yield operation(writer, "send", _send_summary(writer, spec), sent)
    for reader in readers_of(spec.name):
        summary = f"`{reader}` consumes `{spec.name}`."
        if principals[reader].groups:
            groups = ", ".join(f"`{group}`" for group in principals[reader].groups)
            summary = f"`{reader}` consumes `{spec.name}` (consumer group {groups})."
        yield operation(reader, "receive", summary, message_ids)


def _info_description() -> str:
    return """\
Every Kafka topic of Nudge: what it holds, its key, partitions, retention and record schemas, \
and which service writes and reads it. Generated from the event models (`shared/events/`) and \
the topic declarations (`shared/topics.py`, `shared/topic_access.py`) by \
`nudge schemas asyncapi`: do not edit it by hand.

**The envelope.** Every JSON record value is one event in a CloudEvents 1.0 envelope, in the \
value (no headers): `specversion`, `id`, `source`, `type`, `time`, `subject`, \
`datacontenttype`, and Nudge's extensions `shopid`, `customerid`, `anonymousid` and \
`schemaversion` (the `EventEnvelope` schema). The event's own fields are in `data`, typed by \
`type`: each message below is one type. Values are compact JSON without the optional fields \
that are absent; amounts are decimal strings with their currency, times ISO 8601 in UTC.

**Keys.** Records about a customer are keyed `shop_id:customer_id` \
(`shop_id:anon:anonymous_id` before the visitor is identified): one customer's records on a \
topic are on one partition, in the order they were written.

**Duplicates.** Delivery is at least once. An event's `id` names the fact, not the delivery: \
it is the same when a record is published again or replayed, so drop the ids you have seen.

**Subscribing.** Topics tagged `public` are for analysts: in production with the KafkaUser \
`nudge-analysts` and consumer groups named `analytics-...`; `nudge tail TOPIC` prints records \
as they arrive. Topics tagged `internal` belong to one service and change without notice; \
those tagged `dead-letter` hold the records a consumer could not process.
"""


def _servers() -> dict[str, Any]:
    return {
        "local": {
            "host": LOCAL_KAFKA,
            "protocol": "kafka",
            "title": "Local stack",
            "description": (
                "The single-node broker of the local stack (`make up`, `make run`): plaintext, "
                "no authentication."
            ),
            "tags": [{"name": "env:local"}],
        },
        "production": {
            "host": PRODUCTION_BOOTSTRAP,
            "protocol": "kafka-secure",
            "title": "Kubernetes (Strimzi)",
            "description": (
                "The Strimzi cluster `nudge`, from inside its namespace: TLS with SASL "
                "SCRAM-SHA-512, one KafkaUser per service (`nudge-<service>`) and "
                "`nudge-analysts` for analysts. Client settings: "
                "`KAFKA_BOOTSTRAP_SERVERS=nudge-kafka-bootstrap:9093`, "
                "`KAFKA_SECURITY_PROTOCOL=SASL_SSL`, `KAFKA_SASL_MECHANISM=SCRAM-SHA-512`, "
                "`KAFKA_SASL_USERNAME` the KafkaUser's name, `KAFKA_SASL_PASSWORD` the `password` "
                "of the Secret of that name, `KAFKA_SSL_CAFILE` the `ca.crt` of the Secret "
                "`nudge-cluster-ca-cert`."
            ),
            "security": [{"$ref": "#/components/securitySchemes/scramSha512"}],
            "tags": [{"name": "env:production"}],
        },
    }


def build_document() -> dict[str, Any]:
    """The AsyncAPI 3.0.0 document as a dict, every map in a stable order."""
    models = _models()
    schemas = models.schemas
    keys = _key_schemas(schemas[models.envelope]["properties"]["shopid"]["pattern"])
    principals = {principal.name: principal for principal in PRINCIPALS}

    messages: dict[str, dict[str, Any]] = {}

    def add_message(message_id: str, document: dict[str, Any]) -> None:
        known = messages.setdefault(message_id, document)
        if known != document:
            raise ValueError(f"message {message_id!r} differs between topics")

    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for spec in ALL_TOPICS:
        kind = topic_kind(spec)
        if spec.name in models.topics:
            carried = models.topics[spec.name]
            for message in carried:
                key = keys[_key_schema(spec, message)]
                add_message(message.message_id, _json_message(message, key, schemas))
            message_ids = [message.message_id for message in carried]
        elif kind == INTERNAL:
            add_message(WORKER_COMMAND, _worker_command_message(keys[CUSTOMER_KEY_SCHEMA]))
            message_ids = [WORKER_COMMAND]
        else:
            raise ValueError(
                f"{spec.name} has no record schema: add its models to "
                "services/schema_docs.py topic_models()"
            )
        channel: dict[str, Any] = {
            "address": spec.name,
            "title": spec.name,
            "summary": spec.description,
            "description": _channel_description(spec),
            "messages": {m: {"$ref": f"#/components/messages/{m}"} for m in message_ids},
            "tags": [{"name": kind}],
            "bindings": {
                "kafka": {
                    "topic": spec.name,
                    "partitions": spec.partitions,
                    "topicConfiguration": _topic_configuration(spec),
                    "bindingVersion": KAFKA_BINDING_VERSION,
                }
            },
            "x-key": spec.key,
            "x-internal": kind == INTERNAL,
            "x-written-by": list(writers_of(spec.name)),
            "x-read-by": list(readers_of(spec.name)),
        }
        if spec.name in DEAD_LETTER_TOPICS:
            channel["x-dead-letter-topic"] = DEAD_LETTER_TOPICS[spec.name].name
        if spec.name in _SOURCES:
            channel["x-source-topic"] = _SOURCES[spec.name]
        channels[channel_id(spec.name)] = channel
        operations.update(_operations(spec, message_ids, principals))

    tags = [{"name": kind, "description": text} for kind, text in _TOPIC_KINDS.items()]
    tags += [{"name": p.name, "description": p.description} for p in PRINCIPALS]
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "Nudge topics",
            "version": version("nudge"),
            "description": _info_description(),
            "tags": tags,
        },
        "defaultContentType": "application/json",
        "servers": _servers(),
        "channels": channels,
        "operations": operations,
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "messages": dict(sorted(messages.items())),
            "securitySchemes": {
                "scramSha512": {
                    "type": "scramSha512",
                    "description": (
                        "SASL/SCRAM-SHA-512 over TLS: the KafkaUser's name and the password "
                        "from the Secret Strimzi creates with that name."
                    ),
                }
            },
        },
    }


class _Dumper(yaml.SafeDumper):
    """Plain YAML: no anchors or aliases for repeated values, long text as block scalars."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def render_yaml(document: dict[str, Any]) -> str:
    header = (
        "# Generated by `nudge schemas asyncapi` from the models and shared/topics.py: "
        "do not edit.\n"
    )
    body = yaml.dump(
        document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100, indent=2
    )
    return header + body


def published_files() -> dict[Path, str]:
    """The committed catalog files and their current contents: the document and its page."""
    document = build_document()
    return {DOCUMENT_PATH: render_yaml(document), PAGE_PATH: render_page(document)}


def export(*, check: bool, echo: Callable[[str], None] = print) -> list[Path]:
    """Write the catalog files, or with `check` only compare them; returns the stale ones."""
    return write_or_check(published_files(), check=check, echo=echo)
