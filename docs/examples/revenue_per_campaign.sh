#!/usr/bin/env bash
# Revenue per campaign with kcat and jq (Debian's packages; `make analyst-tools`): messages
# sent (messages.status.v1), orders credited to them and their revenue by currency
# (conversions.v1), per shop and campaign; the same table as revenue_per_campaign.py.
#
#   revenue_per_campaign.sh [--shop SHOP] [--since TIME]     (TIME: anything `date -d` reads)
#
# kcat reads each topic to its end (-e) without a consumer group; jq counts each record once
# by its id (delivery is at least once) and adds the amounts exactly, as integers in the
# smallest unit the amounts use. Connects with the KAFKA_* variables the services use.
set -euo pipefail

shop="" since=""
while (($#)); do
  case $1 in
    --shop) shop=${2:?--shop needs a shop id}; shift 2 ;;
    --since) since=${2:?--since needs a time}; shift 2 ;;
    *) echo "usage: $0 [--shop SHOP] [--since TIME]" >&2; exit 2 ;;
  esac
done
offset=beginning
if [[ -n $since ]]; then
  offset="s@$(date -d "$since" +%s%3N)" # the first record at or after it (ms)
fi

# librdkafka's settings from the services' variables, in a file rather than the command line.
config=""
[[ -n ${KAFKA_SECURITY_PROTOCOL:-} ]] && config+="security.protocol=$KAFKA_SECURITY_PROTOCOL"$'\n'
[[ -n ${KAFKA_SASL_MECHANISM:-} ]] && config+="sasl.mechanisms=$KAFKA_SASL_MECHANISM
sasl.username=${KAFKA_SASL_USERNAME:-}
sasl.password=${KAFKA_SASL_PASSWORD:-}"$'\n'
[[ -n ${KAFKA_SSL_CAFILE:-} ]] && config+="ssl.ca.location=$KAFKA_SSL_CAFILE"$'\n'

for topic in messages.status.v1 conversions.v1; do
  kcat -C -q -b "${KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:19092}" -F <(printf '%s' "$config") \
    -t "$topic" -o "$offset" -e -f '%s\n'
done | jq -rn --arg shop "$shop" '
  # Decimal strings as integers in units of 10^-n, and back: exact, unlike floating point.
  def digits: (split(".")[1] // "") | length;
  def scaled($n): split(".") as $p | ($p[1] // "") as $f
    | $p[0] + $f + ("0" * ($n - ($f | length))) | tonumber;
  def unscaled($n): if $n == 0 then tostring else
      (if . < 0 then "-" else "" end) as $sign | (if . < 0 then -. else . end | tostring)
      | ("0" * ($n + 1 - length)) + . | $sign + .[:-$n] + "." + .[-$n:] end;
  def total: (map(.amount | digits) | max) as $n | map(.amount | scaled($n)) | add | unscaled($n);

  reduce (inputs | select($shop == "" or .shopid == $shop)) as $e ({};
    if $e.type == "message.sent" then
      .[$e.shopid][$e.data.campaign_id].sent[$e.data.message_id] = true
    elif $e.type == "conversion.attributed" then
      .[$e.shopid][$e.data.message.campaign_id].orders[$e.id] = $e.data.revenue
    else . end)
  | "shop\tcampaign\tsent\tconversions\trevenue",
    (to_entries | sort_by(.key)[] | .key as $s | .value | to_entries | sort_by(.key)[]
     | .value.orders as $orders
     | [$s, .key, (.value.sent // {} | length), ($orders // {} | length),
        ([$orders // {} | .[]] | group_by(.currency) | map("\(.[0].currency) \(total)")
         | join(", ") | if . == "" then "-" else . end)]
     | @tsv)'
