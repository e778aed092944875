"""The Kustomize tree for the deploy tests: each overlay rendered once per session, and broken
copies of the tree (copy deploy/k8s, edit one file, render or check the copy)."""

from __future__ import annotations

import copy
import shutil
from collections.abc import Callable
from functools import cache
from pathlib import Path

import yaml

from deploy.checks.render import K8S_ROOT, Manifest, render


@cache
def _rendered(overlay: str) -> tuple[Manifest, ...]:
    return tuple(render(K8S_ROOT / "overlays" / overlay))


def rendered(overlay: str) -> list[Manifest]:
    """The committed overlay's objects (rendered once per session; a fresh copy each call)."""
    return copy.deepcopy(list(_rendered(overlay)))


def overlay_objects(root: Path, overlay: str) -> list[Manifest]:
    """An overlay of a (copied) tree, rendered now."""
    return render(root / "overlays" / overlay)


def broken_copy(tmp_path: Path, edit: Callable[[Path], None]) -> Path:
    """A copy of deploy/k8s under `tmp_path`, changed by `edit(root)`; returns its root.
    The whole deploy/ folder is copied: an overlay may use a component beside k8s/ (the dev
    overlay takes the demo configuration from deploy/local/demo)."""
    deploy = tmp_path / "deploy"
    shutil.copytree(K8S_ROOT.parent, deploy, ignore=shutil.ignore_patterns("__pycache__"))
    root = deploy / K8S_ROOT.name
    edit(root)
    return root


def replace_in(relative: str, old: str, new: str, count: int = 1) -> Callable[[Path], None]:
    """An edit replacing `old` by `new` in one file of the tree; fails if `old` is not there
    (so that a test cannot pass because the text it breaks has moved)."""

    def edit(root: Path) -> None:
        path = root / relative
        text = path.read_text(encoding="utf-8")
        if old not in text:
            raise AssertionError(f"{relative} no longer contains {old!r}")
        path.write_text(text.replace(old, new, count), encoding="utf-8")

    return edit


def add_resource(folder: str, name: str, text: str) -> Callable[[Path], None]:
    """An edit adding a manifest file to a folder's kustomization `resources`."""

    def edit(root: Path) -> None:
        target = root / folder
        (target / name).write_text(text, encoding="utf-8")
        kustomization = target / "kustomization.yaml"
        lines = kustomization.read_text(encoding="utf-8").splitlines()
        at = lines.index("resources:") + 1
        lines.insert(at, f"  - {name}")
        kustomization.write_text("\n".join(lines) + "\n", encoding="utf-8")

    return edit


def edit_objects(relative: str, mutate: Callable[[list[Manifest]], None]) -> Callable[[Path], None]:
    """An edit changing the objects of one YAML file of the tree (comments are not kept)."""

    def edit(root: Path) -> None:
        path = root / relative
        objects = [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]
        mutate(objects)
        path.write_text(yaml.safe_dump_all(objects, sort_keys=False), encoding="utf-8")

    return edit


def find(objects: list[Manifest], kind: str, name: str | None = None) -> Manifest:
    """The first object of `kind` (and `name`): fails the test when there is none."""
    for obj in objects:
        if obj.get("kind") == kind and name in (None, obj.get("metadata", {}).get("name")):
            return obj
    raise AssertionError(f"no {kind}/{name or '*'} among {[o.get('kind') for o in objects]}")
