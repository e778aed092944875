"""`python -m deploy.checks [overlay ...]`: what `make deploy-check` runs.

Renders each overlay of deploy/k8s/overlays (all of them by default) with `kubectl kustomize`,
runs every check of deploy.checks.CHECKS on the objects, prints each problem as
`<overlay>: <kind>/<name>: <problem>` and exits 1 if there is any.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from deploy.checks import CHECKS
from deploy.checks.render import K8S_ROOT, RenderError, overlays, render


def overlay_problems(root: Path, overlay: str) -> tuple[int, list[str]]:
    """How many objects the overlay renders, and its problems (prefixed by the overlay)."""
    folder = root / "overlays" / overlay
    if not folder.is_dir():
        return 0, [f"{overlay}: no such overlay ({folder})"]
    try:
        objects = render(folder)
    except RenderError as exc:
        return 0, [f"{overlay}: kubectl kustomize failed: {exc}"]
    problems = []
    for check in CHECKS:
        try:
            found = check(objects)
        except Exception as exc:  # a broken manifest can surprise a check: report, go on
            found = [f"{check.__name__} could not run: {type(exc).__name__}: {exc}"]
        problems += [f"{overlay}: {problem}" for problem in found]
    return len(objects), problems


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Check the overlays; 0 when none has a problem, else 1."""
    out = out or sys.stdout
    parser = argparse.ArgumentParser(prog="python -m deploy.checks", description=__doc__)
    parser.add_argument("overlays", nargs="*", help="overlay names (default: every overlay)")
    parser.add_argument(
        "--root", type=Path, default=K8S_ROOT, help="the Kustomize tree (default: deploy/k8s)"
    )
    args = parser.parse_args(argv)
    names = args.overlays or overlays(args.root)
    if not names:
        print(f"no overlays under {args.root / 'overlays'}", file=out)
        return 1
    failed = False
    for name in names:
        count, problems = overlay_problems(args.root, name)
        for problem in problems:
            print(problem, file=out)
        failed = failed or bool(problems)
        status = f"{len(problems)} problem(s)" if problems else "ok"
        print(f"{name}: {count} objects, {len(CHECKS)} checks: {status}", file=out)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
