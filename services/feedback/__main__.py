"""`python -m services.feedback` runs the service (same as `nudge feedback`)."""

from services.feedback.server import serve

if __name__ == "__main__":
    serve()
