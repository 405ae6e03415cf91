# shellcheck shell=bash
# shellcheck disable=SC2034 # the DB_* variables are for the scripts that source this
# Helpers shared by the scripts in scripts/. Source it; it does not run anything.
# The sourcing script sets DB_TAG (the prefix of its log lines) and `set -euo pipefail`.

# Absolute path of scripts/ (this file lives in scripts/lib/).
DB_SCRIPTS="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DB_REPO="$(cd "$DB_SCRIPTS/.." && pwd)"

# Where the local services keep their state; outside the repo so a `git clean`
# or a fresh clone never fights with a running broker or cluster.
DB_RUN="${DUTYBRIDGE_RUN:-/tmp/dutybridge-run}"

# HOME may be unset in minimal CI environments; fall back to the passwd entry.
db_home() {
  if [[ -n "${HOME:-}" ]]; then
    printf '%s\n' "$HOME"
  else
    getent passwd "$(id -u)" | cut -d: -f6
  fi
}

DB_CACHE="${DUTYBRIDGE_CACHE:-$(db_home)/.cache/dutybridge}"
DB_KAFKA_VERSION="4.1.1"
DB_KAFKA_HOME="$DB_CACHE/kafka-$DB_KAFKA_VERSION"
DB_KAFKA_LIBS="$DB_KAFKA_HOME/libs"

log() { printf '%s: %s\n' "${DB_TAG:-dutybridge}" "$*"; }
warn() { printf '%s: %s\n' "${DB_TAG:-dutybridge}" "$*" >&2; }
die() {
  warn "error: $*"
  exit 1
}

is_root() { [[ "$(id -u)" -eq 0 ]]; }

# Run a command as root: directly in CI (already root), through sudo otherwise.
as_root() {
  if is_root; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    die "need root for: $* (run as root or install sudo)"
  fi
}

# True when something listens on 127.0.0.1:PORT (or on the wildcard address).
port_in_use() {
  local port="$1"
  if command -v ss >/dev/null 2>&1; then
    [[ -n "$(ss -Hltn "sport = :$port" 2>/dev/null)" ]]
  else
    # No iproute2 yet: a successful connect means the port is taken.
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
  fi
}

# True when a TCP connect to 127.0.0.1:PORT succeeds within a second.
port_accepting() {
  timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

# Print a free loopback port in 20000-60000, avoiding the ports given as
# arguments (so one service can ask for two distinct ports). Random rather than
# fixed so that parallel runs and other software on the machine do not collide.
free_port() {
  local port avoid tries
  for ((tries = 0; tries < 200; tries++)); do
    port="$(shuf -i 20000-60000 -n 1)"
    for avoid in "$@"; do
      [[ "$port" == "$avoid" ]] && continue 2
    done
    if ! port_in_use "$port"; then
      printf '%s\n' "$port"
      return 0
    fi
  done
  die "no free port found in 20000-60000"
}

# Validate a port number given through the environment.
check_port() {
  if ! [[ "$1" =~ ^[0-9]+$ ]] || ((10#$1 < 1 || 10#$1 > 65535)); then
    die "not a TCP port: '$1'"
  fi
}

# wait_until TIMEOUT_SECONDS COMMAND...: poll COMMAND every 0.25 s; status 1 on timeout.
wait_until() {
  local timeout="$1" deadline
  shift
  deadline=$((SECONDS + timeout))
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.25
  done
}

# True when PID is a live process (a zombie, waiting to be reaped, does not count).
pid_alive() {
  local pid="$1" state
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [[ -r "/proc/$pid/stat" ]] || return 1
  state="$(sed -E 's/^.*\) ([A-Za-z]).*$/\1/' "/proc/$pid/stat" 2>/dev/null)" || return 1
  [[ -n "$state" && "$state" != "Z" && "$state" != "X" ]]
}

pid_gone() { ! pid_alive "$1"; }

# Read a one-line state file (port, pid, password); empty when absent.
read_state() {
  local file="$1"
  if [[ -r "$file" ]]; then
    head -n 1 "$file"
  fi
}

# Quote a value for the shell with single quotes (readable, unlike printf %q).
shell_quote() {
  local v="$1" q="'\\''"
  printf "'%s'" "${v//\'/$q}"
}
