#!/usr/bin/env bash
# A daemon-behaviour check of the install test (install_test.sh): the service e2e tests
# (tests/e2e/service_test.cpp, tag [service]: READY/STATUS/WATCHDOG/STOPPING on a notification
# socket, the watchdog withheld from a wedged pipeline, SIGHUP with a broken config and with a
# changed mapping, `dutybridge reload`) run against the installed binary instead of the build's.
# DUTYBRIDGE_E2E_TESTS (set by ctest) is the e2e test binary; the broker and PostgreSQL are the
# ones scripts/test started.
set -euo pipefail
: "${DUTYBRIDGE_E2E_TESTS:?the e2e test binary (ctest sets it)}"
: "${DUTYBRIDGE_INSTALLED_BINARY:?set by install_test.sh}"
DUTYBRIDGE_BINARY_UNDER_TEST="$DUTYBRIDGE_INSTALLED_BINARY" exec "$DUTYBRIDGE_E2E_TESTS" "[service]"
