"""Conversion attribution: an order credited to the message that led to it.

The rules (pure, in `decide.py`; each has a test in tests/unit/feedback/attribution/):

- **Touches.** A message touches its customer when it is *delivered*, *opened* or *clicked*.
  Delivery per channel: an email is delivered when the receiving SMTP server accepted it
  (dispatch's `message.sent`: Nudge hears nothing later about email that arrived); an SMS when
  the provider reported it delivered (`message.delivered` from Twilio's status callbacks; its
  `message.sent` only says Twilio took it). Opens and clicks are `message.opened` /
  `message.clicked` on `feedback.events.v1`; machine ones (privacy proxies, link scanners) are
  never touches.
- **Windows.** A touch qualifies for an order placed after it (strictly: a touch at the very
  moment of the order does not count) and at most its kind's window after it: the window's end
  is inclusive, so an order exactly 5 days after a click still counts and one a microsecond
  later does not. Defaults: click 5 days, open 1 day, delivery 1 day; per shop in the `attribution:`
  section of its feedback file (`policy.py`).
- **Last touch.** Of the qualifying touches, the most recent earns all the credit; at equal
  times a click beats an open, which beats a delivery (then the greater message id, so that a
  replay decides alike). So a click of one message two days before the order loses to the
  delivery of another message an hour before it, as last touch means.
- **Transactional messages earn nothing.** An order confirmation or shipping notice is not
  marketing; crediting it would credit the order with itself (the confirmation comes after
  the order anyway, and only touches before the order count). A touch of a message whose kind
  is unknown (neither its send nor its delivery has been seen) earns nothing either.
- **Whose order.** The customer is the order's customer id; a touch of another customer or
  another shop never qualifies. Orders without a customer id (anonymous visitors) are out of
  scope: they are not attributed.
- **One conversion per order.** Once an order is credited, that conversion is kept
  (PostgreSQL, unique per shop and order id) and is what a replay of the order publishes again,
  under the same event id; it is not decided again. Revenue is the order's total, in its
  currency. Cancellations and refunds do not reverse a conversion (yet).

`consumer.py` runs it over `shop.events.v1`, `messages.status.v1` and `feedback.events.v1`
in a consumer group of its own (`runner.py`), publishing on `conversions.v1`.
"""
