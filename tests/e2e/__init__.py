"""End-to-end proof of Nudge's promises (issue 25): the shop simulator's load through every
service as a separate process, an oracle of the messages that must and must not be sent,
faults injected by the harness, and the figures `make e2e` prints."""
