"""Links in plain text (email text parts, SMS): found between whitespace, without the
sentence's punctuation or the brackets around them."""

from __future__ import annotations

import pytest

from services.dispatch.tracked_text import rewrite


def track(url: str) -> str:
    return f"<T:{url}>"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Pick up here: https://shop.example/cart", "Pick up here: <T:https://shop.example/cart>"),
        ("See https://shop.example/cart.", "See <T:https://shop.example/cart>."),
        ("(https://shop.example/a), then", "(<T:https://shop.example/a>), then"),
        ("<https://shop.example/a>", "<<T:https://shop.example/a>>"),
        ('"https://shop.example/a?b=1&c=2"!', '"<T:https://shop.example/a?b=1&c=2>"!'),
        (
            "https://en.wikipedia.org/wiki/Java_(language) is it",
            "<T:https://en.wikipedia.org/wiki/Java_(language)> is it",
        ),
        ("HTTP://SHOP.EXAMPLE/UP?", "<T:HTTP://SHOP.EXAMPLE/UP>?"),
        (
            "two\nhttps://a.example\n\nhttps://b.example",
            "two\n<T:https://a.example>\n\n<T:https://b.example>",
        ),
    ],
)
def test_each_link_goes_through_track(text: str, expected: str) -> None:
    assert rewrite(text, track) == expected


@pytest.mark.parametrize(
    "text",
    [
        "No links here, Zoë: reply STOP to opt out",
        "Write to help@shop.example or call +31 20 123 4567",
        "shop.example/cart and www.shop.example are not links without their scheme",
        "ftp://shop.example/file and mailto:help@shop.example are not web links",
        "httpsomething://x and xhttps://y",
    ],
)
def test_what_is_not_a_web_link_is_left_as_it_is(text: str) -> None:
    assert rewrite(text, track) == text


def test_whitespace_and_the_rest_of_the_text_are_kept_exactly() -> None:
    text = "  Hi Ada,\t\nyour cart:  https://shop.example/c  \u2014 see you  "
    assert (
        rewrite(text, track)
        == "  Hi Ada,\t\nyour cart:  <T:https://shop.example/c>  \u2014 see you  "
    )
