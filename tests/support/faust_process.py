"""A Faust worker (triggers, segmenter) run as SREs run it (`python -m services.<name>`), in
its own process.

Tests can stop it gently, kill it with SIGKILL and start it again on the same data folder,
which is how crashes and restarts between scheduling and firing are exercised.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from kafka import KafkaConsumer, TopicPartition
from kafka.structs import OffsetAndMetadata

from services.segmenter.worker import INPUT_TOPICS as SEGMENTER_INPUTS
from services.triggers.worker import INPUT_TOPICS as TRIGGERS_INPUTS
from shared.topics import TopicSpec
from tests.support.ingest_process import ROOT, free_port


class FaustWorkerProcess:
    name = ""
    """The service: `python -m services.<name>`, settings `NUDGE_<NAME>_*`."""
    input_topics: tuple[TopicSpec, ...] = ()

    def __init__(
        self,
        kafka: str,
        data_dir: Path,
        log_path: Path,
        *,
        app_id: str,
        time_scale: float,
        clock_origin: float,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.port = free_port()
        self.log_path = log_path
        prefix = f"NUDGE_{self.name.upper()}_"
        settings = {
            "APP_ID": app_id,
            "DATA_DIR": str(data_dir),
            "PORT": str(self.port),
            "TIME_SCALE": str(time_scale),
            "CLOCK_ORIGIN": str(clock_origin),
            "TICK_INTERVAL_S": "0.05",
            "LOG_LEVEL": "warning",
            "START_FROM": "latest",  # not the history other tests left behind
        }
        self.env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": kafka,
            **{prefix + name: value for name, value in settings.items()},
            **(extra_env or {}),
        }
        self._proc: subprocess.Popen[bytes] | None = None
        self.kafka = kafka
        self.group = app_id
        self.first_offsets: dict[TopicPartition, int] = {}
        """The group's committed offsets when it first became ready: where a replay rewinds to."""

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, ready_timeout: float = 90.0) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", f"services.{self.name}"],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self._wait_ready(ready_timeout)
        if not self.first_offsets:
            self.first_offsets = self.committed_offsets()

    def committed_offsets(self) -> dict[TopicPartition, int]:
        """The group's committed offset per input partition (-1 where it has none)."""
        consumer = KafkaConsumer(
            bootstrap_servers=self.kafka, group_id=self.group, enable_auto_commit=False
        )
        try:
            partitions = [
                TopicPartition(spec.name, p)
                for spec in self.input_topics
                for p in sorted(consumer.partitions_for_topic(spec.name) or ())
            ]
            committed = {tp: consumer.committed(tp) for tp in partitions}
            return {tp: -1 if offset is None else offset for tp, offset in committed.items()}
        finally:
            consumer.close()

    def rewind(self) -> None:
        """Move the (stopped) group back to where it first started: a replay of its input."""
        consumer = KafkaConsumer(
            bootstrap_servers=self.kafka, group_id=self.group, enable_auto_commit=False
        )
        try:
            consumer.commit(
                {tp: OffsetAndMetadata(o, "", -1) for tp, o in self.first_offsets.items()}
            )
        finally:
            consumer.close()

    def wait_caught_up(self, timeout: float = 120) -> None:
        """Until the group has committed up to the input topics' current end offsets."""
        consumer = KafkaConsumer(bootstrap_servers=self.kafka)
        try:
            end = consumer.end_offsets(list(self.first_offsets))
        finally:
            consumer.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            committed = self.committed_offsets()
            if all(committed.get(tp, -1) >= offset for tp, offset in end.items()):
                return
            time.sleep(0.5)
        raise AssertionError(f"group {self.group} did not catch up in {timeout}s")

    def _wait_ready(self, timeout: float) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                tail = self.log_path.read_text()[-3000:]
                raise RuntimeError(f"{self.name} exited with {self._proc.returncode}: {tail}")
            try:
                if httpx.get(f"{self.base_url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        log = self.log_path.read_text()[-3000:]
        raise TimeoutError(f"{self.name} not ready in {timeout}s: {log}")

    def metric(self, name: str) -> float:
        """Sum of a Prometheus metric's samples (all label sets)."""
        text = httpx.get(f"{self.base_url}/metrics", timeout=5).text
        total = 0.0
        for line in text.splitlines():
            if line.startswith(name) and line[len(name)] in " {":
                total += float(line.rsplit(" ", 1)[1])
        return total

    def stop(self) -> None:
        """SIGTERM and wait: a clean shutdown, as Kubernetes does it."""
        self._end(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL: a crash, nothing flushed or committed on the way out."""
        self._end(signal.SIGKILL)

    def _end(self, sig: signal.Signals) -> None:
        if self._proc is None or self._proc.poll() is not None:
            return
        self._proc.send_signal(sig)
        try:
            self._proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


class TriggersProcess(FaustWorkerProcess):
    name = "triggers"
    input_topics = TRIGGERS_INPUTS

    def __init__(
        self,
        kafka: str,
        data_dir: Path,
        log_path: Path,
        *,
        app_id: str,
        time_scale: float,
        clock_origin: float,
        campaigns_dir: Path | None = None,
    ) -> None:
        extra = (
            {} if campaigns_dir is None else {"NUDGE_TRIGGERS_CAMPAIGNS_DIR": str(campaigns_dir)}
        )
        super().__init__(
            kafka,
            data_dir,
            log_path,
            app_id=app_id,
            time_scale=time_scale,
            clock_origin=clock_origin,
            extra_env=extra,
        )


class SegmenterProcess(FaustWorkerProcess):
    name = "segmenter"
    input_topics = SEGMENTER_INPUTS
