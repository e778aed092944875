"""The TwiML answer to an inbound message: `<Response>`, with one `<Message>` when the
customer gets a text back (a keyword's confirmation or the help text), empty otherwise.

Built with xml.etree.ElementTree, which escapes the text; nothing is put together as strings.
"""

from __future__ import annotations

from xml.etree import ElementTree

MEDIA_TYPE = "text/xml; charset=utf-8"
"""What Twilio's docs answer with; it also takes application/xml."""


def twiml(message: str | None = None) -> bytes:
    """`<?xml ...?><Response><Message>message</Message></Response>`, or an empty Response."""
    response = ElementTree.Element("Response")
    if message:
        ElementTree.SubElement(response, "Message").text = message
    return bytes(ElementTree.tostring(response, encoding="utf-8", xml_declaration=True))
