#pragma once
// A mapping file (mappings/*.yaml), loaded, checked and compiled: input schema, `where`
// filter, `let` bindings, `emit` blocks and embedded tests. docs/mapping-language.md is the
// user's reference.
//
// Input types are declared (`input: {field: type}`) or taken from the source
// (`input: from_source`). A from_source mapping loaded without the source's description is
// checked as far as that allows (structure, tables, keys, functions, contracts; the fields it
// reads from the source count as `any`) and is not runnable; compileFor(description) compiles
// the same text again, through the same code, with the described types (the pipeline does this
// after opening the source), and compileWithTestInput() with its `test_input:` types (for
// `dutybridge test` and `dutybridge map`, which have no source).
//
// Threading: a loaded Mapping is immutable; apply() may run concurrently.
// Errors: load problems are Diagnostics (file:line:column, caret, hint), all at once.
// apply() returns Permanent errors for records that belong in the dead-letter path; their
// messages cite mapping locations and field names, never field values.

#include <expected>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "src/aggregate/aggregator.h"
#include "src/calendar/calendar.h"
#include "src/core/clock.h"
#include "src/core/record.h"
#include "src/core/registry.h"
#include "src/core/source.h"
#include "src/diagnostics/diagnostics.h"
#include "src/expr/expr.h"
#include "src/expr/reference_table.h"
#include "src/mapping/contracts.h"

namespace dutybridge::mapping {

// `pii:` class of an input field (docs/mapping-language.md, Personal data).
enum class PiiClass {
  None,
  Drop,  // never bound: no expression may read it, and no view of the record shows it
  Mask,  // read as usual; personal: checked against the emit blocks, masked in every view
  Hmac,  // replaced by HMAC-SHA256 under a key of `hmac_keys:` before any expression reads it
};

struct PiiField {
  std::string name;
  PiiClass pii = PiiClass::None;
  std::string key;  // hmac: the name of the key in `hmac_keys:`
};

struct InputField {
  std::string name;
  expr::Type type;
  size_t slot = 0;
  std::string where;  // "file:line:column" of its declaration, for dead-letter reasons
  bool described = false;  // the type came from the source's description, not the file
  // `pii: hmac(key)`: the key bytes; the slot holds the hex HMAC of the converted value.
  std::shared_ptr<const std::string> hmac_key;
};

struct Let {
  std::string name;
  size_t slot = 0;
  std::unique_ptr<expr::Expr> expr;
};

struct Emit {
  std::string topic;  // empty: the pipeline sink's own topic
  std::vector<std::unique_ptr<expr::Expr>> key;  // joined with '|'; empty: no key
  std::vector<std::pair<std::string, std::unique_ptr<expr::Expr>>> fields;
  std::shared_ptr<const core::RecordSchema> schema;  // the output field names
  std::unique_ptr<expr::Expr> when;                  // optional per-emit condition
  std::optional<ContractBinding> contract;           // `contract:` blocks
  core::SourceLocation location;
  // Fields of the output record that carry personal values (for a contract block also the
  // fields built from them, such as fact_key), and whether the record's key does. The loader
  // refuses any of them that the contract (or `allow_personal:`) does not allow.
  std::vector<std::string> personal_fields;
  bool personal_key = false;
};

struct AggregateMeasure {
  std::string name;
  aggregate::MeasureKind kind = aggregate::MeasureKind::Sum;
  std::unique_ptr<expr::Expr> first;   // value / numerator; null for count()
  std::unique_ptr<expr::Expr> second;  // denominator / weight
};

// `aggregate:`: the record's contribution to a window; the emit blocks then run once per window
// revision, over `scope` (group_by names, measure names and the period fields), not per record.
struct AggregateBlock {
  std::unique_ptr<expr::Expr> id;          // source row identity (required)
  std::unique_ptr<expr::Expr> part;        // optional: one of several contributions of a row (worker)
  std::unique_ptr<expr::Expr> version;     // optional: orders versions of a row (updated_at)
  std::unique_ptr<expr::Expr> time;        // event time -> shift via the calendar ...
  std::unique_ptr<expr::Expr> shift_date;  // ... or the row's own shift_date and shift_code
  std::unique_ptr<expr::Expr> shift_code;
  std::string calendar_name;
  const calendar::Calendar* calendar = nullptr;  // owned by the mapping's FunctionEnv
  calendar::PeriodType period = calendar::PeriodType::Shift;
  // `period: ROLLING` with `window: <N>d` (then `period` is unused): one window per group over
  // the last N plant days (options.rolling_days), each row counting on its day.
  bool rolling = false;
  std::vector<std::pair<std::string, std::unique_ptr<expr::Expr>>> group_by;
  std::vector<AggregateMeasure> measures;
  aggregate::AggregatorOptions options;
  // `expect: {table: NAME}`: a roster (reference table whose keys are the single group_by value)
  // of groups that owe a fact every period, rows or not (a duty not fulfilled shows as a fact).
  std::string expect_table;
  expr::Scope scope;  // what emit blocks see; slots: group_by, measures, then kPeriodFields
  static constexpr std::string_view kPeriodFields[] = {"period_type", "period_id", "shift_date", "shift_code",
                                                       "period_start", "period_end", "closed", "revision", "rows"};
  // What the emit blocks of a ROLLING aggregate see instead (slots after the measures).
  static constexpr std::string_view kRollingFields[] = {"period_type", "window_start", "window_end",
                                                        "rows",        "revision",     "lapsed"};
};

// `quarantine:`: records whose attribution lookup (`lookup(...)!`) finds nothing are held and
// tried again (when a table refreshes, and every `retry`), and dead-lettered after `max_age`.
struct QuarantinePolicy {
  int64_t max_age_micros = 0;
  int64_t retry_micros = 0;
};

struct Output {
  size_t emit = 0;
  core::Record record;  // meta.topic / meta.key set from the emit block
};

struct MappingTest {
  std::string name;
  std::optional<core::Timestamp> now;
  core::Record input;
  // `steps:` (aggregate mappings): records and clock moves in order; window revisions are
  // collected after every step. A step without input only moves the clock.
  struct Step {
    std::optional<core::Timestamp> now;
    std::optional<core::Record> input;
  };
  std::vector<Step> steps;
  // Expected outputs in order: field name -> YAML text (nullopt = null), plus optional topic/key.
  struct Expected {
    std::optional<std::string> topic;
    std::optional<std::string> key;
    std::vector<std::pair<std::string, std::optional<std::string>>> fields;
  };
  std::vector<Expected> expect;
  std::optional<std::string> expect_error;  // substring of the dead-letter reason
  core::SourceLocation location;
};

// Binds a source RecordSchema to the mapping's inputs once, so apply() does no name lookups.
struct Binding {
  std::shared_ptr<const core::RecordSchema> schema;
  std::vector<std::optional<size_t>> index;  // per input field: index in the record, if present
};

class Mapping {
 public:
  std::string name;
  int64_t version = 1;
  std::filesystem::path file;
  std::vector<InputField> inputs;
  expr::Scope scope;
  std::unique_ptr<expr::Expr> where;
  std::vector<Let> lets;
  std::vector<Emit> emits;
  std::vector<MappingTest> tests;
  expr::FunctionEnv env;
  std::string source_system;               // lineage; default: the mapping name
  std::optional<DutyCatalog> catalog;      // `catalog:`, for duty_kpi.v1 emits
  std::unique_ptr<AggregateBlock> aggregate;
  std::optional<QuarantinePolicy> quarantine;
  // Tables with `refresh:`; the pipeline thread calls maybeRefresh() on them (reference_table.h).
  std::vector<std::shared_ptr<expr::TableRefresher>> table_refreshers;
  // `input: from_source`: the input types are the source's description.
  bool from_source = false;
  // False for a from_source mapping loaded without a description: checked, but apply() fails.
  bool runnable = true;
  // Offline from_source: the names the expressions read from the source, in order of first use.
  std::vector<std::string> source_fields;
  bool has_test_input = false;  // `test_input:` (types for tests and `dutybridge map`)
  std::string text;             // the file as loaded, compiled again by compileFor()
  // The table sources of odbc:/kafka: tables and the daemon's kafka section, kept for
  // compileFor() (owned by the daemon).
  const core::Registry* table_sources = nullptr;
  const core::KafkaCluster* kafka = nullptr;

