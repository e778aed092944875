"""The in-memory report store against the one contract suite."""

from __future__ import annotations

from services.feedback.reports.store import MemoryReportStore, ReportStore
from tests.support.report_store_contract import ReportStoreContract


class TestMemoryReportStore(ReportStoreContract):
    def store(self) -> ReportStore:
        return MemoryReportStore()
