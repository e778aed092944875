"""The open pixel's image: a transparent 1x1 GIF89a, 43 bytes (a two-colour palette, colour 0
transparent through the graphic control extension, one LZW-coded pixel). Every `/o/` request
gets it, whatever its token: a broken image would show in the customer's message."""

from __future__ import annotations

from typing import Final

GIF: Final = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00"  # header, 1x1, global palette of 2 colours
    b"\x00\x00\x00\xff\xff\xff"  # the palette: black, white
    b"\x21\xf9\x04\x01\x00\x00\x00\x00"  # graphic control: colour 0 is transparent
    b"\x2c\x00\x00\x00\x00\x01\x00\x01\x00\x00"  # image descriptor: 1x1 at 0,0
    b"\x02\x02\x44\x01\x00"  # LZW minimum code size 2, one block: the pixel, colour 0
    b"\x3b"  # trailer
)
MEDIA_TYPE: Final = "image/gif"
