"""The AsyncAPI catalog (services/catalog/): current, valid AsyncAPI 3.0.0, and complete.

Complete means every declared topic is a channel with its settings, every event type of the
models is a message, and the operations say exactly who writes and reads each topic as
shared/topic_access.py declares it. Validation is offline: the AsyncAPI JSON Schema comes from
.cache/asyncapi/, which `make asyncapi-check` fills (`make test` runs it first).
"""

from __future__ import annotations

import copy
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

import shared.events
from services.catalog.asyncapi import (
    DOCUMENT_PATH,
    build_document,
    channel_id,
    published_files,
    render_yaml,
    to_asyncapi_schema,
)
from services.catalog.page import topic_views
from services.catalog.validation import (
    CACHE_DIR,
    SPECS_VERSION,
    SpecsMissing,
    load,
    metaschema,
    validate,
)
from services.schema_docs import ROOT
from shared.events import EventEnvelope, record_key
from shared.topic_access import readers_of, writers_of
from shared.topics import ALL_TOPICS, DEAD_LETTER_TOPIC_NAMES

Document = dict[str, Any]
NODE_CHECK = ROOT / "docs" / "asyncapi" / "parser" / "check.cjs"
NODE_INSTALL = CACHE_DIR / "node"


@pytest.fixture(scope="module")
def document() -> Document:
    return build_document()


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    try:
        return metaschema()
    except SpecsMissing as exc:
        pytest.fail(str(exc))


def test_the_committed_catalog_is_current() -> None:
    stale = [
        str(path.relative_to(ROOT))
        for path, text in published_files().items()
        if not path.is_file() or path.read_text() != text
    ]
    assert stale == [], f"regenerate with `make asyncapi` (or `nudge schemas asyncapi`): {stale}"


def test_the_yaml_says_exactly_the_document(document: Document) -> None:
    text = render_yaml(document)
    assert "&id" not in text and "*id" not in text  # no YAML anchors: plain for every tool
    assert yaml.safe_load(text) == document


def test_the_committed_document_is_valid_asyncapi_3(schema: dict[str, Any]) -> None:
    assert validate(load(DOCUMENT_PATH), schema) == []


def _rename_address(doc: Document) -> None:
    channel = doc["channels"]["shop-events-v1"]
    channel["adress"] = channel.pop("address")


def _publish(doc: Document) -> None:
    doc["operations"]["triggers.receive.shop-events-v1"]["action"] = "publish"


def _foreign_message(doc: Document) -> None:
    doc["operations"]["ingest.send.shop-events-v1"]["messages"].append(
        {"$ref": "#/channels/triggers-fired-v1/messages/trigger.fired"}
    )


def _dangling(doc: Document) -> None:
    doc["channels"]["conversions-v1"]["messages"]["conversion.attributed"]["$ref"] += "s"


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (_rename_address, "channels.shop-events-v1: 'adress' does not match"),
        (_publish, "operations.triggers.receive.shop-events-v1.action: 'publish' is not one of"),
        (_foreign_message, "operations.ingest.send.shop-events-v1.messages.15: "),
        (_dangling, "channels.conversions-v1.messages.conversion.attributed: $ref"),
    ],
)
def test_a_broken_copy_is_refused_naming_the_place(
    document: Document,
    schema: dict[str, Any],
    edit: Callable[[Document], None],
    expected: str,
) -> None:
    broken = copy.deepcopy(document)
    edit(broken)
    problems = validate(broken, schema)
    assert any(problem.startswith(expected) for problem in problems), problems


def test_every_declared_topic_is_a_channel_with_its_settings(document: Document) -> None:
    channels = document["channels"]
    assert [channel["address"] for channel in channels.values()] == [t.name for t in ALL_TOPICS]
    for spec in ALL_TOPICS:
        kafka = channels[channel_id(spec.name)]["bindings"]["kafka"]
        assert kafka["topic"] == spec.name
        assert kafka["partitions"] == spec.partitions
        configuration = kafka["topicConfiguration"]
        assert configuration["cleanup.policy"] == [spec.cleanup_policy]
        assert configuration.get("retention.ms") == spec.retention_ms
        assert configuration["max.message.bytes"] == spec.max_message_bytes


def _envelope_classes() -> set[type[EventEnvelope]]:
    found: set[type[EventEnvelope]] = set()
    pending = [EventEnvelope]
    while pending:
        for subclass in pending.pop().__subclasses__():
            if subclass.__module__.startswith(shared.events.__name__):
                found.add(subclass)
                pending.append(subclass)
    return found


def test_every_event_type_of_the_models_is_a_message(document: Document) -> None:
    types = {cls.model_fields["type"].default for cls in _envelope_classes()}
    assert set(shared.events.EVENT_TYPES) <= types
    messages = document["components"]["messages"].values()
    assert types == {m["x-event-type"] for m in messages if "x-event-type" in m}
    carried = {
        m["$ref"].rsplit("/", 1)[1]
        for c in document["channels"].values()
        for m in c["messages"].values()
    }
    assert types <= carried


