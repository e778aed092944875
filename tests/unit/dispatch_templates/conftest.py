"""One store of the shipped templates for the whole package: loading compiles everything."""

from __future__ import annotations

import pytest

from services.dispatch.templates import TemplateStore


@pytest.fixture(scope="session")
def store() -> TemplateStore:
    return TemplateStore.load()
