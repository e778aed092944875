"""Local stand-ins for the providers dispatch sends through, for `make run` and the tests.

- `sms_sink`: speaks Twilio's Messages API (`python -m deploy.local.sinks.sms_sink`).
- `smtp_sink`: an SMTP server built on aiosmtpd (`python -m deploy.local.sinks.smtp_sink`).

Both record every message in memory (`GET /messages` on their HTTP port) and as JSON lines
in a file, deduplicate the way the real world does or should, and can be told to fail or slow
down (`POST /control`), which is how outage and exactly-once tests are driven.
"""
