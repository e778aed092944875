"""`python -m services.ingest` runs the service (same as `nudge ingest`)."""

from services.ingest.server import serve

if __name__ == "__main__":  # worker processes import this module again; they must not serve
    serve()
