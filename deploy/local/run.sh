#!/usr/bin/env bash
# The local stack in one command: Kafka, PostgreSQL, topics, schema, the services, the demo.
#
# Usage: deploy/local/run.sh infra|up|run|down
#   infra  Kafka + PostgreSQL, topics created, schema migrated
#   up     infra + every service in the background (logs in .local/logs/); campaign time
#          runs NUDGE_DEMO_TIME_SCALE (default 4320) times faster than the wall clock
#   run    up + the demo shop + the demo storyline through the HTTP API, then follows
#          the events, triggers, message statuses and the messages the local SMTP and SMS
#          sinks receive, until Ctrl-C, which stops everything
#   down   stop the services, Kafka and PostgreSQL
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
BIN="$ROOT/.venv/bin"
LOCAL="$ROOT/.local"
LOGS="$LOCAL/logs"
INGEST_PORT="${NUDGE_INGEST_PORT:-8080}"
INGEST_URL="http://127.0.0.1:$INGEST_PORT"
DEMO_CREDENTIALS="$LOCAL/demo-shop.json"
TRIGGERS_PORT="${NUDGE_TRIGGERS_PORT:-8081}"
DISPATCH_PORT="${NUDGE_DISPATCH_PORT:-8082}"
FEEDBACK_PORT="${NUDGE_FEEDBACK_PORT:-8083}"
SEGMENTER_PORT="${NUDGE_SEGMENTER_PORT:-8084}"
SEGMENTER_API_PORT="${NUDGE_SEGMENTER_API_PORT:-8085}"
SEGMENTER_API_URL="http://127.0.0.1:$SEGMENTER_API_PORT"
FEEDBACK_URL="http://127.0.0.1:$FEEDBACK_PORT"
SMTP_SINK_PORT="${NUDGE_SMTP_SINK_PORT:-10025}"
SMTP_SINK_CONTROL="${NUDGE_SMTP_SINK_CONTROL_PORT:-10026}"
SMS_SINK_PORT="${NUDGE_SMS_SINK_PORT:-10088}"
# Dispatch sends to the local sinks, as the demo shop's brand.
export NUDGE_SMTP_HOST=127.0.0.1 NUDGE_SMTP_PORT="$SMTP_SINK_PORT"
export NUDGE_TWILIO_BASE_URL="http://127.0.0.1:$SMS_SINK_PORT"
export NUDGE_TWILIO_ACCOUNT_SID="AC00000000000000000000000000000000"
export NUDGE_TWILIO_AUTH_TOKEN="sms-sink-token" NUDGE_TWILIO_FROM_NUMBER="+15005550006"
export NUDGE_DISPATCH_PORT="$DISPATCH_PORT" NUDGE_DISPATCH_SHOPS_DIR="$ROOT/deploy/local/demo/shops"
DEFAULT_SHOP_URL='https://{shop_id}.example'  # quoted: braces inside ${:-} would end it early
export NUDGE_DISPATCH_DEFAULT_SHOP_URL="${NUDGE_DISPATCH_DEFAULT_SHOP_URL:-$DEFAULT_SHOP_URL}"
export NUDGE_DISPATCH_START_FROM=latest
export NUDGE_DISPATCH_PUBLIC_URL="$FEEDBACK_URL"  # unsubscribe links point at feedback
export NUDGE_FEEDBACK_PORT="$FEEDBACK_PORT" NUDGE_FEEDBACK_PUBLIC_URL="$FEEDBACK_URL"
export NUDGE_FEEDBACK_START_FROM=latest
# Twilio's status callbacks (the SMS sink sends them as Twilio does) go to feedback, which
# checks their signature with the account's auth token, as for inbound texts.
export NUDGE_DISPATCH_SMS_STATUS_CALLBACK_URL="$FEEDBACK_URL/sms/status"
export NUDGE_FEEDBACK_TWILIO_AUTH_TOKEN="$NUDGE_TWILIO_AUTH_TOKEN"
export NUDGE_FEEDBACK_SHOPS_DIR="$ROOT/deploy/local/demo/feedback-shops"
export NUDGE_TRIGGERS_CAMPAIGNS_DIR="$ROOT/deploy/local/demo/campaigns"
export NUDGE_SEGMENTER_SEGMENTS_DIR="$ROOT/deploy/local/demo/segments"
export NUDGE_SECRET_KEY_FILE="${NUDGE_SECRET_KEY_FILE:-$LOCAL/secret.key}"
# Dispatch gets only the keys that sign links, derived from the master key(s), never these.
LINK_KEYS_FILE="$LOCAL/link.keys"
export NUDGE_INGEST_PORT="$INGEST_PORT"
# The services find the local stack on the ports its scripts use, unless told otherwise.
export KAFKA_BOOTSTRAP_SERVERS="${KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:${NUDGE_KAFKA_PORT:-19092}}"
export DATABASE_URL="${DATABASE_URL:-postgresql+asyncpg://nudge:nudge@127.0.0.1:${NUDGE_PG_PORT:-15432}/nudge}"
mkdir -p "$LOGS"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