def test_operations_say_who_writes_and_reads_each_topic(document: Document) -> None:
    for spec in ALL_TOPICS:
        ref = f"#/channels/{channel_id(spec.name)}"
        operations = [op for op in document["operations"].values() if op["channel"]["$ref"] == ref]
        who = {
            action: [op["tags"][0]["name"] for op in operations if op["action"] == action]
            for action in ("send", "receive")
        }
        assert who == {"send": list(writers_of(spec.name)), "receive": list(readers_of(spec.name))}


def test_message_status_writers_send_only_their_own_types(document: Document) -> None:
    def sent(writer: str) -> set[str]:
        operation = document["operations"][f"{writer}.send.messages-status-v1"]
        return {m["$ref"].rsplit("/", 1)[1] for m in operation["messages"]}

    assert sent("feedback") == {"message.delivered", "message.undelivered"}
    assert "message.sent" in sent("dispatch") and not sent("dispatch") & sent("feedback")


def test_kinds_of_topic_are_tagged(document: Document) -> None:
    for channel in document["channels"].values():
        [tag] = [t["name"] for t in channel["tags"]]
        if channel["address"] in DEAD_LETTER_TOPIC_NAMES:
            assert tag == "dead-letter"
            assert list(channel["messages"]) == ["dead-letter"]
        elif channel["address"].endswith(".commands.v1"):
            assert (tag, channel["x-internal"]) == ("internal", True)
            assert list(channel["messages"]) == ["worker-command"]
        else:
            assert tag == "public"


def test_record_keys_match_the_documented_key_pattern(document: Document) -> None:
    key = document["components"]["messages"]["order.placed"]["bindings"]["kafka"]["key"]
    pattern = re.compile(key["pattern"])
    assert pattern.match(record_key("acme", "4711", None))
    assert pattern.match(record_key("acme", None, "visitor-9"))
    assert not pattern.match("4711")
    assert not pattern.match("ACME:4711")


def test_pydantic_references_and_discriminators_become_asyncapi_ones() -> None:
    schema = {
        "oneOf": [{"$ref": "#/$defs/A"}],
        "discriminator": {"propertyName": "type", "mapping": {"a": "#/$defs/A"}},
        "properties": {"$ref": {"type": "string", "default": {"$ref": "kept"}}},
    }
    assert to_asyncapi_schema(schema, {"A": "models.A"}) == {
        "oneOf": [{"$ref": "#/components/schemas/models.A"}],
        "discriminator": "type",
        "properties": {"$ref": {"type": "string", "default": {"$ref": "kept"}}},
    }


def test_the_page_lists_a_messages_fields_from_the_schemas(document: Document) -> None:
    [shop] = [view for view in topic_views(document) if view.address == "shop.events.v1"]
    assert (shop.partitions, shop.retention, shop.written_by) == (12, "30 days", ["ingest"])
    [order] = [message for message in shop.messages if message.message_id == "order.placed"]
    fields = {field.path: field for field in order.fields}
    assert fields["id"].required and fields["data"].required
    assert fields["data.items[].product_id"].required
    assert "pattern `^[A-Z]{3}$`" in fields["data.total.currency"].constraints


def test_the_makefile_fetches_the_specs_version_the_validation_reads() -> None:
    makefile = (ROOT / "mk" / "asyncapi.mk").read_text()
    assert f"ASYNCAPI_SPECS_VERSION := {SPECS_VERSION}\n" in makefile


def _node_check(path: Path) -> subprocess.CompletedProcess[str]:
    if not (NODE_INSTALL / "node_modules" / "@asyncapi" / "parser").is_dir():
        pytest.fail(f"@asyncapi/parser is missing from {NODE_INSTALL}: run `make asyncapi-check`")
    command = ["node", str(NODE_CHECK), str(NODE_INSTALL), str(path)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def test_the_asyncapi_parser_finds_only_the_foreign_message_in_a_broken_copy(
    document: Document, tmp_path: Path
) -> None:
    """One run of the official parser: a message of another channel in an operation is its one
    error, so the rest of the document passes its rules too."""
    broken = copy.deepcopy(document)
    _foreign_message(broken)
    path = tmp_path / "broken.yaml"
    path.write_text(render_yaml(broken))
    refused = _node_check(path)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    errors = [line for line in refused.stdout.splitlines() if line.startswith("error: ")]
    assert errors == [
        "error: operations.ingest.send.shop-events-v1.messages.15: Operation message does not "
        "belong to the specified channel. [asyncapi3-operation-messages-from-referred-channel]"
    ]
