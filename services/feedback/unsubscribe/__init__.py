"""One-click unsubscribe (RFC 8058) and the preference page behind `/u/<token>`: the pure parts.

The route (services/feedback/routes/unsubscribe.py) only reads, checks and answers; what a
link names (`link`), what a body says (`form_body`, `one_click`, `preference_form`), which
event a change becomes (`consent_events`) and the pages (`pages`) live here, testable alone.
"""
