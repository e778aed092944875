"""`python -m services.ingest` runs the service (same as `nudge ingest`)."""

from services.ingest.server import serve

serve()
