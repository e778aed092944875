"""One consumer group's reader run beside an HTTP service: the feedback service's index,
attribution and reports, the segmenter API's profile projection.

Each in a group of its own, so that each commits only what it has done itself and an outage of
one (the broker refusing conversions, say) never holds up another. Each is started in the
running loop, as aiokafka requires, after the service's producer; a new group starting
`latest` is pinned to the topics' ends first. A poll that fails is read again, after a growing
pause.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import Literal, Protocol

from aiokafka import AIOKafkaConsumer

from shared.kafka import consumer_fetch_options, pin_new_group_to_end, poll_gathering_options
from shared.polls import PollGivenBack
from shared.settings import KafkaSettings

log = logging.getLogger(__name__)
FIRST_RETRY_S = 0.5
LAST_RETRY_S = 30.0


class Reader(Protocol):
    async def run_once(self) -> int:
        """Read one poll, act on it, commit it (or raise, and it is read again); how many
        records it held."""
        ...


class GroupRunner:
    """Starts and stops one consumer group's reader (`make` builds it around the consumer)."""

    def __init__(
        self,
        kafka: KafkaSettings,
        name: str,
        group: str,
        topics: Sequence[str],
        make: Callable[[AIOKafkaConsumer], Reader],
        *,
        start_from: Literal["earliest", "latest"],
    ) -> None:
        self.kafka = kafka
        self.name = name
        self.group = group
        self.topics = tuple(topics)
        self.make = make
        self.start_from = start_from
        """Where a *new* group starts (an existing one resumes from its committed offsets)."""
        self.consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def assigned(self) -> bool:
        """Readiness: the consumer has its partitions."""
        return self.consumer is not None and bool(self.consumer.assignment())

    async def start(self) -> None:
        if self.start_from == "latest":
            await asyncio.to_thread(pin_new_group_to_end, self.kafka, self.group, self.topics)
        self.consumer = AIOKafkaConsumer(
            *self.topics,
            **self.kafka.client_options(),
            **consumer_fetch_options(),
            **poll_gathering_options(),
            group_id=self.group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        await self.consumer.start()
        reader = self.make(self.consumer)
        self._task = asyncio.create_task(read_forever(reader, self.name), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.consumer is not None:
            await self.consumer.stop()


async def read_forever(reader: Reader, name: str) -> None:
    """Read poll after poll; survive errors (the poll is read again)."""
    delay = FIRST_RETRY_S
    while True:
        try:
            await reader.run_once()
            delay = FIRST_RETRY_S
            continue
        except PollGivenBack as exc:
            cause = None if exc.transient else exc.__cause__
            log.warning("%s: %s; retrying in %.1fs", name, exc, delay, exc_info=cause)
        except Exception:  # a commit refused after a rebalance, say: the poll is read again
            log.exception("%s: the poll failed; retrying in %.1fs", name, delay)
        await asyncio.sleep(delay)
        delay = min(delay * 2, LAST_RETRY_S)
