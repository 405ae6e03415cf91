#!/usr/bin/env bash
# The service units of systemd/: valid, hardened as far as they were, and in step.
#
#   tests/systemd/units_test.sh BINARY [UNIT_DIR]
#
# - `systemd-analyze verify` on dutybridge.service and dutybridge@.service, on copies whose
#   ExecStart is BINARY (verify wants the program to exist; the installed units are verified by
#   tests/install). Anything verify prints fails the test: it warns about unknown or misspelt
#   directives without failing.
# - `systemd-analyze security --offline=yes --threshold=15`: exposure at most 1.5.
# - The findings security still reports are the accepted ones below: a removed hardening line
#   adds a finding (most weigh too little to move the rounded exposure over any threshold).
# - The template differs from dutybridge.service only where an instance must.
set -euo pipefail

binary="$(realpath "$1")"
unit_dir="${2:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../systemd" && pwd)}"
units=(dutybridge.service dutybridge@.service)

# What the units cannot close, with the reason: security's findings, as it words them (C locale).
# Any other finding is a regression, and so is one of these worded worse.
accepted=(
  # It runs from the host's /usr: a root image would be a packaging of its own.
  "- RootDirectory=/RootImage= Service runs within the host's root directory"
  # It talks to Kafka, databases and admin clients; sd_notify and the journal are AF_UNIX.
  "- PrivateNetwork= Service has access to the host's network"
  "- RestrictAddressFamilies=~AF_(INET|INET6) Service may allocate Internet sockets"
  "- RestrictAddressFamilies=~AF_UNIX Service may allocate local sockets"
  # glibc's getaddrinfo() reads the local addresses through netlink.
  "- RestrictAddressFamilies=~AF_NETLINK Service may allocate netlink sockets"
  # Loopback only; a site allows its brokers and databases in a drop-in.
  "- IPAddressDeny= Service defines IP address allow list with only localhost entries"
  # char-rtc:r, which ProtectClock=yes adds itself.
  "- DeviceAllow= Service has a device ACL with some special devices: char-rtc:r"
)

failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

work="$(mktemp -d /tmp/dutybridge-units.XXXXXX)"
trap 'rm -rf "$work"' EXIT

for unit in "${units[@]}"; do
  [[ -x "$binary" ]] || { echo "FAIL: $binary is not an executable" >&2; exit 1; }
  sed "s#^ExecStart=/usr/bin/dutybridge #ExecStart=$binary #" "$unit_dir/$unit" >"$work/$unit"
  grep -q "^ExecStart=$binary " "$work/$unit" || fail "$unit: no ExecStart=/usr/bin/dutybridge to point at $binary"

  # --man=no: the manual pages are installed by the package, not in a build tree.
  if ! out="$(systemd-analyze verify --man=no "$work/$unit" 2>&1)"; then
    fail "$unit: systemd-analyze verify failed: $out"
  elif [[ -n "$out" ]]; then
    fail "$unit: systemd-analyze verify warns: $out"
  fi

  if ! report="$(LC_ALL=C systemd-analyze security --offline=yes --threshold=15 "$work/$unit" 2>&1)"; then
    fail "$unit: exposure above 1.5: $(grep -- '-> Overall' <<<"$report")"
  fi
  echo "$unit: $(grep -- '-> Overall' <<<"$report")"
  # In the C locale a finding is a line "- NAME  DESCRIPTION  EXPOSURE".
  while read -r finding; do
    known=0
    for ok in "${accepted[@]}"; do
      [[ "$finding" == "$ok "* ]] && known=1
    done
    ((known)) || fail "$unit: hardening lost: $finding"
  done < <(awk '$1 == "-" && $2 != ""' <<<"$report" | tr -s ' ')
done

# The template is dutybridge.service but for what names an instance. Directives and comments
# both: a reason changed in one file should change in the other.
instance_only='^(# One dutybridge per config|# and runtime directories|# loader: |# tests/systemd keeps|Description=|ExecStart=|StateDirectory=|WorkingDirectory=|RuntimeDirectory=|# Writable state|# Not under /var/lib/dutybridge|# /run/dutybridge|# /run/dutybridge-NAME|# .better in a drop-in|#LoadCredential=|# .systemd-analyze security|# an allow list in a drop-in)'
if ! drift="$(diff <(grep -Ev "$instance_only" "$unit_dir/dutybridge.service") \
                   <(grep -Ev "$instance_only" "$unit_dir/dutybridge@.service"))"; then
  fail "dutybridge@.service differs from dutybridge.service beyond its instance lines:
$drift"
fi

if ((failures > 0)); then
  echo "$failures failure(s)" >&2
  exit 1
fi
echo "units: verified, exposure within 1.5, no hardening lost, template in step"