  // Input fields with a `pii:` class, in declaration order (drop fields are in `inputs` never).
  std::vector<PiiField> pii;

  std::string label() const { return name + "@" + std::to_string(version); }

  // Personal data in views of records (map --explain, the live tap, anything that shows a
  // record to a person rather than to the sink). Masked fields keep their name and read
  // redact::kMask ("***"); nulls stay null (that a value is missing is not personal).
  //
  // The input fields classed `pii:` (every class: a raw source record holds them in clear).
  std::vector<std::string> personalInputFields() const;
  // Whether the state this mapping keeps (aggregation rows and windows, held records) can hold
  // personal values, so that a persistent state store must seal it (state_seal.h).
  bool needsStateKey() const { return (aggregate || quarantine) && !pii.empty(); }
  // A source record: its personal input fields masked.
  void maskInput(core::Record& record) const;
  // An output of emit block `emit`: the fields and key that carry personal values masked.
  void maskOutput(core::Record& record, size_t emit) const;
  // An output whose emit block is not known (the pipeline's output stage): every emit block
  // that writes to the record's topic counts (meta.topic, empty = the sink's topic).
  void maskOutput(core::Record& record) const;

  // This mapping's text compiled against a source's description (for a declared input the
  // description is not used). Diagnostics point into the mapping file, and problems involving
  // described types say that the types came from the source's description.
  std::expected<std::unique_ptr<Mapping>, diag::Diagnostics> compileFor(
      const core::SourceDescription& description) const;
  // A from_source mapping compiled with its `test_input:` types (an error without one).
  std::expected<std::unique_ptr<Mapping>, diag::Diagnostics> compileWithTestInput() const;

