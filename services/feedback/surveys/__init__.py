"""Surveys behind `/s/<token>` and bare-number SMS answers: the pure parts.

The route (services/feedback/routes/surveys.py) only reads, checks and answers; what a link
names (`invitation`), the form's CSRF nonce (`form_nonce`), what a submitted form or a text
says (`answers`, `sms_answers`), which event an answer becomes (`records`), the pages
(`pages`, `openapi`), the tagger they call (`tagger`: the interface; services/feedback/tagging/
implements it) and the CSAT / NPS arithmetic reports use (`scores`) live here, testable alone.
"""
