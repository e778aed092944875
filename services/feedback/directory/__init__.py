"""What the feedback service knows of contacts and sent messages, learnt from the topics.

Inbound SMS name phone numbers, provider callbacks name provider message ids, bounce
notifications name addresses and Message-IDs: the directory turns each into the shop, customer
and message it concerns. It is a port (`Directory`) with two adapters that pass one contract
suite: in memory (unit tests, demos) and PostgreSQL (the service).
"""

from services.feedback.directory.model import (
    ConsentFact,
    Contact,
    ContactFacts,
    ContactRef,
    Directory,
    SentMessage,
    SurveyAsk,
)

__all__ = [
    "ConsentFact",
    "Contact",
    "ContactFacts",
    "ContactRef",
    "Directory",
    "SentMessage",
    "SurveyAsk",
]