secret_key() {
  if [[ -z ${NUDGE_SECRET_KEYS_FILE:-} && ! -s $NUDGE_SECRET_KEY_FILE ]]; then
    (umask 077 && "$BIN/python" -c 'import secrets; print(secrets.token_urlsafe(48))' \
      >"$NUDGE_SECRET_KEY_FILE")
  fi
  # Derived again on every start, so that they follow a `nudge keys rotate`.
  (umask 077 && "$BIN/nudge" keys derive links >"$LINK_KEYS_FILE")
}

infra() {
  deploy/local/kafka.sh start
  deploy/local/postgres.sh start
  secret_key
  "$BIN/nudge" topics create
  "$BIN/nudge" db migrate
}

# start_service NAME COMMAND...: runs it detached, pid in .local/NAME.pid, log in .local/logs/
start_service() {
  local name="$1"
  shift
  local pid_file="$LOCAL/$name.pid"
  if [[ -f $pid_file ]] && kill -0 "$(<"$pid_file")" 2>/dev/null; then
    echo "$name already running (pid $(<"$pid_file"))"
    return 0
  fi
  setsid "$@" >>"$LOGS/$name.log" 2>&1 </dev/null &
  echo $! >"$pid_file"
  echo "$name started (pid $!, log .local/logs/$name.log)"
}

stop_service() {
  local pid_file="$LOCAL/$1.pid"
  [[ -f $pid_file ]] || return 0
  local pid
  pid="$(<"$pid_file")"
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
    echo "$1 stopped"
  fi
  rm -f "$pid_file"
}

wait_ready() {
  local url="$1" name="$2"
  for _ in $(seq 1 150); do
    if "$BIN/python" -c "import httpx,sys; sys.exit(httpx.get('$url', timeout=1).status_code != 200)" \
      2>/dev/null; then
      return 0
    fi
    sleep 0.2
  done
  echo "$name did not become ready; last log lines:" >&2
  tail -n 30 "$LOGS/$name.log" >&2
  return 1
}

