"""The parts every Segment call shares: message id, user/anonymous ids, timestamp."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from services.ingest.adapters._build import When, Who, envelope, first_time
from services.ingest.adapters._payload import Node
from services.ingest.adapters.errors import MappingError
from shared.events.envelope import EventEnvelope, derived_event_id

E = TypeVar("E", bound=EventEnvelope)

ORIGIN = "segment"


@dataclass(frozen=True, slots=True)
class Call:
    """A track or identify call's common fields, checked once."""

    shop_id: str
    message_id: str
    who: Who
    when: When

    @classmethod
    def read(cls, root: Node, shop_id: str) -> Call:
        user_id = root.opt_ident("userId")
        anonymous_id = root.opt_ident("anonymousId")
        if user_id is None and anonymous_id is None:
            raise MappingError("userId", "userId or anonymousId is required")
        # Segment's own order of trust: timestamp is corrected for client clock skew.
        when = first_time(root, ("timestamp", "originalTimestamp", "sentAt"), None)
        return cls(
            shop_id=shop_id,
            message_id=root.ident("messageId"),
            who=Who(user_id, "userId", anonymous_id, "anonymousId"),
            when=when,
        )

    def event_id(self) -> str:
        """Segment retries keep the messageId, so a retried call maps to the same id."""
        return self.event_id_for(self.message_id)

    def event_id_for(self, origin_id: str) -> str:
        return derived_event_id(self.shop_id, ORIGIN, origin_id)

    def event(
        self, cls: type[E], data: Any, *, event_id: str | None = None, who: Who | None = None
    ) -> E:
        return envelope(
            cls,
            event_id=event_id or self.event_id(),
            source=f"/shops/{self.shop_id}/segment",
            shop_id=self.shop_id,
            when=self.when,
            who=who or self.who,
            data=data,
        )
