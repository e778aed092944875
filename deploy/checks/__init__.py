"""`make deploy-check`: render every Kustomize overlay, validate it strictly offline, and check
it against the code (topics, Kafka identities, workloads' probes, ports and scaling).

A check is a function `check_x(objects) -> list[str]` over one overlay's rendered objects,
returning its problems, each written `<kind>/<name>: <what is wrong>`; `CHECKS` lists them all
and `python -m deploy.checks` runs them (see __main__.py).
"""

from __future__ import annotations

from typing import Final

from deploy.checks.kafka import KAFKA_CHECKS
from deploy.checks.render import Check
from deploy.checks.schema import check_schemas
from deploy.checks.workloads import WORKLOAD_CHECKS

CHECKS: Final[tuple[Check, ...]] = (check_schemas, *KAFKA_CHECKS, *WORKLOAD_CHECKS)
"""Every check `python -m deploy.checks` runs, schema validation first."""
