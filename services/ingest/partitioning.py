"""Kafka's default partitioner for keyed records, computed once per record by ingest.

The producer's own partitioner hashes with a byte-at-a-time pure-Python murmur2 and rebuilds
the partition lists for every record; this one reads the key four bytes at a time. Same
function as the Java client's (`toPositive(murmur2(key)) % partitions`), so a customer's
records land on the partition any Kafka client would choose.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

_SEED = 0x9747B28C
_M = 0x5BD1E995
_MASK = 0xFFFFFFFF


def murmur2(data: bytes) -> int:
    """MurmurHash2 as org.apache.kafka.common.utils.Utils.murmur2, unsigned 32-bit."""
    length = len(data)
    h = (_SEED ^ length) & _MASK
    words = length // 4
    for k in struct.unpack_from(f"<{words}I", data):
        k = (k * _M) & _MASK
        k ^= k >> 24
        h = ((h * _M) & _MASK) ^ ((k * _M) & _MASK)
    tail = words * 4
    extra = length - tail
    if extra >= 3:
        h ^= data[tail + 2] << 16
    if extra >= 2:
        h ^= data[tail + 1] << 8
    if extra >= 1:
        h = ((h ^ data[tail]) * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    return h ^ (h >> 15)


def partition_for(key: bytes, partitions: Sequence[int]) -> int:
    """The partition of a keyed record among the topic's partitions (sorted by id)."""
    return partitions[(murmur2(key) & 0x7FFFFFFF) % len(partitions)]
