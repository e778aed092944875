"""`python -m services.catalog [--check]`: write the AsyncAPI catalog, or check it is current.

The same as `nudge schemas asyncapi`, for the Makefile (mk/asyncapi.mk) and for checkouts where
the CLI is not installed.
"""

from __future__ import annotations

import argparse
import sys

from services.catalog.asyncapi import export


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.catalog", description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if the committed files differ")
    stale = export(check=parser.parse_args(argv).check)
    if stale:
        names = ", ".join(str(path) for path in stale)
        print(f"out of date (run `make asyncapi`): {names}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
