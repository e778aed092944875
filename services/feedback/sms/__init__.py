"""Two-way SMS over Twilio's webhooks: pure decisions (keywords, who a message concerns, the
TwiML answer, the shops' texts, delivery error codes) for services/feedback/routes/sms.py."""
