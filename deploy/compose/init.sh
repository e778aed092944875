#!/bin/sh
# One-shot set-up of the laptop stack (compose service `init`), what deploy/local/run.sh does
# before it starts the services: the master key, the link keys derived from it, the campaign
# clock every service shares, and the demo shop with its credentials. Each step keeps what an
# earlier `docker compose up` made, so that a restart finds the same keys, clock and shop;
# `docker compose down -v` starts from nothing.
set -eu
umask 077

KEY=/var/lib/nudge/keys/secret.key
LINK_KEYS=/var/lib/nudge/link-keys/link.keys
CLOCK=/var/lib/nudge/clock/clock.env
CREDENTIALS=/var/lib/nudge/demo/demo-shop.json

# The master key: only ingest and this container see it (it opens the shops' webhook secrets).
if [ ! -s "$KEY" ]; then
  python -c 'import secrets; print(secrets.token_urlsafe(48))' >"$KEY.new"
  mv "$KEY.new" "$KEY"
  echo "init: created the master key"
fi
export NUDGE_SECRET_KEY_FILE="$KEY"

# The keys that sign and verify links, for dispatch and feedback: derived again on every start,
# so that they follow a `nudge keys rotate`.
nudge keys derive links >"$LINK_KEYS.new"
mv "$LINK_KEYS.new" "$LINK_KEYS"

# Campaign time runs NUDGE_DEMO_TIME_SCALE (default 4320: three days in a minute) times faster
# than the wall clock, from one origin that every service and the storyline share. Kept for
# the life of the volumes: services restarted later must agree with those still running.
if [ ! -s "$CLOCK" ]; then
  origin="$(python -c 'import time; print(f"{time.time():.3f}")')"
  scale="${NUDGE_DEMO_TIME_SCALE:-4320}"
  cat >"$CLOCK.new" <<CLOCK_ENV
NUDGE_TRIGGERS_TIME_SCALE=$scale
NUDGE_TRIGGERS_CLOCK_ORIGIN=$origin
NUDGE_SEGMENTER_TIME_SCALE=$scale
NUDGE_SEGMENTER_CLOCK_ORIGIN=$origin
NUDGE_DISPATCH_TIME_SCALE=$scale
NUDGE_DISPATCH_CLOCK_ORIGIN=$origin
NUDGE_FEEDBACK_TIME_SCALE=$scale
NUDGE_FEEDBACK_CLOCK_ORIGIN=$origin
CLOCK_ENV
  mv "$CLOCK.new" "$CLOCK"
  echo "init: campaign time runs ${scale}x faster than the wall clock"
fi

# The demo shop: its API key and webhook secret are printed once, kept for the storyline.
if [ ! -s "$CREDENTIALS" ]; then
  if nudge shops list | grep -q '^demo-coffee '; then
    nudge shops rotate demo-coffee --grace-minutes 0 --json >"$CREDENTIALS.new"
  else
    nudge shops add demo-coffee --name "Demo Coffee Roasters" \
      --shopify-domain demo-coffee.myshopify.com --json >"$CREDENTIALS.new"
  fi
  mv "$CREDENTIALS.new" "$CREDENTIALS"
  echo "init: the demo shop demo-coffee, its API key and webhook secret in $CREDENTIALS"
fi
