"""Name-based ids (RFC 4122 version 5) of one namespace, through the standard library's
`uuid.uuid5`: the same name always gives the same id, which is what makes a repeated
trigger, message or event recognisable downstream."""

from __future__ import annotations

import uuid


class NameIds:
    """The ids of one namespace, as strings."""

    def __init__(self, namespace: uuid.UUID) -> None:
        self._namespace = namespace

    def __call__(self, name: str) -> str:
        return str(uuid.uuid5(self._namespace, name))
