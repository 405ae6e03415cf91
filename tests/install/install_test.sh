#!/usr/bin/env bash
# The Debian package on this machine, end to end: built from the build tree ctest runs in (an
# ASan build in CI is packaged as it is: no second tree), lintian (errors fail), dpkg -i, the
# installed files, the installed binary on the installed configs, the installed units
# (systemd-analyze verify and security), the daemon-behaviour checks, then dpkg -r and dpkg -P,
# after which nothing may be left but dpkg's own bookkeeping. The package is purged on every
# exit, a failed one too.
#
#   tests/install/install_test.sh BUILD_DIR [CHECK...]
#
# Needs root (dpkg). Refuses to run where a dutybridge package is already known to dpkg: it
# would replace and purge someone's install. One run at a time per machine (a lock).
#
# CHECK (also the words of $DUTYBRIDGE_INSTALLED_CHECKS): daemon-behaviour checks against the
# installed binary, run after the files and units are checked and before dpkg -r, each as an
# executable without arguments (a Catch test binary as it is: it reads the paths with
# testing::requireEnv), with the environment
#   DUTYBRIDGE_INSTALLED_BINARY=/usr/bin/dutybridge
#   DUTYBRIDGE_INSTALLED_CONFIG=/etc/dutybridge/dutybridge.yaml   (the installed example)
#   DUTYBRIDGE_INSTALLED_UNIT=/lib/systemd/system/dutybridge.service
#   DUTYBRIDGE_INSTALLED_SCRATCH=<an empty directory of its own, removed afterwards>
# A non-zero exit fails the test; its output is shown. tests/CMakeLists.txt passes the ones it
# registers (DUTYBRIDGE_INSTALLED_CHECKS there).
set -euo pipefail

started=$SECONDS
build_dir="$(realpath "$1")"
shift
checks=("$@")
# shellcheck disable=SC2206 # words on purpose: a list of commands without arguments
checks+=(${DUTYBRIDGE_INSTALLED_CHECKS:-})
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source_dir="$(cd "$here/../.." && pwd)"
version="$(sed -n 's/^dutybridge (\([^)]*\)).*/\1/p;q' "$source_dir/packaging/deb/changelog")"

step() { printf 'install: %s\n' "$*"; }
die() {
  printf 'FAIL: %s\n' "$*" >&2
  exit 1
}

[[ "$(id -u)" -eq 0 ]] || die "needs root: it installs and purges the package with dpkg"
for tool in cpack lintian dpkg dpkg-query systemd-analyze man flock; do
  command -v "$tool" >/dev/null || die "$tool is missing (scripts/bootstrap installs what the tests need)"
done

# One run at a time: two would install, check and purge the same package.
exec 9>/run/lock/dutybridge-install-test.lock
flock -w 900 9 || die "another install test holds /run/lock/dutybridge-install-test.lock"

if dpkg-query -W dutybridge >/dev/null 2>&1; then
  die "dpkg knows a dutybridge package here ($(dpkg-query -W -f='${Version} ${db:Status-Abbrev}' dutybridge)); this test would replace and purge it: remove it first (dpkg -P dutybridge)"
fi

