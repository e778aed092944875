"""Ingest's partitioner must place every key exactly where Kafka's default partitioner does."""

from __future__ import annotations

import random

from aiokafka.partitioner import DefaultPartitioner, murmur2

from services.ingest import partitioning


def test_murmur2_matches_the_kafka_clients_for_every_tail_length() -> None:
    rng = random.Random(7)
    for length in range(64):
        for _ in range(25):
            key = rng.randbytes(length)
            assert partitioning.murmur2(key) == murmur2(key)


def test_keys_land_on_the_default_partitioners_choice() -> None:
    rng = random.Random(11)
    for count in (1, 3, 12, 50):
        partitions = list(range(count))
        for _ in range(200):
            key = f"shop-{rng.randrange(100)}:c-{rng.randrange(10**9)}".encode()
            expected = DefaultPartitioner()(key, partitions, partitions)
            assert partitioning.partition_for(key, partitions) == expected
