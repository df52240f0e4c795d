#!/usr/bin/env bash
# peer.sh compares the compiled validation plan with ajv, the usual fast
# JSON Schema validator, on the Kita example: ajv validates the JSON
# Schema the engine exports, both validate the same document (three
# children), both are timed the same way (best of 60 short rounds after a
# warm-up). Run "npm ci" in bench/ first.
set -euo pipefail
cd "$(dirname "$0")/.."
service=examples/kita-gebuehren
doc=bench/testdata/kita-3-children.json
schema=$(mktemp)
trap 'rm -f "$schema"' EXIT
go run ./cmd/amtsform compile --jsonschema "$service" >"$schema"
go build -o "$schema.plan" ./bench/plan
trap 'rm -f "$schema" "$schema.plan"' EXIT
plan=$("$schema.plan" "$service" "$doc")
ajv=$(node bench/ajv.mjs "$schema" "$doc")
echo "$plan"
echo "$ajv"
awk -v p="$(echo "$plan" | awk '{print $2}')" -v a="$(echo "$ajv" | awk '{print $2}')" \
	'BEGIN { printf "plan/ajv %.2f\n", p / a }'
