"""Causing the planned faults on the running stack, each recorded as a
`tests.e2e.model.Fault` with its wall start and end."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import httpx

from tests.e2e.harness import infra, poison
from tests.e2e.harness.layout import Layout
from tests.e2e.harness.schedule import PlannedFault
from tests.e2e.harness.supervisor import Supervisor
from tests.e2e.model import Fault


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


class Faults:
    def __init__(self, layout: Layout, supervisor: Supervisor) -> None:
        self.layout = layout
        self.supervisor = supervisor
        self.done: list[Fault] = []
        self.poison_sent: list[poison.Sent] = []

    async def _control(self, url: str, body: dict[str, object]) -> None:
        async with httpx.AsyncClient(timeout=10.0) as client:
            answer = await client.post(url, json=body)
            answer.raise_for_status()

    async def cause(self, planned: PlannedFault) -> Fault:
        started = time.time()
        detail = ""
        p = self.layout.ports
        match planned.kind:
            case "sigkill":
                await self.supervisor.kill_and_restart(planned.target)
                detail = "restarted and ready"
            case "broker_restart":
                await infra.restart_broker(self.layout)
                detail = "kafka.sh stop, start"
            case "postgres_restart":
                await infra.restart_postgres(self.layout)
                detail = "postgres.sh stop, start"
            case "smtp_outage":
                url = f"http://127.0.0.1:{p.smtp_control}/control"
                await self._control(url, {"refuse_for_s": planned.duration_s})
                await asyncio.sleep(planned.duration_s)
                detail = f"MAIL and DATA refused (451) for {planned.duration_s:g} s"
            case "sms_errors":
                url = f"http://127.0.0.1:{p.sms}/control"
                half = planned.duration_s / 2
                await self._control(
                    url, {"fail_status": 429, "fail_count": None, "retry_after_s": 2}
                )
                await asyncio.sleep(half)
                await self._control(url, {"fail_status": 500, "fail_count": None})
                await asyncio.sleep(half)
                await self._control(url, {"fail_status": None})
                detail = f"429 (Retry-After 2) for {half:g} s, then 500 for {half:g} s"
            case "slow_consumer":
                self.supervisor.pause(planned.target)
                try:
                    await asyncio.sleep(planned.duration_s)
                finally:
                    self.supervisor.resume(planned.target)
                detail = f"SIGSTOP for {planned.duration_s:g} s, then SIGCONT"
            case "poison":
                records = poison.poisons(f"{int(started)}")
                sent = await asyncio.to_thread(poison.produce, self.layout.bootstrap, records)
                self.poison_sent.extend(sent)
                detail = f"{len(sent)} records on {len({s.topic for s in sent})} topics"
            case _:
                raise ValueError(f"unknown fault kind {planned.kind!r}")
        fault = Fault(planned.kind, planned.target, _at(started), _at(time.time()), detail)
        self.done.append(fault)
        return fault

    async def play(self, planned: list[PlannedFault], load_started: float) -> None:
        """Each fault at its moment, one after another (their slots do not overlap)."""
        for fault in sorted(planned, key=lambda f: f.at_s):
            delay = load_started + fault.at_s - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            try:
                await self.cause(fault)
            except Exception as exc:  # recorded, and the run goes on to the next fault
                now = _at(time.time())
                self.done.append(
                    Fault(fault.kind, fault.target, now, now, f"could not cause it: {exc}")
                )
