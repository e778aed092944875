"""The report page: the same figures as the JSON, for people, with a chart.

Rendered on the server like the other pages (services/feedback/unsubscribe/pages.py: autoescaped
Jinja2, the same security headers, no script, no external asset): a bar chart drawn as inline
SVG (chart.py) with a `<title>` and a description, and beside it a table holding the very
figures the bars show, so that screen readers and people who cannot tell the colours apart lose
nothing. A GET form changes the period; the link's token stays in the path.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Final
from urllib.parse import quote, urlencode

from starlette.responses import HTMLResponse

from services.feedback.reports.chart import grouped_bars
from services.feedback.reports.models import CampaignList, CampaignReport, Figures
from services.feedback.reports.period import Granularity
from services.feedback.unsubscribe import pages
from shared.http.problems import FieldError

CHARTED: Final = ("sent", "opened", "clicked")
"""What the charts show, per campaign or per day or week (the tables show every figure)."""
COLUMNS: Final = (
    ("sent", "Sent"),
    ("delivered", "Delivered"),
    ("bounced", "Bounced"),
    ("opened", "Opened"),
    ("clicked", "Clicked"),
    ("replied", "Replied"),
    ("unsubscribed", "Unsubscribed"),
    ("converted", "Orders"),
)
TOTALS: Final = (
    *COLUMNS[:5],
    ("machine_opened", "Opened by machines"),
    ("machine_clicked", "Clicked by scanners"),
    ("failed", "Failed (not sent)"),
    *COLUMNS[5:7],
    ("complained", "Complaints"),
    COLUMNS[7],
)


@dataclass(frozen=True)
class Row:
    label: str
    link: str | None
    values: list[str]


@dataclass(frozen=True)
class Form:
    action: str
    first: date
    last: date
    granularity: str | None
    """None: the page has no buckets to choose."""


def _score(value: float | None) -> str:
    return "no answers" if value is None else f"{value:.1f}"


def _revenue(figures: Figures) -> str:
    if not figures.revenue:
        return "0"
    return ", ".join(f"{r.amount} {r.currency}" for r in figures.revenue)


def _values(figures: Figures) -> list[str]:
    counts = figures.model_dump()
    return [str(counts[name]) for name, _ in COLUMNS] + [_revenue(figures)]


def _query(first: date, last: date, granularity: Granularity | None = None) -> str:
    params = {"from": first.isoformat(), "to": last.isoformat()}
    if granularity is not None:
        params["granularity"] = granularity.value
    return urlencode(params)


def _summary(figures: Figures) -> dict[str, Any]:
    """What the totals section shows: every count, revenue, scores with their answers, tags."""
    counts = figures.model_dump()
    return {
        "totals": [(label, str(counts[name])) for name, label in TOTALS],
        "revenue": [(r.currency, r.amount) for r in figures.revenue],
        "csat": figures.csat,
        "csat_text": _score(figures.csat.score),
        "nps": figures.nps,
        "nps_text": _score(figures.nps.score),
        "tags": [(t.tag, t.count) for t in figures.top_tags],
    }


def campaigns_page(report: CampaignList, *, shop: str, base: str) -> HTMLResponse:
    """Every campaign of the shop on the period (`base`: the link's own path)."""
    period = report.period
    groups = [
        (c.campaign_id, [c.figures.model_dump()[name] for name in CHARTED])
        for c in report.campaigns
    ]
    chart = grouped_bars(
        f"Messages sent, opened and clicked per campaign, {period.first} to {period.last}",
        "Bars per campaign: sent, opened by a person, clicked by a person. "
        "The table after the chart holds the same figures.",
        CHARTED,
        groups,
    )
    query = _query(period.first, period.last)
    rows = [
        Row(c.campaign_id, f"{base}/campaigns/{quote(c.campaign_id)}?{query}", _values(c.figures))
        for c in report.campaigns
    ]
    return pages.render(
        "report.html.j2",
        title=f"{shop}: campaign report",
        heading=f"{shop}: campaigns",
        shop=shop,
        period=period,
        form=Form(base, period.first, period.last, None),
        back=None,
        chart=chart,
        row_heading="Campaign",
        columns=[label for _, label in COLUMNS] + ["Revenue"],
        rows=rows,
        total_row=Row("All campaigns", None, _values(report.total)),
        **_summary(report.total),
    )


def campaign_page(
    report: CampaignReport, *, shop: str, action: str, back: str | None
) -> HTMLResponse:
    """One campaign over the period, per day or week (`back`: the shop's page, when the link
    covers every campaign)."""
    period = report.period
    weekly = report.granularity is Granularity.WEEK

    def label(start: date, end: date) -> str:
        return f"{start} to {end}" if weekly and start != end else start.isoformat()

    groups = [
        (
            f"week of {b.start}" if weekly else b.start.isoformat(),
            [b.figures.model_dump()[name] for name in CHARTED],
        )
        for b in report.series
    ]
    chart = grouped_bars(
        f"{report.campaign_id}: messages sent, opened and clicked per "
        f"{'week' if weekly else 'day'}, {period.first} to {period.last}",
        f"Bars per {'week' if weekly else 'day'}: sent, opened by a person, clicked by a "
        "person. The table after the chart holds the same figures.",
        CHARTED,
        groups,
    )
    rows = [Row(label(b.start, b.end), None, _values(b.figures)) for b in report.series]
    return pages.render(
        "report.html.j2",
        title=f"{shop}: {report.campaign_id} report",
        heading=f"{shop}: {report.campaign_id}",
        shop=shop,
        period=period,
        form=Form(action, period.first, period.last, report.granularity.value),
        back=back,
        chart=chart,
        row_heading="Week" if weekly else "Day",
        columns=[label for _, label in COLUMNS] + ["Revenue"],
        rows=rows,
        total_row=Row("Whole period", None, _values(report.total)),
        **_summary(report.total),
    )


TITLES: Final = {
    404: "This report link does not work",
    410: "This report link has expired",
    422: "This report cannot be shown",
    503: "Please try again in a moment",
}
_FIXED: Final = {
    404: "This report link is not valid. Ask for a new one (`nudge reports url`).",
    410: "This report link has expired. Ask for a new one (`nudge reports url`).",
}
"""Statuses whose page says no more than this: a forged link learns nothing of why."""


def problem(
    status: int, detail: str, errors: list[FieldError], headers: dict[str, str]
) -> HTMLResponse:
    """What a refused report request shows (errors name the parameter)."""
    text = _FIXED.get(status) or detail[:1].upper() + detail[1:]
    page = pages.render(
        "report_problem.html.j2",
        status,
        title=TITLES.get(status, "This report cannot be shown"),
        detail=text,
        errors=[] if status in _FIXED else errors,
    )
    page.headers.update(headers)
    return page
