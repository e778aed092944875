"""What a tracked click may redirect to: absolute http(s) URLs with a host, nothing a browser
could read as another host or another scheme."""

from __future__ import annotations

import pytest

from shared.link_targets import MAX_LENGTH, redirectable


@pytest.mark.parametrize(
    "url",
    [
        "https://shop.example",
        "https://shop.example/cart/recover/abc123?utm_source=nudge&x=%20y#top",
        "HTTPS://SHOP.EXAMPLE/Up",
        "http://127.0.0.1:8080/path",
        "https://[2001:db8::1]/p",
        "https://xn--caf-dma.example/produits/caf%C3%A9",
    ],
)
def test_absolute_http_urls_with_a_host_may_be_followed(url: str) -> None:
    assert redirectable(url)


@pytest.mark.parametrize(
    "url",
    [
        "",
        "javascript:alert(1)",
        "JaVaScRiPt://shop.example/%0aalert(1)",
        "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
        "mailto:help@shop.example",
        "//evil.example/path",
        "/relative/path",
        "https:evil.example",
        "https:/evil.example",
        "https:///evil.example",
        "https://shop.example@evil.example/",
        "https://user:pass@shop.example/",
        "https://shop.example\\@evil.example/",
        "https:\\\\evil.example",
        "https://evil.example\\.shop.example/",  # a browser goes to evil.example
        "https://shop.example/\r\nSet-Cookie: a=b",
        "https://shop.example/\tx",
        "https://shop.example/a b",
        "https://shop.example:99999999/",
        "https://shop.example:port/",
        "https://café.example/",
        "ftp://shop.example/file",
        "https://shop.example/" + "a" * MAX_LENGTH,
    ],
)
def test_anything_else_may_not(url: str) -> None:
    assert not redirectable(url)
