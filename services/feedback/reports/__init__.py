"""Reports: what each campaign of a shop did over a period, as JSON and as a page.

What is counted (the pure rules are `facts.py`'s, each with a test in
tests/unit/feedback/reports/), per shop, campaign and UTC day, each fact once:

- **sent**: dispatch's `message.sent`, per message.
- **delivered**: per message: an SMS the provider reported delivered (`message.delivered`), an
  email the receiving server accepted (its `message.sent`: Nudge hears nothing later about email
  that arrived, as attribution defines a delivery). An email that bounces afterwards counts as
  delivered *and* bounced.
- **bounced**: per message: `email.bounced` (hard or soft) naming a message of the shop, and
  `message.undelivered` (an SMS the provider could not deliver). A bounce naming no message of
  the shop (another shop's mail to the same mailbox) is no bounce of this shop's campaigns.
- **failed**: `message.failed`, per message (dispatch gave up: never sent).
- **opened**, **clicked**: people only, per message: a message opened five times, or two of its
  links followed, is one. Machine opens and clicks (Apple Mail Privacy Protection fetching every
  pixel, link scanners following every link) are never engagement: they are counted apart, as
  **machine_opened** and **machine_clicked**, per message, so that a campaign whose opens are
  mostly machines' shows it. A click does not count as an open (opened is the pixel's word).
- **replied**, **unsubscribed** (`consent.withdrawn`: a one-click, a STOP, the preference page),
  **complained**: per message they answer, or per event when they name none.
- **converted** and **revenue**: `conversion.attributed` on `conversions.v1`, per order, on the
  order's day, credited to the campaign of the message that earned it; revenue is summed per
  currency and never across currencies.
- **CSAT** and **NPS**: from `survey.answered`, one answer per invitation (the latest: a later
  answer replaces the earlier one for good, services/feedback/surveys/scores.py), on the day of
  that answer; each score comes with the number of answers it rests on.
- **top tags**: the tags of those answers and of replies, by how many carry each.

Which campaign: the record's own campaign id when it carries one (statuses do; a feedback
record's `message.campaign_id` when set), else the campaign of its message as this store learnt
it from that message's `message.sent`, else as the directory knows the message (the shop must
match), else `unattributed`.

Idempotent under replays: every counted fact has a key (shop, metric, message / order / event
id) kept in a unique table, and a count moves only when its key is new, in the same transaction
(`store.py`; PostgreSQL's `postgres.py`). The consumer (`consumer.py`) reads
`messages.status.v1`, `feedback.events.v1` and `conversions.v1` in a group of its own
(`<NUDGE_FEEDBACK_GROUP_ID>-reports`), commits after storing, and parks what it cannot store.

Who may read: the JSON API (`/v1/reports/...`) takes the shop's API key, as ingest does
(shared/http/api_keys.py), checked against a snapshot of the registry's key hashes only; the page
(`/reports/<token>`) takes a signed, expiring, read-only link that `nudge reports url` mints
(`links.py` says why a link and not the API key).
"""
