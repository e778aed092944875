"""Click tracking and the open pixel in a rendered email's HTML.

The HTML is parsed with lexbor (selectolax), an HTML5 parser: every `<a href>` and
`<area href>` goes through `track` (which leaves alone what it must not rewrite: the feedback
service's own links, anything but an absolute http(s) URL), links the template typed itself
included, as a mailbox provider's or an ESP's click tracking does; and the pixel goes at the
end of the body. A link the shop wants left alone carries `data-nudge-track="off"` (the
attribute is dropped from what is sent).

The document is written back from the parsed tree, so it comes out as HTML5 serialises it:
the same elements, attributes and text, with what the parser infers spelt out (`<tbody>` in
tables, `<html>`, `<head>` and `<body>` when a fragment has none). Comments are kept as they
are, Outlook's conditional comments too; links inside them (VML buttons) are not tracked.
lexbor rather than the standard library's parser, which could have kept the source as it was
around each link: the standard library's took several times as much CPU per email (README,
"Benchmarks", dispatch).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from selectolax.lexbor import LexborHTMLParser

OPT_OUT: Final = "data-nudge-track"
"""`<a href="..." data-nudge-track="off">`: this link is sent as it is."""
_LINK_TAGS: Final = ("a", "area")


def pixel_tag(url: str) -> str:
    """The open pixel: a 1x1 image, empty alt text (screen readers skip it)."""
    return f'<img src="{url}" width="1" height="1" alt="">'


def rewrite(html: str, track: Callable[[str], str] | None, pixel_url: str | None) -> str:
    """`html` with its links tracked (`track`: None, none are) and the pixel at the end of its
    body (`pixel_url`: None, no pixel). `pixel_url` must need no escaping (a signed token's)."""
    if track is None and pixel_url is None:
        return html
    tree = LexborHTMLParser(html)
    for node in (node for tag in _LINK_TAGS for node in tree.tags(tag)):
        attributes = node.attrs
        if "href" not in attributes:
            continue
        opted_out = (attributes.get(OPT_OUT) or "").strip().lower() == "off"
        if OPT_OUT in attributes:
            del attributes[OPT_OUT]
        href = (attributes.get("href") or "").strip()
        if track is None or opted_out or not href:
            continue
        tracked = track(href)
        if tracked != href:
            attributes["href"] = tracked
    body = tree.body
    if pixel_url is not None and body is not None:
        pixel = LexborHTMLParser(pixel_tag(pixel_url)).css_first("img")
        if pixel is not None:
            body.insert_child(pixel)
    written = tree.html
    return html if written is None else written
