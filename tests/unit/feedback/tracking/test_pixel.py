"""The pixel is a well-formed, transparent 1x1 GIF of 43 bytes."""

from __future__ import annotations

import struct

from services.feedback.tracking.pixel import GIF


def test_a_transparent_one_by_one_gif89a() -> None:
    assert len(GIF) == 43
    assert GIF[:6] == b"GIF89a"
    assert struct.unpack("<HH", GIF[6:10]) == (1, 1)
    packed = GIF[10]
    assert packed & 0x80 and (packed & 0x07) == 0  # a global palette of 2 colours
    extension = GIF[19:27]
    assert extension[:3] == b"\x21\xf9\x04" and extension[3] & 0x01  # transparency on
    transparent = extension[6]
    assert transparent == 0
    assert GIF[27] == 0x2C and struct.unpack("<HHHH", GIF[28:36]) == (0, 0, 1, 1)
    assert GIF[-1:] == b"\x3b"
