"""Record sizes, declared once: what one record may hold, and what brokers and producers allow.

Ingest refuses an event whose encoded record would exceed `MAX_EVENT_BYTES` (a 413 or a
per-item rejection that says so) instead of letting the producer refuse it later. The topics'
`max.message.bytes` and every producer's `message.max.bytes` are derived from the same
figures here, so the three can never disagree. Dead letters carry a refused record's bytes
plus the reason, escaped once more as JSON text: their topics allow twice a record.
"""

from __future__ import annotations

from typing import Final

MAX_EVENT_BYTES: Final = 1024 * 1024
"""The largest value of one record on a data topic (an encoded event, trigger, status...)."""

RECORD_OVERHEAD_BYTES: Final = 64 * 1024
"""Room for the key, headers and the record batch's framing around one value."""

MAX_DEAD_LETTER_BYTES: Final = 2 * MAX_EVENT_BYTES + RECORD_OVERHEAD_BYTES
"""The largest value of one dead letter: a record's bytes escaped as JSON text, and why."""

TOPIC_MAX_MESSAGE_BYTES: Final = MAX_EVENT_BYTES + RECORD_OVERHEAD_BYTES
"""Data topics' `max.message.bytes`: one record of the largest size always fits a batch."""

DEAD_LETTER_TOPIC_MAX_MESSAGE_BYTES: Final = MAX_DEAD_LETTER_BYTES + RECORD_OVERHEAD_BYTES
"""Dead-letter topics' `max.message.bytes`."""

PRODUCER_MAX_REQUEST_BYTES: Final = DEAD_LETTER_TOPIC_MAX_MESSAGE_BYTES
"""Every producer's `message.max.bytes` (librdkafka) / `max_request_size` (aiokafka, Faust):
large enough for the largest record any topic takes; each topic still enforces its own."""

CONSUMER_MAX_PARTITION_FETCH_BYTES: Final = DEAD_LETTER_TOPIC_MAX_MESSAGE_BYTES
"""What every consumer asks of one partition per fetch (aiokafka's `max_partition_fetch_bytes`,
Faust's `consumer_max_fetch_size`): the largest record batch any topic takes. Brokers return an
oversized first batch anyway (KIP-74); asking for it keeps that from depending on the protocol
version a client negotiates."""
