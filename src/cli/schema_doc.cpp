#include "src/cli/schema_doc.h"

#include <fmt/format.h>

#include <limits>
#include <utility>

namespace dutybridge::cli {
namespace {

std::string typeText(const core::FieldSpec& field) {
  if (field.type == core::FieldType::Enum) return fmt::format("enum ({})", fmt::join(field.choices, " | "));
  return std::string(core::toString(field.type));
}

std::string boundsText(const core::FieldSpec& field) {
  bool has_min = field.min != std::numeric_limits<int64_t>::min();
  bool has_max = field.max != std::numeric_limits<int64_t>::max();
  auto show = [&](int64_t v) {
    return field.type == core::FieldType::Duration ? core::formatDuration(v) : std::to_string(v);
  };
  if (has_min && has_max) return fmt::format("{}..{}", show(field.min), show(field.max));
  if (has_min) return fmt::format(">= {}", show(field.min));
  if (has_max) return fmt::format("<= {}", show(field.max));
  return "";
}

std::string defaultText(const core::FieldSpec& field) {
  if (field.required) return "required";
  if (field.default_value) return *field.default_value;
  return "(none)";
}

// Text for one roff line: backslashes escaped, `code` set in bold, a line break folded, and a
// leading '.' or '\'' kept from being read as a request.
std::string roff(std::string_view text) {
  std::string out;
  bool code = false;
  for (char c : text) {
    if (c == '\\') {
      out += "\\e";
    } else if (c == '`') {
      out += code ? "\\fR" : "\\fB";
      code = !code;
    } else {
      out += c == '\n' ? ' ' : c;
    }
  }
  if (code) out += "\\fR";
  if (out.starts_with('.') || out.starts_with('\'')) out.insert(0, "\\&");
  return out;
}

// One key as a tagged paragraph: its path, then type, default or "required", bounds, and what it does.
void manKey(const core::FieldSpec& field, const std::string& path, std::string& out) {
  std::string facts = field.shown_type.empty() ? typeText(field) : field.shown_type;
  facts += field.required ? ", required" : field.default_value ? ", default `" + *field.default_value + "`" : "";
  if (std::string bounds = boundsText(field); !bounds.empty()) facts += ", " + bounds;
  if (field.sensitive) facts += ", secret (never printed)";
  std::string description = field.description;
  for (const auto& former : field.former_names) description += fmt::format(" Formerly `{}`.", former);
  out += fmt::format(".TP\n.B {}\n{}.\n.br\n{}\n", roff(path), roff(facts), roff(description));
}

void manKeys(const core::ConfigSchema& schema, const std::string& prefix, std::string& out) {
  for (const auto& field : schema.fields()) {
    const std::string path = prefix + field.name;
    manKey(field, path, out);
    if (!field.nested) continue;
    const char* below = field.type == core::FieldType::ObjectList  ? "[]."
                        : field.type == core::FieldType::ObjectMap ? ".<name>."
                                                                   : ".";
    manKeys(*field.nested, path + below, out);
  }
}

constexpr std::string_view kManHead = R"(.SH NAME
dutybridge.yaml \- configuration of the dutybridge daemon
.SH SYNOPSIS
.B /etc/dutybridge/dutybridge.yaml
.br
.BI /etc/dutybridge/ NAME .yaml
(the service dutybridge@NAME)
.SH DESCRIPTION
One YAML document: the Kafka cluster, the admin API, logging, and the named pipelines, each a
source, an optional mapping and a sink.
Unknown keys are errors.
.B dutybridge check \-c
.I FILE
reports every problem at once, as file:line:column with the YAML path, and
.B dutybridge run
refuses what
.B check
refuses (exit status 2).
A mapping file named by a relative path is found relative to the directory of the configuration file.
Durations are written like 500ms, 30s, 5m or 1h, sizes like 64MiB.
.PP
Secrets are never written into the file.
Any string may contain a reference, resolved when the file is loaded and never printed:
.TP
.B ${env:NAME}
the environment variable NAME;
.TP
.B ${file:/path}
the contents of a file, one trailing newline removed;
.TP
.B ${cred:NAME}
a systemd credential, the file $CREDENTIALS_DIRECTORY/NAME
(LoadCredential= in the service unit, see
.BR systemd.exec (5)).
.PP
$${ stands for a literal ${.
.PP
Each key below shows its type, its default or that it is required, its bounds, and what it does.
)";

constexpr std::string_view kManTail = R"(.SH FILES
.TP
.I /etc/dutybridge/dutybridge.yaml
the configuration dutybridge.service runs
.TP
.I /etc/dutybridge/credentials/
a place for the files LoadCredential= reads (readable by root only)
.TP
.I /usr/share/dutybridge/
the shipped mappings, duty catalog, plant calendars, reference tables and JSON Schemas
.SH SEE ALSO
.BR dutybridge (1),
.BR systemd.exec (5),
/usr/share/doc/dutybridge/configuration.md,
/usr/share/doc/dutybridge/operations.md
)";

}  // namespace

std::string describeText(const core::ConnectorFactory& factory) {
  std::string out = fmt::format("{} ({})\n  {}\n", factory.name(), core::toString(factory.direction()),
                                factory.description());
  for (const auto& field : factory.configSchema().fields()) {
    std::string bounds = boundsText(field);
    out += fmt::format("    {:<22} {:<18} {}{}{}\n", field.name, typeText(field), defaultText(field),
                       bounds.empty() ? "" : ", " + bounds, field.sensitive ? ", secret" : "");
    out += fmt::format("    {:<22} {}\n", "", field.description);
    for (const auto& former : field.former_names) out += fmt::format("    {:<22} (formerly {})\n", "", former);
  }
  return out;
}

std::string describeMarkdown(const core::ConnectorFactory& factory) {
  std::string out =
      factory.direction() == core::Direction::Table
          ? fmt::format(
                "# `{}:` reference-table source\n\n{} A mapping's `tables: {{NAME: {{{}: {{...}}}}}}` block; "
                "see docs/reference-tables.md.\n\n",
                factory.name(), factory.description(), factory.name())
          : fmt::format("# `{}` {} connector\n\n{}\n\n", factory.name(), core::toString(factory.direction()),
                        factory.description());
  out += "Generated by `dutybridge list-connectors --format markdown` from the connector's schema; "
         "do not edit by hand.\n\n";
  out += "| key | type | default | bounds | description |\n|---|---|---|---|---|\n";
  auto cell = [](std::string text) {
    // A bare '|' would end the table cell.
    for (size_t at = text.find('|'); at != std::string::npos; at = text.find('|', at + 2)) text.replace(at, 1, "\\|");
    return text;
  };
  for (const auto& field : factory.configSchema().fields()) {
    std::string description = field.description;
    if (field.sensitive) description += " Never printed (redacted).";
    for (const auto& former : field.former_names) description += fmt::format(" Formerly `{}`.", former);
    out += fmt::format("| `{}` | {} | {} | {} | {} |\n", field.name, cell(typeText(field)),
                       field.required ? "**required**" : (field.default_value ? "`" + *field.default_value + "`" : ""),
                       boundsText(field), cell(description));
  }
  return out;
}

std::string configManPage(const core::ConfigSchema& daemon, const std::vector<const core::ConnectorFactory*>& connectors,
                          std::string_view version) {
  // Key paths and YAML read better left-aligned than stretched.
  std::string out =
      fmt::format(".TH DUTYBRIDGE.YAML 5 \"\" \"dutybridge {}\" \"File Formats Manual\"\n.ad l\n", version);
  out += kManHead;
  out += ".SH KEYS\n";
  manKeys(daemon, "", out);
  const std::pair<core::Direction, std::string_view> groups[] = {
      {core::Direction::Source, ".SH SOURCES\nThe keys of a pipeline's \\fBsource\\fR, by its \\fBtype\\fR.\n"},
      {core::Direction::Sink, ".SH SINKS\nThe keys of a pipeline's \\fBsink\\fR, by its \\fBtype\\fR.\n"},
      {core::Direction::Table,
       ".SH REFERENCE-TABLE SOURCES\nThe keys of a mapping's table block, "
       "\\fBtables: {NAME: {odbc: {...}}}\\fR (or \\fBkafka:\\fR), by its key.\n"},
  };
  for (const auto& [direction, heading] : groups) {
    out += heading;
    for (const auto* factory : connectors) {
      if (factory->direction() != direction) continue;
      out += fmt::format(".SS {}\n{}\n", roff(factory->name()), roff(factory->description()));
      for (const auto& field : factory->configSchema().fields()) manKey(field, field.name, out);
    }
  }
  out += kManTail;
  return out;
}

}  // namespace dutybridge::cli