work="$(mktemp -d /tmp/dutybridge-install.XXXXXX)"
chmod 755 "$work"
installed=0
# shellcheck disable=SC2317 # run by the trap
cleanup() {
  local status=$?
  trap - EXIT
  if ((installed)) && dpkg-query -W dutybridge >/dev/null 2>&1; then
    step "cleanup: purging the package"
    dpkg -P dutybridge >"$work/cleanup-purge.log" 2>&1 || {
      cat "$work/cleanup-purge.log" >&2
      status=1
    }
  fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The paths a package may touch. dpkg's database is compared too: its files for the package
# must go at purge like the rest.
snapshot() {
  find /etc /usr /var/lib /var/log /var/cache /opt /srv -xdev 2>/dev/null | sort
}

step "cpack -G DEB in $build_dir"
(cd "$build_dir" && cpack -G DEB -B "$work/pkg") >"$work/cpack.log" 2>&1 || {
  cat "$work/cpack.log" >&2
  die "cpack failed"
}
deb="$work/pkg/dutybridge_${version}_amd64.deb"
[[ -f "$deb" ]] || die "cpack made no $deb: $(ls "$work/pkg")"
step "built $(basename "$deb") ($(du -h "$deb" | cut -f1))"

step "lintian"
lintian_status=0
lintian --fail-on error --tag-display-limit 0 --display-info "$deb" >"$work/lintian.log" 2>&1 || lintian_status=$?
sed 's/^/  lintian: /' "$work/lintian.log"
((lintian_status == 0)) || die "lintian reports errors (above)"

snapshot >"$work/before.txt"

step "dpkg -i"
installed=1
dpkg -i "$deb" >"$work/dpkg-i.log" 2>&1 || {
  cat "$work/dpkg-i.log" >&2
  die "dpkg -i failed"
}

step "installed files"
for path in /usr/bin/dutybridge \
  /lib/systemd/system/dutybridge.service /lib/systemd/system/dutybridge@.service \
  /etc/dutybridge/dutybridge.yaml /etc/dutybridge/hr-store.yaml \
  /usr/share/dutybridge/mappings/tl_daily_good_output.yaml /usr/share/dutybridge/mappings/hr_store_skill.yaml \
  /usr/share/dutybridge/config/duties.yaml /usr/share/dutybridge/config/calendars.yaml \
  /usr/share/dutybridge/config/reference/badge_employee.csv \
  /usr/share/dutybridge/schemas/duty_kpi.v1.json /usr/share/dutybridge/schemas/employee_record.v1.json \
  /usr/share/doc/dutybridge/copyright /usr/share/doc/dutybridge/changelog.Debian.gz \
  /usr/share/doc/dutybridge/operations.md /usr/share/doc/dutybridge/connectors/odbc.md \
  /usr/share/man/man1/dutybridge.1.gz /usr/share/man/man5/dutybridge.yaml.5.gz \
  /usr/share/bash-completion/completions/dutybridge; do
  [[ -f "$path" ]] || die "$path is not installed"
done
[[ -x /usr/bin/dutybridge ]] || die "/usr/bin/dutybridge is not executable"
conffiles="$(dpkg-query -W -f='${Conffiles}' dutybridge)"
for conffile in /etc/dutybridge/dutybridge.yaml /etc/dutybridge/hr-store.yaml; do
  grep -q " $conffile " <<<"$conffiles" || die "$conffile is not a conffile: $conffiles"
done
# Every file of the package in /etc is a conffile (policy 10.7.2).
while read -r path; do
  [[ -d "$path" ]] && continue
  grep -q " $path " <<<"$conffiles" || die "$path is in /etc but not a conffile"
done < <(dpkg -L dutybridge | grep '^/etc/')

step "enabled, not started"
[[ "$(readlink /etc/systemd/system/multi-user.target.wants/dutybridge.service)" == /lib/systemd/system/dutybridge.service ]] ||
  die "postinst did not enable dutybridge.service"
! pgrep -f '^/usr/bin/dutybridge( |$)' >/dev/null || die "the installed daemon runs: postinst must not start it"

step "the installed binary"
[[ "$(/usr/bin/dutybridge --version)" == "dutybridge ${version%-*}" ]] ||
  die "dutybridge --version says '$(/usr/bin/dutybridge --version)', the package is $version"
# The example config as installed, in a clean environment: no password from a developer's shell.
env -u DUTYBRIDGE_ERP_PASSWORD -u CREDENTIALS_DIRECTORY /usr/bin/dutybridge check -c /etc/dutybridge/dutybridge.yaml ||
  die "dutybridge check fails on the installed /etc/dutybridge/dutybridge.yaml"
# The HR loader's config reads the shipped mappings; its password comes from a credential.
mkdir -m 0700 "$work/credentials"
printf 'example\n' >"$work/credentials/hr-db-password"
CREDENTIALS_DIRECTORY="$work/credentials" /usr/bin/dutybridge check -c /etc/dutybridge/hr-store.yaml ||
  die "dutybridge check fails on the installed /etc/dutybridge/hr-store.yaml"
# The shipped mappings find their catalog, calendars and tables in /usr/share/dutybridge.
/usr/bin/dutybridge test /usr/share/dutybridge/mappings >"$work/mapping-tests.log" 2>&1 || {
  cat "$work/mapping-tests.log" >&2
  die "the shipped mappings' tests fail in /usr/share/dutybridge"
}
[[ "$(man -w dutybridge)" == /usr/share/man/man1/dutybridge.1.gz ]] || die "man dutybridge does not find the page"
[[ "$(man -w 5 dutybridge.yaml)" == /usr/share/man/man5/dutybridge.yaml.5.gz ]] ||
  die "man 5 dutybridge.yaml does not find the page"
for page in /usr/share/man/man1/dutybridge.1.gz /usr/share/man/man5/dutybridge.yaml.5.gz; do
  # As lintian reads them (a warning there is only a warning).
  out="$(LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z "$page" 2>&1 >/dev/null)"
  [[ -z "$out" ]] || die "man warns on $page: $out"
done
bash -n /usr/share/bash-completion/completions/dutybridge || die "the bash completion does not parse"
# Every command of the main --help completes.
completion_commands="$(sed -n 's/^ *local commands="\(.*\)"$/\1/p' /usr/share/bash-completion/completions/dutybridge)"
for command in $(/usr/bin/dutybridge --help | awk '/^Commands:/ { on = 1; next } /^$/ { on = 0 } on && /^  [a-z]/ { print $1 }'); do
  [[ " $completion_commands " == *" $command "* ]] || die "the bash completion does not know the command '$command'"
done
if [[ -r /usr/share/bash-completion/bash_completion ]]; then
  # shellcheck disable=SC2016 # expanded by the inner bash
  completed="$(bash -c 'source /usr/share/bash-completion/bash_completion
    source /usr/share/bash-completion/completions/dutybridge
    COMP_WORDS=(dutybridge che); COMP_CWORD=1; COMP_LINE="dutybridge che"; COMP_POINT=${#COMP_LINE}
    _dutybridge; echo "${COMPREPLY[*]}"')"
  [[ "$completed" == check ]] || die "completing 'dutybridge che' gives '$completed', not 'check'"
fi

step "the installed units"
for unit in dutybridge.service dutybridge@.service; do
  # With the manual pages installed, verify checks Documentation=man: too.
  out="$(systemd-analyze verify "/lib/systemd/system/$unit" 2>&1)" || die "systemd-analyze verify $unit: $out"
  [[ -z "$out" ]] || die "systemd-analyze verify $unit warns: $out"
  systemd-analyze security --offline=yes --threshold=15 "/lib/systemd/system/$unit" | tail -n 1 ||
    die "$unit: exposure above 1.5"
done
"$source_dir/tests/systemd/units_test.sh" /usr/bin/dutybridge /lib/systemd/system >/dev/null ||
  die "the installed units lost hardening or drifted apart (tests/systemd/units_test.sh)"

# ---- Daemon behaviour against the installed binary (sd_notify, watchdog, SIGHUP reload) -------
# Each CHECK runs here; see the top of this file for what it gets.
for check in "${checks[@]}"; do
  step "check: $check"
  scratch="$work/check-$(basename "$check")"
  mkdir -p "$scratch"
  DUTYBRIDGE_INSTALLED_BINARY=/usr/bin/dutybridge \
    DUTYBRIDGE_INSTALLED_CONFIG=/etc/dutybridge/dutybridge.yaml \
    DUTYBRIDGE_INSTALLED_UNIT=/lib/systemd/system/dutybridge.service \
    DUTYBRIDGE_INSTALLED_SCRATCH="$scratch" \
    "$check" || die "check $check failed"
  rm -rf "$scratch"
done
# ---------------------------------------------------------------------------------------------

step "dpkg -r"
dpkg -r dutybridge >"$work/dpkg-r.log" 2>&1 || {
  cat "$work/dpkg-r.log" >&2
  die "dpkg -r failed"
}
[[ ! -e /usr/bin/dutybridge ]] || die "dpkg -r left /usr/bin/dutybridge"
# Policy 10.7.3: configuration files stay until purge.
[[ -f /etc/dutybridge/dutybridge.yaml ]] || die "dpkg -r removed the conffile /etc/dutybridge/dutybridge.yaml"

step "dpkg -P"
dpkg -P dutybridge >"$work/dpkg-p.log" 2>&1 || {
  cat "$work/dpkg-p.log" >&2
  die "dpkg -P failed"
}
installed=0
snapshot >"$work/after.txt"
# Left after purge: nothing but what dpkg keeps of every package it saw (its database: the
# *-old backups, trigger files) and man-db's cache (the index its trigger rebuilds, the cat
# pages `man` saved while systemd-analyze verify read Documentation=man:; /var/cache is the
# tools' to clean, and man-db drops cat pages whose source is gone).
left="$(comm -13 "$work/before.txt" "$work/after.txt" |
  grep -Ev '^/var/lib/dpkg/(status-old|diversions-old|statoverride-old|available-old|triggers/)|^/var/cache/man/' || true)"
gone="$(comm -23 "$work/before.txt" "$work/after.txt" || true)"
[[ -z "$left" ]] || die "left behind after dpkg -P:
$left"
[[ -z "$gone" ]] || die "gone after dpkg -P that was there before:
$gone"

step "passed in $((SECONDS - started)) s"
