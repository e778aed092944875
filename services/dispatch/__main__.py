"""`python -m services.dispatch` runs the dispatcher (same as `nudge dispatch`)."""

from services.dispatch.service import run

if __name__ == "__main__":
    run()