# The local stack runs campaign time fast (NUDGE_DEMO_TIME_SCALE, default 4320: three days
# in a minute). Each start gets its own clock origin, triggers app id, dispatch group and state
# folder, reading only what happens from now on, so that an earlier run's timeline (or the
# triggers a test or benchmark left on the local broker) never leaks into this one.
demo_clock() {
  local origin
  origin="$("$BIN/python" -c 'import time; print(f"{time.time():.3f}")')"
  export NUDGE_TRIGGERS_TIME_SCALE="${NUDGE_DEMO_TIME_SCALE:-4320}"
  export NUDGE_TRIGGERS_CLOCK_ORIGIN="$origin"
  export NUDGE_DISPATCH_TIME_SCALE="$NUDGE_TRIGGERS_TIME_SCALE" NUDGE_DISPATCH_CLOCK_ORIGIN="$origin"
  # Feedback stamps what it learns (an SMS STOP) on the same clock, or a STOP would be older
  # than the consent the storyline's events gave in campaign time, and lose to it.
  export NUDGE_FEEDBACK_TIME_SCALE="$NUDGE_TRIGGERS_TIME_SCALE" NUDGE_FEEDBACK_CLOCK_ORIGIN="$origin"
  export NUDGE_DISPATCH_GROUP_ID="nudge-dispatch-local-${origin%.*}"
  export NUDGE_TRIGGERS_APP_ID="nudge-triggers-local-${origin%.*}"
  export NUDGE_TRIGGERS_START_FROM=latest
  export NUDGE_TRIGGERS_PORT="$TRIGGERS_PORT"
  rm -rf "$LOCAL/triggers"
  export NUDGE_TRIGGERS_DATA_DIR="$LOCAL/triggers/${origin%.*}"
  export NUDGE_SEGMENTER_TIME_SCALE="$NUDGE_TRIGGERS_TIME_SCALE" NUDGE_SEGMENTER_CLOCK_ORIGIN="$origin"
  export NUDGE_SEGMENTER_APP_ID="nudge-segmenter-local-${origin%.*}"
  export NUDGE_SEGMENTER_START_FROM=latest
  export NUDGE_SEGMENTER_PORT="$SEGMENTER_PORT"
  rm -rf "$LOCAL/segmenter"
  export NUDGE_SEGMENTER_DATA_DIR="$LOCAL/segmenter/${origin%.*}"
  printf 'export NUDGE_TRIGGERS_TIME_SCALE=%s NUDGE_TRIGGERS_CLOCK_ORIGIN=%s\n' \
    "$NUDGE_TRIGGERS_TIME_SCALE" "$origin" >"$LOCAL/demo-clock.env"
}

up() {
  infra
  start_service ingest "$BIN/nudge" ingest --port "$INGEST_PORT"
  if [[ ! -f $LOCAL/triggers.pid ]] || ! kill -0 "$(<"$LOCAL/triggers.pid")" 2>/dev/null ||
    [[ ! -f $LOCAL/segmenter.pid ]] || ! kill -0 "$(<"$LOCAL/segmenter.pid")" 2>/dev/null; then
    stop_service triggers  # every worker shares the new clock
    stop_service dispatch  # it must share the new clock
    stop_service feedback  # so must feedback
    stop_service segmenter  # and the segmenter
    demo_clock
  fi
  start_service triggers "$BIN/nudge" worker triggers
  start_service segmenter "$BIN/nudge" worker segmenter
  start_service smtp-sink "$BIN/python" -m deploy.local.sinks.smtp_sink --port "$SMTP_SINK_PORT" \
    --control-port "$SMTP_SINK_CONTROL" --log "$LOCAL/smtp-sink.jsonl" --print
  start_service sms-sink "$BIN/python" -m deploy.local.sinks.sms_sink --port "$SMS_SINK_PORT" \
    --log "$LOCAL/sms-sink.jsonl" --print
  start_service dispatch env -u NUDGE_SECRET_KEY -u NUDGE_SECRET_KEY_FILE -u NUDGE_SECRET_KEYS_FILE \
    NUDGE_LINK_KEYS_FILE="$LINK_KEYS_FILE" "$BIN/nudge" dispatch
  start_service segmenter-api env NUDGE_SEGMENTER_API_PORT="$SEGMENTER_API_PORT" \
    "$BIN/nudge" segmenter-api
  start_service feedback env -u NUDGE_SECRET_KEY -u NUDGE_SECRET_KEY_FILE -u NUDGE_SECRET_KEYS_FILE \
    NUDGE_LINK_KEYS_FILE="$LINK_KEYS_FILE" "$BIN/nudge" feedback
  wait_ready "$INGEST_URL/readyz" ingest
  say "ingest is ready at $INGEST_URL (OpenAPI: $INGEST_URL/docs)"
  wait_ready "http://127.0.0.1:$TRIGGERS_PORT/readyz" triggers
  say "triggers is ready (metrics: http://127.0.0.1:$TRIGGERS_PORT/metrics);" \
    "campaign time runs $(. "$LOCAL/demo-clock.env" && echo "$NUDGE_TRIGGERS_TIME_SCALE")x fast"
  wait_ready "http://127.0.0.1:$SEGMENTER_PORT/readyz" segmenter
  say "segmenter is ready (metrics: http://127.0.0.1:$SEGMENTER_PORT/metrics)"
  wait_ready "http://127.0.0.1:$DISPATCH_PORT/readyz" dispatch
  say "dispatch is ready; mail goes to the SMTP sink on :$SMTP_SINK_PORT" \
    "(.local/smtp-sink.jsonl), SMS to the sink on :$SMS_SINK_PORT (.local/sms-sink.jsonl)"
  wait_ready "$FEEDBACK_URL/readyz" feedback
  say "feedback is ready at $FEEDBACK_URL (OpenAPI: $FEEDBACK_URL/docs)"
  wait_ready "$SEGMENTER_API_URL/readyz" segmenter-api
  say "the segmenter's read API is ready at $SEGMENTER_API_URL (OpenAPI: $SEGMENTER_API_URL/docs)"
}

