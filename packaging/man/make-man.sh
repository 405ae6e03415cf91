#!/usr/bin/env bash
# Writes the manual pages of the package into OUTDIR, from the binary itself, so they cannot
# drift from what it accepts:
#   dutybridge.1.gz       help2man over `dutybridge --help` and `--version`, with every command's
#                         own --help as COMMANDS and the sections of dutybridge.h2m
#   dutybridge.yaml.5.gz  `dutybridge list-connectors --format man` (the config schemas)
#
#   packaging/man/make-man.sh BINARY OUTDIR
#
# The build runs it (target dutybridge_man) whenever the binary changes.
set -euo pipefail

binary="$1"
outdir="$2"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mkdir -p "$outdir"
# An ASan build (the CI's) reports the process's leftovers at exit; they are not this page's concern.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"

# A command's --help as roff: "Usage:" lines and indented lines (option tables, examples) kept as
# they are (.nf), other paragraphs filled; backslashes, leading dots and quotes escaped, '-' as
# \- so commands copied from the page work.
help_as_roff() {
  awk '
    function esc(s) {
      gsub(/\\/, "\\e", s)
      gsub(/-/, "\\-", s)
      if (s ~ /^[.\047]/) s = "\\&" s
      return s
    }
    function mode_to(m) {
      if (mode == m) return
      if (mode == "nf") print ".fi"
      if (m == "nf") print ".nf"
      mode = m
    }
    /^$/ { mode_to(""); next }
    /^Usage:/ || /^ / { if (mode == "" && NR > 1) print ".PP"; mode_to("nf"); print esc($0); next }
    { if (mode != "fill") { mode_to(""); if (NR > 1) print ".PP"; mode_to("fill") } print esc($0) }
    END { mode_to("") }
  '
}

commands_section="$outdir/commands.h2m"
{
  echo "[COMMANDS]"
  # Help texts read better left-aligned than with stretched spaces.
  echo ".ad l"
  echo "Each command prints these with \\fB\\-\\-help\\fR."
  # The commands the main --help lists (all but version, which has no options).
  for command in $("$binary" --help | awk '/^Commands:/ { on = 1; next } /^$/ { on = 0 }
                                          on && /^  [a-z]/ && $1 != "version" { print $1 }'); do
    printf '.SS "dutybridge %s"\n' "$command"
    "$binary" "$command" --help | help_as_roff
  done
} >"$commands_section"

help2man --no-info --section=1 \
  --name="MES/ERP/CRM events to duty KPIs and employee records, through Kafka" \
  --include="$here/dutybridge.h2m" --include="$commands_section" \
  --output="$outdir/dutybridge.1" "$binary"
"$binary" list-connectors --format man >"$outdir/dutybridge.yaml.5"

# -n: no name or time stamp in the gzip header, so the same input gives the same bytes.
gzip -9nf "$outdir/dutybridge.1" "$outdir/dutybridge.yaml.5"
rm -f "$commands_section"