  Binding bind(const std::shared_ptr<const core::RecordSchema>& schema) const;
  // Maps one record (bound with bind() for its schema). Output records keep the input's
  // source position and event time for lineage.
  core::Result<std::vector<Output>> apply(const core::Record& input, const Binding& binding,
                                          const core::Clock& clock) const;
  // The pipeline's path: appends the outputs to `out` (nothing on failure) and, if given, the
  // index of the emit block of each output to `emit_indices`. Reuses a per-thread slot buffer,
  // so a simple mapping allocates only its output records.
  core::Status applyInto(const core::Record& input, const Binding& binding, const core::Clock& clock,
                         std::vector<core::Record>& out, std::vector<size_t>* emit_indices = nullptr) const;

  // Aggregate mappings: the engine options of `aggregate:`.
  aggregate::AggregatorOptions aggregatorOptions() const;
  // Aggregate mappings: what one input adds to the aggregation (the window and measure inputs
  // of `aggregate:`), or, when `where` rejects it, its retraction (no window). Computes only;
  // AggregateStage applies it. Permanent errors are dead letters; Retryable ones are a missing
  // attribution (`lookup(...)!`) for a quarantine to hold.
  core::Result<aggregate::Contribution> contribution(const core::Record& input, const Binding& binding,
                                                     const core::Clock& clock) const;
  // Aggregate mappings with `expect:`: appends the windows of every roster key for the periods
  // that started after `through` (a shift date; nullopt: today only) and by `now`. Returns the
  // shift date up to which every period has started (the next call's `through`).
  std::optional<core::Date> expectedWindows(std::optional<core::Date> through, core::Timestamp now,
                                            std::vector<aggregate::WindowRef>& out) const;
  // Aggregate mappings: the row's identity ("id|part"), e.g. to key a quarantined record so a
  // newer version of the same row replaces it.
  core::Result<std::string> identity(const core::Record& input, const Binding& binding, const core::Clock& clock) const;
  // Aggregate mappings: the emit blocks over one window revision.
  core::Status emitRevision(const aggregate::Revision& revision, const core::Clock& clock,
                            std::vector<core::Record>& out, std::vector<size_t>* emit_indices = nullptr) const;

 private:
  // Converts the record's fields into their input slots.
  core::Status bindInputs(const core::Record& input, const Binding& binding, std::vector<core::Value>& slots) const;
  // Input slots, `where` and `let`s; false when `where` rejects the record.
  core::Result<bool> prepare(const core::Record& input, const Binding& binding, const expr::EvalContext& context,
                             std::vector<core::Value>& slots) const;
  core::Status runEmits(const expr::EvalContext& context, const core::Record& lineage, const core::Clock& clock,
                        std::vector<core::Record>& out, std::vector<size_t>* emit_indices) const;
};

// The key prefix of MappingLoadOptions::test_hmac_keys.
inline constexpr std::string_view kTestHmacKeyPrefix = "dutybridge-test-key:";

struct MappingLoadOptions {
  // The registry whose table sources (core/table_source.h) load `odbc:` / `kafka:` tables,
  // filled by the daemon (connectors::registerBuiltinConnectors). Without one, such a table is a
  // load error (csv and inline rows need none).
  const core::Registry* table_sources = nullptr;
  // The daemon's `kafka:` section (the default cluster of `kafka:` tables), or nullptr.
  const core::KafkaCluster* kafka = nullptr;
  // A from_source mapping is compiled against this description (as compileFor() does);
  // without, it is loaded offline (not runnable).
  const core::SourceDescription* description = nullptr;
  // Out, optional: incremented once per table whose source could not be reached (a Retryable
  // load error; each is also one of the returned diagnostics). When every diagnostic is one of
  // these, the mapping itself is fine and the daemon retries the load with backoff.
  size_t* unreachable_tables = nullptr;
  // For the mapping's embedded tests (`dutybridge test`): every `hmac_keys:` entry is the fixed
  // text "dutybridge-test-key:NAME" instead of its secret, so tests state pseudonyms that hold
  // on any machine and a plant's real key is neither needed nor ever written into a test.
  bool test_hmac_keys = false;
};

// Loads and checks a mapping file.
std::expected<std::unique_ptr<Mapping>, diag::Diagnostics> loadMapping(const std::filesystem::path& file,
                                                                       const MappingLoadOptions& options = {});

// The mapping's embedded tests; returns one failure text per failed test (a readable diff). A
// from_source mapping that is not runnable is first compiled with its `test_input:` types.
std::vector<std::string> runMappingTests(const Mapping& mapping);

// A JSON object (as a core::Value map) as a Record with its own schema.
core::Record recordFromMap(const core::Value& map);

}  // namespace dutybridge::mapping
