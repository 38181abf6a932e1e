#!/bin/sh
# The integration test CI runs under dnsfault:
#   dnsfault run -s examples/ci/scenario.yaml --start-when first-query -- examples/ci/test.sh
# The checkout service must keep serving through the DNS outage.
# CHECKOUT may name a built checkout binary; RETRY picks its retry policy.
set -eu
cd "$(dirname "$0")"
if [ -n "${CHECKOUT:-}" ]; then
  exec "$CHECKOUT" -requests 80 -retry "${RETRY:-backoff}"
fi
exec go run ./checkout -requests 80 -retry "${RETRY:-backoff}"
