#!/usr/bin/env bash
# test_scenarios.sh - recorded filter-upgrade scenarios: counts, alerts, change times.
command -v python3 >/dev/null || { echo "SKIP: python3 not installed"; exit 77; }
exec python3 "$(dirname "$0")/test_scenarios.py"
