"""Strict offline validation of rendered objects, so that a misspelled field fails the check.

Built-in kinds are validated with the strict JSON Schemas kubernetes-validate ships (unknown
fields are errors), against the oldest Kubernetes version we support and the newest the package
knows, so that a field too new for the one or an API removed by the other is caught. Custom
resources (Strimzi, CloudNativePG, KEDA, Prometheus operator) have no schema there: each kind
we use is described by a `Shape` in deploy/checks/custom_resources.py instead, strict in the
same way, and may point at Kubernetes definitions (resources, selectors...) for its parts.
A kind that has neither is a problem too: nothing reaches the cluster unvalidated.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any, Final, TypeAlias

import jsonschema
from kubernetes_validate.utils import all_versions  # type: ignore[import-untyped]  # ships no type hints
from referencing import Registry, Resource

from deploy.checks.render import Manifest, ref

MINIMUM_KUBERNETES: Final = "1.30"
"""The oldest Kubernetes the manifests are written for, as deploy/k8s/base/kustomization.yaml
says (a preStop `sleep`, PDBs' unhealthyPodEvictionPolicy...; Strimzi 1.x needs it too)."""
_DEFINITIONS_ID: Final = "https://kubernetes.io/api/_definitions.json"


def kubernetes_versions() -> tuple[str, ...]:
    """The schema versions used: the oldest the package has at or above the minimum we
    support, and the newest it has."""
    known = sorted(set(all_versions()), key=_major_minor)
    oldest = [v for v in known if _major_minor(v) >= _major_minor(MINIMUM_KUBERNETES)]
    if not oldest:
        raise RuntimeError(f"kubernetes-validate has no schemas for {MINIMUM_KUBERNETES} or later")
    return tuple(dict.fromkeys((oldest[0], known[-1])))


def _major_minor(version: str) -> tuple[int, int]:
    major, minor = version.split(".")[:2]
    return int(major), int(minor)


def _schema_dir(version: str) -> Traversable:
    return (
        resources.files("kubernetes_validate")
        / "kubernetes-json-schema"
        / f"v{version}-local-strict"
    )


@cache
def _registry(version: str) -> Registry:
    text = (_schema_dir(version) / "_definitions.json").read_text(encoding="utf-8")
    definitions: Resource[Any] = Resource.from_contents(json.loads(text))
    return definitions @ Registry()


@cache
def _builtin_validator(
    version: str, api_version: str, kind: str
) -> jsonschema.Draft202012Validator | None:
    """The strict validator of one built-in kind, or None when it is not a built-in kind."""
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    path = _schema_dir(version) / f"{kind.lower()}-{group_version}.json"
    if not path.is_file():
        return None
    schema = json.loads(path.read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema, registry=_registry(version))


@cache
def _definition_validator(version: str, definition: str) -> jsonschema.Draft202012Validator:
    schema = {"$ref": f"{_DEFINITIONS_ID}#/$defs/{definition}"}
    return jsonschema.Draft202012Validator(schema, registry=_registry(version))


def _where(path: Iterable[Any]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text.lstrip(".") or "(top level)"


def _schema_errors(
    validator: jsonschema.Draft202012Validator, value: Any, prefix: str
) -> list[str]:
    problems = []
    for error in sorted(validator.iter_errors(value), key=lambda e: list(map(str, e.path))):
        where = _where([*([prefix] if prefix else []), *error.path])
        problems.append(f"{where}: {error.message}")
    return problems


def _merge_versions(found: dict[str, list[str]]) -> list[str]:
    """One line per problem, naming the schema versions only when not all of them have it."""
    every = len(kubernetes_versions())
    merged = []
    for problem, versions in found.items():
        if len(versions) < every:
            problem += f" (Kubernetes {', '.join(map(_major_minor_text, versions))})"
        merged.append(problem)
    return merged


def _validate_versions(
    value: Any, prefix: str, validators: Mapping[str, jsonschema.Draft202012Validator]
) -> list[str]:
    found: dict[str, list[str]] = {}
    for version, validator in validators.items():
        for problem in _schema_errors(validator, value, prefix):
            found.setdefault(problem, []).append(version)
    return _merge_versions(found)


def _major_minor_text(version: str) -> str:
    return ".".join(version.split(".")[:2])


def definition_errors(value: Any, definition: str, where: str) -> list[str]:
    """`value` checked against a Kubernetes API definition (strict), in every version."""
    validators = {v: _definition_validator(v, definition) for v in kubernetes_versions()}
    return _validate_versions(value, where, validators)


# --- Shapes: strict descriptions of the custom resources' fields we use ----------------------

Scalar: TypeAlias = type | tuple[type, ...]


@dataclass(frozen=True)
class Obj:
    """An object with known fields only; `required` must be present."""

    fields: Mapping[str, Shape]
    required: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ListOf:
    item: Shape


@dataclass(frozen=True)
class MapOf:
    """An object with free keys (labels, broker settings...) whose values have one shape."""

    value: Shape


@dataclass(frozen=True)
class OneOf:
    """One of a few literal values."""

    values: tuple[object, ...]


@dataclass(frozen=True)
class Definition:
    """A Kubernetes API definition, e.g. `io.k8s.api.core.v1.ResourceRequirements`."""

    name: str


@dataclass(frozen=True)
class Anything:
    """A part we do not describe (a free-form document the operator validates itself)."""


Shape: TypeAlias = Obj | ListOf | MapOf | OneOf | Definition | Anything | Scalar
ANY: Final = Anything()
_OBJECT_META: Final = Definition("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")


def _type_name(expected: Scalar) -> str:
    types = expected if isinstance(expected, tuple) else (expected,)
    return " or ".join(
        {str: "string", int: "integer", bool: "boolean", float: "number"}.get(t, t.__name__)
        for t in types
    )


def _is_instance(value: Any, expected: Scalar) -> bool:
    types = expected if isinstance(expected, tuple) else (expected,)
    if isinstance(value, bool):
        return bool in types
    if float in types and isinstance(value, int):
        return True
    return isinstance(value, types)


def _at(where: str, key: object) -> str:
    if isinstance(key, int):
        return f"{where}[{key}]"
    return f"{where}.{key}" if where else str(key)


def shape_errors(value: Any, shape: Shape, where: str) -> list[str]:
    """What in `value` does not fit `shape`, each as `<path>: <problem>`."""
    here = where or "(top level)"
    if isinstance(shape, Anything):
        return []
    if isinstance(shape, Definition):
        return definition_errors(value, shape.name, where)
    if isinstance(shape, OneOf):
        if value in shape.values:
            return []
        return [f"{here}: {value!r} is not one of {', '.join(map(repr, shape.values))}"]
    if isinstance(shape, ListOf):
        if not isinstance(value, list):
            return [f"{here}: expected a list, got {type(value).__name__}"]
        return [
            problem
            for index, item in enumerate(value)
            for problem in shape_errors(item, shape.item, _at(where, index))
        ]
    if isinstance(shape, (Obj, MapOf)):
        if not isinstance(value, dict):
            return [f"{here}: expected an object, got {type(value).__name__}"]
        if isinstance(shape, MapOf):
            return [
                problem
                for key, item in value.items()
                for problem in shape_errors(item, shape.value, _at(where, key))
            ]
        problems = [
            f"{here}: unknown field {key!r} (known: {', '.join(sorted(shape.fields))})"
            for key in value
            if key not in shape.fields
        ]
        problems += [
            f"{here}: missing required field {key!r}" for key in sorted(shape.required - set(value))
        ]
        for key, item in value.items():
            if key in shape.fields:
                problems += shape_errors(item, shape.fields[key], _at(where, key))
        return problems
    if not _is_instance(value, shape):
        return [f"{here}: expected {_type_name(shape)}, got {value!r}"]
    return []


# --- The check -----------------------------------------------------------------------------


def validation_errors(obj: Manifest) -> list[str]:
    """Every schema problem of one object (built-in schema or our shape), without its name."""
    # Imported here: the tables are written with this module's shapes.
    from deploy.checks.custom_resources import CUSTOM_RESOURCES, SPEC_CHECKS

    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str):
        return ["apiVersion and kind must be strings"]
    shape = CUSTOM_RESOURCES.get((api_version, kind))
    if shape is not None:
        top = Obj(
            {"apiVersion": str, "kind": str, "metadata": _OBJECT_META, "spec": shape},
            required=frozenset({"apiVersion", "kind", "metadata", "spec"}),
        )
        problems = shape_errors(obj, top, "")
        extra = SPEC_CHECKS.get((api_version, kind))
        if extra is not None and not problems:
            problems += extra(obj["spec"])
        return problems
    validators = {
        version: validator
        for version in kubernetes_versions()
        if (validator := _builtin_validator(version, api_version, kind)) is not None
    }
    if not validators:
        return [
            f"no schema for {api_version} {kind}: not a built-in kind of Kubernetes "
            f"{', '.join(map(_major_minor_text, kubernetes_versions()))}, and "
            "deploy/checks/custom_resources.py does not describe it"
        ]
    return _validate_versions(obj, "", validators)


def check_schemas(objects: Sequence[Manifest]) -> list[str]:
    """Every rendered object validates strictly (built-in schema or custom resource shape)."""
    return [f"{ref(obj)}: {problem}" for obj in objects for problem in validation_errors(obj)]
