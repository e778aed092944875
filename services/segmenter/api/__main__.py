"""`python -m services.segmenter.api` runs the read API (same as `nudge segmenter-api`)."""

from services.segmenter.api.server import serve

if __name__ == "__main__":
    serve()
