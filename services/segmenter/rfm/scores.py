"""RFM scores: recency, frequency and monetary value, each 1 (lowest) to 5 (highest)."""

from __future__ import annotations

import msgspec


class RfmScores(msgspec.Struct, frozen=True):
    r: int
    f: int
    m: int