demo_shop() {
  if [[ -s $DEMO_CREDENTIALS ]]; then
    return 0
  fi
  if "$BIN/nudge" shops list | grep -q '^demo-coffee '; then
    "$BIN/nudge" shops rotate demo-coffee --grace-minutes 0 --json >"$DEMO_CREDENTIALS"
  else
    "$BIN/nudge" shops add demo-coffee --name "Demo Coffee Roasters" \
      --shopify-domain demo-coffee.myshopify.com --json >"$DEMO_CREDENTIALS"
  fi
  chmod 600 "$DEMO_CREDENTIALS"
}

down() {
  stop_service tail
  stop_service feedback
  stop_service segmenter-api
  stop_service dispatch
  stop_service sms-sink
  stop_service smtp-sink
  stop_service segmenter
  stop_service triggers
  stop_service ingest
  deploy/local/kafka.sh stop || true
  deploy/local/postgres.sh stop || true
}

run() {
  up
  demo_shop
  say "events on shop.events.v1, segment entries and exits (segments.changes.v1), triggers"
  say "fired or cancelled, what customers send back (feedback.events.v1), conversions"
  say "(conversions.v1), messages at the sinks:"
  # Only the demo shop's records: a test or a benchmark may share the local broker.
  "$BIN/nudge" tail shop.events.v1 segments.changes.v1 triggers.fired.v1 messages.status.v1 \
    feedback.events.v1 conversions.v1 --shop demo-coffee &
  local tail_pid=$!
  # The sinks print each message they receive (EMAIL to: subject | first line; SMS to: body).
  tail -n 0 -q -F "$LOGS/smtp-sink.log" "$LOGS/sms-sink.log" 2>/dev/null &
  local sinks_pid=$!
  trap 'kill $tail_pid $sinks_pid 2>/dev/null; echo; say "stopping"; down; exit 0' INT TERM
  sleep 3  # the tail and the triggers worker join their topics before the first event
  # shellcheck disable=SC1091
  (. "$LOCAL/demo-clock.env" &&
    NUDGE_LINK_KEYS_FILE="$LINK_KEYS_FILE" "$BIN/python" deploy/local/demo/storyline.py \
      "$INGEST_URL" "$DEMO_CREDENTIALS")
  sleep 2
  say "the demo shop's campaign report (a signed link for a browser, valid 7 days):"
  NUDGE_LINK_KEYS_FILE="$LINK_KEYS_FILE" "$BIN/nudge" reports url demo-coffee
  say "the demo shop's segments and their sizes, from the segmenter's read API (its API key):"
  curl -fsS -H "Authorization: Bearer $("$BIN/python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["api_key"])' "$DEMO_CREDENTIALS")" \
    "$SEGMENTER_API_URL/v1/segments" || true
  echo
  say "the stack keeps running: send your own events to $INGEST_URL (credentials in"
  say ".local/demo-shop.json). Ctrl-C (or make stop) stops everything."
  wait "$tail_pid"
}

case "${1:-}" in
  infra) infra ;;
  up) up ;;
  run) run ;;
  down) down ;;
  *) echo "usage: $0 infra|up|run|down" >&2; exit 2 ;;
esac
