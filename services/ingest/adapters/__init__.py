"""Adapters from shop platforms' payloads (Shopify webhooks, Segment calls) to shop events.

Each returns a list of typed `ShopEvent`s (empty when a call is valid but means nothing to
Nudge) or raises `MappingError`, whose `field` is a dotted path into the payload.
"""

from services.ingest.adapters.errors import MappingError, UnsupportedTopic
from services.ingest.adapters.segment import map_segment_call
from services.ingest.adapters.shopify import SUPPORTED_TOPICS, map_shopify_webhook

__all__ = [
    "SUPPORTED_TOPICS",
    "MappingError",
    "UnsupportedTopic",
    "map_segment_call",
    "map_shopify_webhook",
]
