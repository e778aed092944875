#!/bin/sh
# The demo storyline (compose service `demo`), as `make run` replays it: events through
# ingest's HTTP API, a survey answered, a click, an unsubscribe and an SMS STOP through the
# feedback service, in campaign time; then the demo shop's report link and its segments.
# The `tail` service prints the records as they land; the sinks print each message they get.
set -eu
set -a  # the campaign clock `init` wrote, which the storyline plays on
. /var/lib/nudge/clock/clock.env
set +a
CREDENTIALS=/var/lib/nudge/demo/demo-shop.json
say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

sleep 3  # the tail and the workers join their topics before the first event
python /opt/nudge-local/deploy/local/demo/storyline.py http://127.0.0.1:8080 "$CREDENTIALS"
sleep 2
say "the demo shop's campaign report (a signed link for a browser, valid 7 days):"
nudge reports url demo-coffee
say "the demo shop's segments and their sizes, from the segmenter's read API (its API key):"
python - "$CREDENTIALS" <<'PY' || true
import json
import sys

import httpx

key = json.load(open(sys.argv[1]))["api_key"]
answer = httpx.get(
    "http://127.0.0.1:8085/v1/segments", headers={"Authorization": f"Bearer {key}"}, timeout=10
)
print(answer.text)
PY
say "the stack keeps running: send your own events to http://127.0.0.1:8080; the demo shop's"
say "credentials: docker compose -f deploy/compose/compose.yaml run --rm --no-deps"
say "  --entrypoint cat demo $CREDENTIALS"
