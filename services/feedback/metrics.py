"""Prometheus metrics of the feedback service (served on /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

REQUESTS = Counter(
    "nudge_feedback_requests_total", "HTTP requests by route and status code", ["route", "status"]
)
REQUEST_SECONDS = Histogram(
    "nudge_feedback_request_seconds",
    "HTTP request latency by route",
    ["route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
EVENTS = Counter(
    "nudge_feedback_events_total",
    "Feedback events published, by type",
    ["type"],
)
INDEXED = Counter(
    "nudge_feedback_indexed_records_total",
    "Records the index read, by topic and outcome (stored, ignored, parked)",
    ["topic", "outcome"],
)
POLLS_GIVEN_BACK = Counter(
    "nudge_feedback_index_polls_given_back_total",
    "Polls of the index read again because the database or the broker was unavailable",
)
SMS_INBOUND = Counter(
    "nudge_feedback_sms_inbound_total",
    "Inbound texts by what they were (stop, start, help, survey: a bare score answering a "
    "survey, reply) and what became of them "
    "(published; unknown_phone: no shop knows the number; unattributed: a reply no one shop "
    "texted first)",
    ["kind", "outcome"],
)
SMS_STATUS = Counter(
    "nudge_feedback_sms_status_total",
    "Twilio status callbacks by MessageStatus and outcome (published, ignored: not a final "
    "status; unknown_message: not in the index in time, answered 503)",
    ["status", "outcome"],
)
SNS_MESSAGES = Counter(
    "nudge_feedback_sns_messages_total",
    "SNS deliveries to /email/sns by type (SubscriptionConfirmation, UnsubscribeConfirmation, "
    "or the SES kind: Bounce, Complaint, Delivery, other) and outcome (accepted, ignored, "
    "confirmed, logged, noted, forbidden: not provably from an allowed topic)",
    ["type", "outcome"],
)
TRACKED = Counter(
    "nudge_feedback_tracked_total",
    "Opens and clicks recorded, by kind (open, click), who (human, machine) and the machine's "
    "reason (apple_privacy_proxy, listed_network, scanner, head_request, too_soon, burst; "
    "empty for people); repeats within the hour included (they publish the same event id)",
    ["kind", "who", "reason"],
)
TRACKING_LOST = Counter(
    "nudge_feedback_tracking_lost_total",
    "Opens and clicks not recorded: the broker did not acknowledge in time (the customer got "
    "the pixel or the redirect all the same)",
    ["kind"],
)
TRACKING_REFUSED = Counter(
    "nudge_feedback_tracking_refused_total",
    "Tracking requests refused: a token no key of the ring signed (why: token), or a signed "
    "click target that is not an absolute http(s) URL (why: target)",
    ["kind", "why"],
)
