"""Click tracking and the open pixel in an email's HTML, through an HTML5 parser: every link
element, with what the parser decodes, nothing else of the document changed in substance."""

from __future__ import annotations

from selectolax.lexbor import LexborHTMLParser

from services.dispatch.tracked_html import rewrite

PIXEL = "https://feedback.example/o/k0.tok.mac.gif"
EMAIL = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Acme</title></head>
<body style="margin:0">
<!--[if mso]><v:roundrect href="https://acme.example/mso">Shop</v:roundrect><![endif]-->
<p>Fish &amp; chips&nbsp;&copy; “quoted”</p>
<a href="https://acme.example/cart?a=1&amp;b=2" style="color:#111">Your cart</a>
<a href="mailto:help@acme.example">Write to us</a>
<a href="#top">Top</a>
<A HREF="HTTPS://ACME.EXAMPLE/UP">Upper</A>
<a href="https://acme.example/legal" data-nudge-track="off">Terms</a>
<map name="m"><area href="https://acme.example/area" alt="x"></map>
<img src="https://cdn.acme.example/logo.png" alt="Acme">
</body></html>
"""


def track(url: str) -> str:
    return url if not url.lower().startswith("https://") else f"https://t.example/c/{len(url)}"


def tracked_targets(html: str) -> dict[str, str]:
    tree = LexborHTMLParser(html)
    return {
        n.text(strip=True) or n.attrs["alt"] or "": n.attrs["href"] or ""
        for n in tree.css("a, area")
    }


def test_every_link_element_goes_through_track_with_its_decoded_href() -> None:
    seen: list[str] = []

    def spy(url: str) -> str:
        seen.append(url)
        return track(url)

    out = rewrite(EMAIL, spy, None)
    assert seen == [
        "https://acme.example/cart?a=1&b=2",
        "mailto:help@acme.example",
        "#top",
        "HTTPS://ACME.EXAMPLE/UP",
        "https://acme.example/area",
    ]
    assert tracked_targets(out) == {
        "Your cart": "https://t.example/c/33",
        "Write to us": "mailto:help@acme.example",
        "Top": "#top",
        "Upper": "https://t.example/c/23",
        "Terms": "https://acme.example/legal",
        "x": "https://t.example/c/25",
    }


def test_a_link_marked_off_is_sent_as_written_without_the_marker() -> None:
    out = rewrite(EMAIL, track, None)
    assert 'href="https://acme.example/legal"' in out
    assert "data-nudge-track" not in out


def test_the_pixel_is_the_last_thing_in_the_body() -> None:
    out = rewrite(EMAIL, None, PIXEL)
    body = LexborHTMLParser(out).body
    assert body is not None
    last = body.last_child
    while last is not None and last.tag == "-text" and not (last.text() or "").strip():
        last = last.prev
    assert last is not None and last.tag == "img"
    assert dict(last.attrs) == {"src": PIXEL, "width": "1", "height": "1", "alt": ""}
    assert out.count("<img") == 2


def test_without_tracking_nothing_but_the_pixel_changes() -> None:
    out = rewrite(EMAIL, None, PIXEL)
    assert tracked_targets(out) == tracked_targets(EMAIL)


def test_text_comments_and_the_doctype_survive() -> None:
    out = rewrite(EMAIL, track, PIXEL)
    assert out.startswith("<!DOCTYPE html>")
    assert (
        '<!--[if mso]><v:roundrect href="https://acme.example/mso">Shop</v:roundrect><![endif]-->'
        in out
    )
    text = LexborHTMLParser(out).css_first("p")
    assert text is not None and text.text() == "Fish & chips\u00a0© “quoted”"


def test_a_fragment_without_a_body_gets_one_for_the_pixel() -> None:
    out = rewrite("<p>Hi <a href='https://acme.example'>there</a></p>", track, PIXEL)
    body = LexborHTMLParser(out).body
    assert body is not None and body.css_first(f'img[src="{PIXEL}"]') is not None
    assert tracked_targets(out) == {"there": "https://t.example/c/20"}


def test_nothing_to_do_leaves_the_document_untouched() -> None:
    assert rewrite(EMAIL, None, None) is EMAIL
