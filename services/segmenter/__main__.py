"""`python -m services.segmenter` runs one worker (same as `nudge worker segmenter`)."""

from services.segmenter.settings import SegmenterSettings
from services.segmenter.worker import run
from shared.settings import KafkaSettings

if __name__ == "__main__":
    run(SegmenterSettings(), KafkaSettings())
