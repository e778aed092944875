"""The committed catalog page in a real browser (Debian's Chromium): the topic table and a
message's fields are there to read, from the file alone (nothing is fetched from elsewhere)."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import expect, sync_playwright

from services.catalog.asyncapi import PAGE_PATH

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]


def test_the_page_shows_the_topic_table_and_a_messages_fields() -> None:
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: `make test` installs it"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page()
            requested: list[str] = []
            page.on("request", lambda request: requested.append(request.url))
            page.goto(PAGE_PATH.as_uri())

            row = page.locator("#topic-table tr", has_text="conversions.v1").first
            expect(row).to_be_visible()
            expect(row).to_contain_text("feedback")  # written by
            expect(row).to_contain_text("30 days")

            page.locator("#event-index tr", has_text="order.placed").locator("a").click()
            fields = page.locator('[id="shop-events-v1--order.placed"] table.fields')
            expect(fields).to_be_in_viewport()
            expect(fields.locator("tr", has_text="data.total.currency")).to_contain_text("yes")
            assert requested == [PAGE_PATH.as_uri()]
        finally:
            browser.close()
