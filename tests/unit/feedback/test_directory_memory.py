"""The in-memory directory against the one contract suite."""

from __future__ import annotations

from services.feedback.directory import Directory
from services.feedback.directory.memory import MemoryDirectory
from tests.support.directory_contract import DirectoryContract


class TestMemoryDirectory(DirectoryContract):
    def directory(self) -> Directory:
        return MemoryDirectory()
