"""Open and click tracking (`/o/<token>.gif`, `/c/<token>`): who opened or clicked, a person
or a machine, recorded as `message.opened` / `message.clicked` on `feedback.events.v1`."""
