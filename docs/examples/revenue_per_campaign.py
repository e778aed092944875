"""Revenue per campaign: messages sent (messages.status.v1), and the orders credited to them
with their revenue by currency (conversions.v1), per shop and campaign.

Reads both topics to their end as of the start, without a consumer group (no offsets are
committed), and prints a tab-separated table (`| column -t -s $'\\t'` aligns it). Every record
is counted once by its id: delivery is at least once. A conversion names its message's
campaign itself, so no join with the sends is needed. Needs kafka-python; connects with the
KAFKA_* variables the services use (docs/ANALYSTS.md).

    python revenue_per_campaign.py [--shop SHOP] [--since 2026-11-01T00:00:00Z]
"""

import argparse
import json
import os
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from kafka import KafkaConsumer, TopicPartition

env = os.environ.get
KAFKA = {
    "bootstrap_servers": env("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:19092"),
    "security_protocol": env("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT"),
    "sasl_mechanism": env("KAFKA_SASL_MECHANISM"),
    "sasl_plain_username": env("KAFKA_SASL_USERNAME"),
    "sasl_plain_password": env("KAFKA_SASL_PASSWORD"),
    "ssl_cafile": env("KAFKA_SSL_CAFILE"),
}


def events(topic: str, shop: str | None, since: datetime | None) -> Iterator[dict[str, Any]]:
    """Every envelope of `topic` (of `shop`, when given) up to the end as of now."""
    consumer = KafkaConsumer(**KAFKA, enable_auto_commit=False)  # no group_id: nothing moves
    parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
    consumer.assign(parts)
    end = consumer.end_offsets(parts)
    if since is None:
        consumer.seek_to_beginning()
    else:
        starts = consumer.offsets_for_times({tp: int(since.timestamp() * 1000) for tp in parts})
        for tp in parts:
            consumer.seek(tp, starts[tp].offset if starts[tp] else end[tp])
    prefix = f"{shop}:".encode() if shop else b""  # keys are shop:customer
    while any(consumer.position(tp) < end[tp] for tp in parts):
        for tp, records in consumer.poll(timeout_ms=1000).items():
            for record in records:
                if record.offset < end[tp] and record.key.startswith(prefix):
                    yield json.loads(record.value)
    consumer.close()


def moment(text: str) -> datetime:
    """An ISO 8601 time; UTC when it has no offset."""
    at = datetime.fromisoformat(text)
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def main() -> None:
    parser = argparse.ArgumentParser(description="Revenue per campaign, per shop.")
    parser.add_argument("--shop", help="only this shop")
    parser.add_argument("--since", type=moment, help="only records from this time on")
    args = parser.parse_args()
    shop, since = args.shop, args.since
    sent: dict[tuple[str, str], set[str]] = defaultdict(set)  # message ids
    orders: dict[tuple[str, str], dict[str, Any]] = defaultdict(dict)  # conversion id: revenue
    for e in events("messages.status.v1", shop, since):
        if e["type"] == "message.sent":
            sent[e["shopid"], e["data"]["campaign_id"]].add(e["data"]["message_id"])
    for e in events("conversions.v1", shop, since):
        if e["type"] == "conversion.attributed":
            orders[e["shopid"], e["data"]["message"]["campaign_id"]][e["id"]] = e["data"]["revenue"]
    print("shop\tcampaign\tsent\tconversions\trevenue")
    for key in sorted(sent.keys() | orders.keys()):
        revenue: dict[str, Decimal] = defaultdict(Decimal)
        for money in orders[key].values():
            revenue[money["currency"]] += Decimal(money["amount"])
        total = ", ".join(f"{cur} {amount}" for cur, amount in sorted(revenue.items())) or "-"
        print(*key, len(sent[key]), len(orders[key]), total, sep="\t")


if __name__ == "__main__":
    main()
