"""`python -m services.triggers` runs one worker (same as `nudge worker triggers`)."""

from services.triggers.settings import TriggersSettings
from services.triggers.worker import run
from shared.settings import KafkaSettings

if __name__ == "__main__":
    run(TriggersSettings(), KafkaSettings())
