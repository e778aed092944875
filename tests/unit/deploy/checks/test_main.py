"""`make deploy-check`'s entry point (deploy/checks/__main__.py) passes on the committed tree
and fails, naming the problem, on a copy broken in each way the acceptance lists."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

from deploy.checks.__main__ import main
from deploy.checks.render import Manifest
from tests.support.kustomize import broken_copy, edit_objects, find, replace_in


def _check(root: Path | None, *overlays: str) -> tuple[int, list[str]]:
    out = io.StringIO()
    status = main([*(["--root", str(root)] if root else []), *overlays], out=out)
    return status, out.getvalue().splitlines()


def _broken(tmp_path: Path, edit: Callable[[Path], None]) -> tuple[int, list[str]]:
    return _check(broken_copy(tmp_path, edit), "dev")


def _ingest_container(objects: list[Manifest]) -> Manifest:
    pod = find(objects, "Deployment", "ingest")["spec"]["template"]["spec"]
    container: Manifest = next(c for c in pod["containers"] if c["name"] == "ingest")
    return container


def test_the_committed_tree_passes() -> None:
    status, lines = _check(None)
    assert status == 0, "\n".join(lines)
    assert [line.split(":")[0] for line in lines] == ["dev", "prod"]
    assert all(line.endswith(" checks: ok") for line in lines)


def test_a_misspelled_field_fails(tmp_path: Path) -> None:
    def misspell(objects: list[Manifest]) -> None:
        find(objects, "Deployment", "ingest")["spec"]["replica"] = 2
        _ingest_container(objects)["imagePullPolicyy"] = "IfNotPresent"

    status, lines = _broken(tmp_path, edit_objects("base/ingest/deployment.yaml", misspell))
    assert status == 1
    problems = [line for line in lines if line.startswith("dev: Deployment/ingest: ")]
    assert any("'replica' was unexpected" in line for line in problems)
    assert any("'imagePullPolicyy' was unexpected" in line for line in problems)


def test_a_misspelled_custom_resource_field_fails(tmp_path: Path) -> None:
    edit = replace_in("platform/dev/kafka.yaml", "  entityOperator:", "  entityOperators:")
    status, lines = _broken(tmp_path, edit)
    assert status == 1
    assert any(
        line.startswith("dev: Kafka/nudge: spec: unknown field 'entityOperators'") for line in lines
    )


def test_a_probe_on_a_port_the_container_does_not_open_fails(tmp_path: Path) -> None:
    def probe_elsewhere(objects: list[Manifest]) -> None:
        _ingest_container(objects)["readinessProbe"]["httpGet"]["port"] = 9999

    status, lines = _broken(tmp_path, edit_objects("base/ingest/deployment.yaml", probe_elsewhere))
    assert status == 1
    assert [line for line in lines if "Deployment/ingest" in line and "9999" in line]


def test_an_undeclared_topic_in_a_kafka_topic_fails(tmp_path: Path) -> None:
    edit = replace_in(
        "base/kafka/topics.yaml", "topicName: shop.events.v1", "topicName: shop.evnets.v1"
    )
    status, lines = _broken(tmp_path, edit)
    assert status == 1
    assert (
        "dev: KafkaTopic/shop-events-v1: spec.topicName names topic 'shop.evnets.v1', "
        "which shared/topics.py does not declare"
    ) in lines


def test_an_undeclared_topic_in_an_environment_variable_fails(tmp_path: Path) -> None:
    def name_a_topic(objects: list[Manifest]) -> None:
        _ingest_container(objects)["env"].append({"name": "NUDGE_AUDIT", "value": "shop.evnets.v1"})

    status, lines = _broken(tmp_path, edit_objects("base/ingest/deployment.yaml", name_a_topic))
    assert status == 1
    assert (
        "dev: Deployment/ingest: container ingest env NUDGE_AUDIT names topic 'shop.evnets.v1', "
        "which shared/topics.py does not declare"
    ) in lines


def test_a_keda_maximum_above_the_partition_count_fails(tmp_path: Path) -> None:
    def scale_beyond(objects: list[Manifest]) -> None:
        scaled = next(
            o
            for o in objects
            if o["kind"] == "ScaledObject"
            and o["spec"]["scaleTargetRef"]["name"] == "dispatch-intake"
        )
        scaled["spec"]["maxReplicaCount"] = 13

    status, lines = _broken(
        tmp_path, edit_objects("base/dispatch/scaledobjects.yaml", scale_beyond)
    )
    assert status == 1
    assert [line for line in lines if "ScaledObject/" in line and "13" in line]


def test_a_render_failure_fails(tmp_path: Path) -> None:
    edit = replace_in("overlays/dev/kustomization.yaml", "../../base", "../../nowhere")
    status, lines = _broken(tmp_path, edit)
    assert status == 1
    assert lines[0].startswith("dev: kubectl kustomize failed: ")


def test_an_unknown_overlay_fails() -> None:
    status, lines = _check(None, "staging")
    assert status == 1
    assert lines[0].startswith("staging: no such overlay")
