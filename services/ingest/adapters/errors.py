"""Why a platform payload could not become a Nudge event.

The HTTP layer turns these into a 4xx answer or a dead letter; `field` tells the shop's
developer exactly which part of their payload to fix.
"""

from __future__ import annotations


class MappingError(Exception):
    """A payload that cannot become an event; `field` is a dotted path into the payload."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class UnsupportedTopic(MappingError):
    """A Shopify topic we do not map (field `X-Shopify-Topic`).

    A subclass so the HTTP layer can acknowledge it (the shop subscribed to more than we
    use) rather than treat it as a broken payload.
    """
