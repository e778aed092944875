"""The TwiML answer: well-formed XML with the text escaped, whatever the text holds."""

from __future__ import annotations

from xml.etree import ElementTree

from services.feedback.sms.twiml import twiml


def test_a_message_is_one_message_element_in_a_response() -> None:
    text = 'Demo & Co <shop>: "Reply START" to resubscribe 🎉 ünïcode'
    document = twiml(text)
    assert document.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    root = ElementTree.fromstring(document)
    assert root.tag == "Response"
    assert [child.tag for child in root] == ["Message"]
    assert root[0].text == text
    assert b"&amp;" in document and b"&lt;shop&gt;" in document


def test_nothing_to_say_is_an_empty_response() -> None:
    for nothing in (None, ""):
        root = ElementTree.fromstring(twiml(nothing))
        assert root.tag == "Response" and len(root) == 0 and not (root.text or "").strip()
