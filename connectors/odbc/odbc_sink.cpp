#include "connectors/odbc/odbc_sink.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "connectors/odbc/odbc_dialect.h"
#include "connectors/odbc/odbc_settings.h"
#include "connectors/odbc/upsert_dialect.h"
#include "src/codec/json_writer.h"
#include "src/common/log.h"
#include "src/contract/contract_spec.h"
#include "src/core/settings.h"
#include "src/odbc/odbc_handles.h"
#include "src/runtime/retry.h"

namespace dutybridge::connectors {
namespace {

using core::ConfigObject;
using core::ConfigProblem;
using core::FieldSpec;
using core::FieldType;

// A column and the record field it is filled from ("period.type": member type of map period).
struct ColumnSource {
  std::string column;             // rendered identifier
  std::vector<std::string> path;  // field, then map members
};

// What the sink's config says (sinkSettings() binds every field).
struct Settings {
  odbc::ConnectionSettings link;
  odbc::Identifier table;
  std::vector<odbc::Identifier> key;
  std::optional<odbc::Identifier> revision;
  std::vector<std::pair<odbc::Identifier, std::vector<std::string>>> columns;  // empty: every field
  std::optional<odbc::Identifier> updated_at;
  odbc::Identifier offsets_table;
  std::optional<std::string> pipeline_key;  // create(): the pipeline name when absent
  size_t insert_rows = 0;
  std::chrono::microseconds query_timeout{};
  std::optional<std::string> contract;  // create() fills key, revision and columns from it
  std::string withdrawn = "mark";       // mark | delete: what a WITHDRAWN row (column status) becomes
};

std::vector<std::string> splitPath(std::string_view path) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t dot = path.find('.', start);
    parts.emplace_back(path.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return parts;
}

bool sameName(const odbc::Identifier& a, const odbc::Identifier& b) {
  return a.parts.size() == b.parts.size() && a.matchesColumn(b.last().name, a.last().quoted && b.last().quoted);
}

// The table of `spec` named like the sink's target table (its last name part), if any.
const contract::Table* contractTable(const contract::Spec& spec, const odbc::Identifier& table) {
  for (const auto& t : spec.tables) {
    if (table.matchesColumn(t.name, false)) return &t;
  }
  return nullptr;
}

std::vector<ConfigProblem> crossCheck(const ConfigObject& config) {
  std::vector<ConfigProblem> problems;
  auto identifier = [&](const char* field, const std::string& text) -> std::optional<odbc::Identifier> {
    auto id = odbc::parseIdentifier(text);
    if (!id) {
      problems.push_back({field, id.error().message});
      return std::nullopt;
    }
    return *id;
  };
  auto table = identifier("table", config.getString("table"));
  if (config.has("contract")) {
    const contract::Spec* spec = contract::find(config.getString("contract"));
    for (const char* given : {"key", "revision", "columns"}) {
      if (config.has(given)) {
        problems.push_back({given, fmt::format("'{}' comes from the contract {}: leave it out", given, spec->name)});
      }
    }
    if (table && !contractTable(*spec, *table)) {
      std::string names;
      for (const auto& t : spec->tables) names += (names.empty() ? "" : ", ") + t.name;
      problems.push_back(
          {"table", fmt::format("the contract {} is kept in {}, not in '{}'", spec->name, names, table->last().name)});
    }
  } else if (!config.has("key")) {
    problems.push_back({"key", "'key' is required (or 'contract', which gives key, revision and columns)"});
  }
  if (config.has("offsets_table")) identifier("offsets_table", config.getString("offsets_table"));
  if (config.has("updated_at_column") && !config.getString("updated_at_column").empty()) {
    identifier("updated_at_column", config.getString("updated_at_column"));
  }
  std::vector<odbc::Identifier> keys;
  for (const auto& k : config.getStringList("key")) {
    if (auto id = identifier("key", k)) keys.push_back(*id);
  }
  if (config.has("key") && config.getStringList("key").empty()) problems.push_back({"key", "'key' needs a column"});
  std::optional<odbc::Identifier> revision;
  if (config.has("revision")) revision = identifier("revision", config.getString("revision"));
  if (config.has("columns")) {
    std::vector<odbc::Identifier> columns;
    for (const auto& [column, path] : config.getStringMap("columns")) {
      if (auto id = identifier("columns", column)) columns.push_back(*id);
      for (const auto& part : splitPath(path)) {
        if (part.empty()) problems.push_back({"columns", fmt::format("'{}': field path '{}' has an empty part", column, path)});
      }
    }
    auto mapped = [&](const odbc::Identifier& id) {
      return std::any_of(columns.begin(), columns.end(), [&](const auto& c) { return sameName(c, id); });
    };
    for (const auto& k : keys) {
      if (!mapped(k)) problems.push_back({"key", fmt::format("key column '{}' is not in 'columns'", k.last().name)});
    }
    if (revision && !mapped(*revision)) {
      problems.push_back({"revision", fmt::format("revision column '{}' is not in 'columns'", revision->last().name)});
    }
  }
  return problems;
}

int wholeSeconds(std::chrono::microseconds d) {
  return static_cast<int>(std::max<int64_t>(std::chrono::duration_cast<std::chrono::seconds>(d).count(), 0));
}

// The database's text without the row it failed on: PostgreSQL's DETAIL ("Failing row contains
// (...)", "Key (fact_key)=(...) already exists") carries values, which may be personal data.
std::string withoutRowValues(std::string text) {
  for (std::string_view marker : {"DETAIL:", "Failing row contains", "Key ("}) {
    if (size_t at = text.find(marker); at != std::string::npos) text = text.substr(0, at) + "(row values omitted)";
  }
  return text;
}

// Bound parameters as text, all in one buffer (a batch's thousands of cells would otherwise be
// as many strings to allocate on the pipeline's thread and free on the worker's).
struct Params {
  struct Cell {
    size_t offset = 0;
    SQLLEN indicator = 0;  // the text's length, or SQL_NULL_DATA
  };
  std::string text;
  std::vector<Cell> cells;

  void add(std::string_view value) {
    cells.push_back({text.size(), static_cast<SQLLEN>(value.size())});
    text += value;
  }
  std::string_view at(size_t i) const { return {text.data() + cells[i].offset, static_cast<size_t>(cells[i].indicator)}; }
};

// One batch as the worker writes it: its rows already converted to parameters on the pipeline's
// thread (the records themselves are the pipeline's and change after write() returns).
struct Job {
  uint64_t sequence = 0;
  std::string position;                            // "" leaves the offsets row alone
  std::shared_ptr<const odbc::UpsertShape> shape;  // null for a batch without records
  Params params;                                   // rows one after another, shape->columns.size() cells each
  size_t records = 0;
  std::string first_position, last_position;       // source positions, for error messages
  std::vector<std::string> row_records;            // per row: the identity of the record it holds
  bool withdrawn = false;                          // withdrawn: delete, and some row says WITHDRAWN

  size_t rows() const { return shape ? params.cells.size() / shape->columns.size() : 0; }
};

// Batches queued or in the worker's transaction. Two keep the pipeline converting the next
// batch while one commits; more let the worker take several at once (group commit) when the
// database is slower than the pipeline, bounded by records so that large batches (the kafka source's batch_rows)
// do not hold much more memory: a third or later batch is only queued while the queue holds
// at most kQueuedRecords records with it.
constexpr size_t kQueuedBatches = 8;
constexpr size_t kQueuedRecords = 20'000;
// Rows one group transaction takes at most (a single larger batch is still taken whole).
constexpr size_t kGroupRows = 20'000;
constexpr std::chrono::milliseconds kRetryInitial{100};
// As the pipeline's backoff: after an outage the sink must notice the database within seconds.
constexpr std::chrono::milliseconds kRetryMax{5'000};

class OdbcSink final : public core::Sink {
 public:
  OdbcSink(Settings settings, std::string component) : settings_(std::move(settings)), component_(std::move(component)) {}
  OdbcSink(const OdbcSink&) = delete;
  OdbcSink& operator=(const OdbcSink&) = delete;
  ~OdbcSink() override { close(); }

  core::Status open() override {
    std::lock_guard connection_lock(connection_mutex_);
    if (auto connected = ensureConnected(); !connected) return connected;
    // Say at start-up, not at the first batch, that the admin has not created the table.
    auto statement = connection_->statement();
    if (!statement) return failed(statement.error());
    if (auto probed = statement->execute(upsert_->probeTableSql(table_sql_)); !probed) {
      const core::Error error = asOutageIfDead(probed.error());
      if (error.kind == core::ErrorKind::Retryable) return failed(error);
      rollback();
      return core::fail(core::ErrorKind::Permanent,
                        fmt::format("target table {} cannot be read (does it exist? the HR tables are created with "
                                    "`dutybridge hr-schema --dialect {}`): {}",
                                    table_sql_, upsert_->name(), probed.error().message));
    }
    statement->closeCursor();
    if (auto ended = endTransaction(SQL_COMMIT, "ending the table check"); !ended) return ended;
    return ensureOffsetsTable();
  }

  bool storesPosition() const override { return true; }

  std::optional<std::string> retrying() const override {
    std::lock_guard lock(mutex_);
    return retrying_reason_;
  }
  void nextBatchPosition(std::string_view position) override { position_ = std::string(position); }

  // Counted by the worker thread with atomics, read here on the pipeline's.
  void metrics(std::vector<core::MetricSample>& out) const override {
    out.push_back({"dutybridge_odbc_sink_rows_upserted_total",
                   {},
                   core::MetricKind::Counter,
                   static_cast<double>(rows_upserted_.load(std::memory_order_relaxed)),
                   {}});
    out.push_back(transaction_seconds_.sample("dutybridge_odbc_sink_transaction_duration_seconds"));
  }

  core::Result<std::optional<std::string>> storedPosition() override {
    std::lock_guard connection_lock(connection_mutex_);
    if (auto connected = ensureConnected(); !connected) return core::fail(connected.error());
    if (auto created = ensureOffsetsTable(); !created) return core::fail(created.error());
    auto select = prepare("SELECT position FROM " + offsets_sql_ + " WHERE pipeline_key = ?");
    if (!select) return core::fail(failed(select.error()).error());
    Params params;
    params.add(*settings_.pipeline_key);
    if (auto bound = bind(*select, params, 0, 1); !bound) return core::fail(failed(bound.error()).error());
    if (!odbc::succeeded(SQLExecute(select->get()))) {
      auto error = odbc::makeError("reading " + offsets_sql_, SQL_HANDLE_STMT, select->get());
      rollback();
      return core::fail(failed(error).error());
    }
    std::optional<std::string> position;
    auto row = select->fetch();
    if (!row) return core::fail(failed(row.error()).error());
    if (*row) {
      auto text = select->getText(1);
      if (!text) return core::fail(failed(text.error()).error());
      position = *text;
    }
    select->closeCursor();
    if (auto ended = endTransaction(SQL_COMMIT, "reading " + offsets_sql_); !ended) return core::fail(ended.error());
    return position;
  }

  std::vector<core::Refusal> screen(std::span<const core::Record> records) override {
    std::vector<core::Refusal> refusals;
    // A shape that does not fit the records at all is the batch's error (write() returns it).
    if (records.empty() || !prepareShape(records.front())) return refusals;
    for (size_t r = 0; r < records.size(); ++r) {
      const core::Record& record = records[r];
      for (size_t i : key_index_) {
        const core::Value* v = resolve(record, sources_[i].path);
        if (!v || v->isNull()) {
          refusals.push_back({r, fmt::format("the record has no value for key column {} of the odbc sink", sources_[i].column)});
          break;
        }
      }
      if (!refusals.empty() && refusals.back().index == r) continue;
      if (revision_index_) {
        const core::Value* v = resolve(record, sources_[*revision_index_].path);
        if (!v || !v->toInt()) {
          refusals.push_back({r, fmt::format("the record has no integer revision in column {} of the odbc sink",
                                             sources_[*revision_index_].column)});
        }
      }
    }
    return refusals;
  }

  core::Result<size_t> write(std::span<const core::Record> records, uint64_t sequence) override {
    {
      std::lock_guard lock(mutex_);
      if (error_) return core::fail(*error_);
      // All or nothing: a batch is taken whole.
      if (queue_.size() >= kQueuedBatches) return size_t{0};
      if (queue_.size() >= 2 && queued_records_ + records.size() > kQueuedRecords) return size_t{0};
    }
    std::unique_ptr<Job> job;
    {
      // A committed batch's job, buffers and all: its parameter buffers keep their capacity.
      std::lock_guard lock(mutex_);
      if (!spare_.empty()) {
        job = std::move(spare_.back());
        spare_.pop_back();
      }
    }
    if (job) {
      job->params.text.clear();
      job->params.cells.clear();
      job->shape.reset();
      job->position.clear();
      job->first_position.clear();
      job->last_position.clear();
      job->row_records.clear();
      job->withdrawn = false;
    } else {
      job = std::make_unique<Job>();
    }
    job->sequence = sequence;
    job->records = records.size();
    if (!records.empty()) {
      if (auto collected = collectRows(records, *job); !collected) return core::fail(collected.error());
      job->shape = shape_;
      job->position = position_;
      job->first_position = records.front().meta.source_position;
      job->last_position = records.back().meta.source_position;
    }
    if (!worker_.joinable()) worker_ = std::jthread([this](std::stop_token stop) { work(stop); });
    {
      std::lock_guard lock(mutex_);
      queued_records_ += job->records;
      queue_.push_back(std::move(job));
    }
    work_cv_.notify_one();
    return records.size();
  }

  core::Result<uint64_t> poll(std::chrono::milliseconds max_wait) override {
    std::unique_lock lock(mutex_);
    done_cv_.wait_for(lock, max_wait, [&] { return error_ || committed_ > reported_; });
    if (error_) return core::fail(*error_);
    reported_ = committed_;
    return committed_;
  }

  core::Status flush(std::chrono::steady_clock::time_point deadline) override {
    std::unique_lock lock(mutex_);
    const bool drained = done_cv_.wait_until(lock, deadline, [&] { return error_ || queue_.empty(); });
    if (error_) return core::fail(*error_);
    if (!drained) {
      return core::fail(core::ErrorKind::Retryable,
                        fmt::format("{} batch(es) not committed to the database yet", queue_.size()));
    }
    return {};
  }

  std::vector<core::WriteRefusal> takeWriteRefusals() override {
    std::lock_guard lock(mutex_);
    return std::move(write_refusals_);
  }

  void close() override {
    if (worker_.joinable()) {
      worker_.request_stop();  // wakes the worker from its queue wait and its retry backoff
      worker_.join();
    }
    std::lock_guard connection_lock(connection_mutex_);
    disconnect();
  }

 private:
  // The worker thread: writes the queued batches in order. It takes every batch queued when it
  // starts a transaction (up to kGroupRows rows) into that one transaction with the newest
  // position (group commit): under load that saves commits and offsets upserts, idle it is one
  // batch per transaction as before. The batches stay in the queue until their transaction
  // committed; a Retryable failure (the database is unreachable, a timeout, a lost commit
  // answer) is retried with capped backoff until it commits or close() stops the thread. A
  // Permanent one is kept for write(), poll() and flush() to return, and the batches after the
  // failing one are dropped (the pipeline stops); the batches before it in the same group are
  // written again without it first, so what commits is what one batch per transaction would
  // have committed.
  void work(std::stop_token stop) {
    runtime::Backoff backoff(kRetryInitial, kRetryMax);
    bool retrying = false;
    size_t group_limit = kQueuedBatches;  // fewer after a Permanent failure inside a group
    std::vector<Job*> group;
    while (true) {
      group.clear();
      {
        std::unique_lock lock(mutex_);
        if (!work_cv_.wait(lock, stop, [&] { return !queue_.empty(); })) return;  // stopped
        size_t rows = 0;
        // The jobs stay valid: only this thread removes them.
        for (const auto& queued : queue_) {
          if (group.size() == group_limit || (!group.empty() && rows + queued->rows() > kGroupRows)) break;
          rows += queued->rows();
          group.push_back(queued.get());
        }
      }
      size_t failed_at = 0;
      core::Status done;
      const auto began = std::chrono::steady_clock::now();
      {
        std::lock_guard connection_lock(connection_mutex_);
        done = runGroup(group, failed_at);
      }
      if (done) {
        size_t upserted = 0;
        for (const Job* job : group) upserted += job->records > 0 ? job->rows() : 0;
        if (upserted > 0) {  // else no transaction ran
          rows_upserted_.fetch_add(upserted, std::memory_order_relaxed);
          transaction_seconds_.observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count());
        }
        if (retrying) log::notice(component_, "batch {} committed after retries", group.back()->sequence);
        retrying = false;
        backoff.reset();
        group_limit = kQueuedBatches;
        std::lock_guard lock(mutex_);
        retrying_reason_.reset();
        committed_ = group.back()->sequence;
        for (size_t i = 0; i < group.size(); ++i) {
          queued_records_ -= queue_.front()->records;
          if (spare_.size() < 2) spare_.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
        done_cv_.notify_all();
        continue;
      }
      if (done.error().kind == core::ErrorKind::Retryable) {
        const auto delay = backoff.next();
        log::warning(component_, "writing batch {} failed, retrying in {} ms: {}",
                     group.size() == 1 ? fmt::format("{}", group.front()->sequence)
                                       : fmt::format("{}..{}", group.front()->sequence, group.back()->sequence),
                     delay.count(), done.error().message);
        retrying = true;
        {
          std::lock_guard lock(mutex_);
          retrying_reason_ = done.error().message;
        }
        if (!runtime::Backoff::sleep(stop, delay)) return;  // close() stopped the worker
        continue;
      }
      if (failed_at > 0) {
        // The batches before the failing one commit on their own; it fails alone next.
        group_limit = failed_at;
        continue;
      }
      std::vector<core::WriteRefusal> refused;
      if (std::exchange(rows_refused_, false)) {
        std::lock_guard connection_lock(connection_mutex_);
        auto found = refusedRows(*group.front());
        if (!found && found.error().kind == core::ErrorKind::Retryable) {
          retrying = true;
          if (!runtime::Backoff::sleep(stop, backoff.next())) return;
          continue;  // the batch is written again, and fails again, on a new connection
        }
        if (found) refused = std::move(*found);
      }
      std::lock_guard lock(mutex_);
      if (!refused.empty()) {
        // The pipeline dead-letters these records and writes the batch again without them.
        error_ = core::Error{core::ErrorKind::Abortable,
                             fmt::format("the database refused {} record(s) of batch {} (first: {})", refused.size(),
                                         group.front()->sequence, refused.front().reason)};
        write_refusals_ = std::move(refused);
      } else {
        error_ = done.error();
      }
      queue_.clear();
      queued_records_ = 0;
      done_cv_.notify_all();
      return;
    }
  }

  // The batches of one group, one transaction: each batch's rows, then the offsets row with the
  // newest position, then commit. On failure `failed_at` is the index of the batch the error
  // belongs to. Worker thread, with connection_mutex_ held.
  core::Status runGroup(const std::vector<Job*>& group, size_t& failed_at) {
    const bool any_rows = std::any_of(group.begin(), group.end(), [](const Job* job) { return job->records > 0; });
    if (!any_rows) return {};
    if (auto connected = ensureConnected(); !connected) return connected;
    const Job* positioned = nullptr;  // the newest batch with a position
    for (size_t i = 0; i < group.size(); ++i) {
      Job& job = *group[i];
      if (job.records == 0) continue;
      failed_at = i;
      if (auto written = writeRows(job); !written) return written;
      if (job.withdrawn) {
        if (auto deleted = deleteWithdrawn(job); !deleted) return deleted;
      }
      if (!job.position.empty()) positioned = &job;
    }
    if (positioned) {
      const Job& job = *positioned;
      if (!offsets_statement_) {
        auto prepared = prepare(upsert_->offsetsUpsertSql(offsets_sql_));
        if (!prepared) return abandon(prepared.error(), job);
        offsets_statement_ = std::move(*prepared);
      }
      Params params;
      params.add(*settings_.pipeline_key);
      params.add(job.position);
      if (auto bound = bind(*offsets_statement_, params, 0, 2); !bound) return abandon(bound.error(), job);
      if (!odbc::succeeded(SQLExecute(offsets_statement_->get()))) {
        auto error = odbc::makeError("storing the position in " + offsets_sql_, SQL_HANDLE_STMT, offsets_statement_->get());
        SQLFreeStmt(offsets_statement_->get(), SQL_CLOSE);
        if (error.message.find("does not exist") != std::string::npos || error.message.find("no such table") != std::string::npos) {
          error.kind = core::ErrorKind::Permanent;
        }
        return abandon(error, job);
      }
      SQLFreeStmt(offsets_statement_->get(), SQL_CLOSE);
    }
    if (!odbc::succeeded(SQLEndTran(SQL_HANDLE_DBC, connection_->get(), SQL_COMMIT))) {
      // Whether a commit whose answer was lost took effect is unknown; retrying the batches is
      // harmless either way (revision-aware upsert, same position).
      auto error = odbc::makeError("committing", SQL_HANDLE_DBC, connection_->get());
      if (error.kind != core::ErrorKind::Retryable) error.kind = core::ErrorKind::Retryable;
      disconnect();
      return core::fail(std::move(error));
    }
    return {};
  }

  size_t rowsPerStatement(const odbc::UpsertShape& shape) const {
    const size_t width = shape.columns.size();
    return std::max<size_t>(1, std::min(settings_.insert_rows, upsert_->maxParameters() / std::max<size_t>(width, 1)));
  }

  // One batch's rows in multi-row statements, inside the group's transaction. A statement the
  // database refuses for good (a constraint, a type) sets rows_refused_.
  core::Status writeRows(Job& job) {
    if (prepared_shape_ != job.shape) {
      statements_.clear();
      prepared_shape_ = job.shape;
    }
    const odbc::UpsertShape& shape = *job.shape;
    const size_t width = shape.columns.size();
    const size_t per_statement = rowsPerStatement(shape);
    const size_t row_count = job.rows();
    for (size_t first = 0; first < row_count; first += per_statement) {
      size_t n = std::min(per_statement, row_count - first);
      auto statement = upsertStatement(shape, n, per_statement);
      if (!statement) return abandon(statement.error(), job);
      if (auto bound = bind(**statement, job.params, first * width, n * width); !bound) return abandon(bound.error(), job);
      SQLRETURN rc = SQLExecute((*statement)->get());
      if (!odbc::succeeded(rc) && rc != SQL_NO_DATA) {
        auto error = odbc::makeError(fmt::format("upserting into {}", table_sql_), SQL_HANDLE_STMT, (*statement)->get());
        SQLFreeStmt((*statement)->get(), SQL_CLOSE);
        auto abandoned = abandon(error, job);
        rows_refused_ = abandoned.error().kind == core::ErrorKind::Permanent;
        return abandoned;
      }
      SQLFreeStmt((*statement)->get(), SQL_CLOSE);
    }
    return {};
  }

  // `withdrawn: delete`: the rows the batch marked WITHDRAWN (revision-aware, like any upsert)
  // are deleted in the same transaction. A replay of an older revision inserts the row again, and
  // the withdrawn revision after it (the same key: the same partition, in order) deletes it again.
  core::Status deleteWithdrawn(Job& job) {
    if (!delete_statement_) {
      auto prepared = prepare(fmt::format("DELETE FROM {} WHERE {} = 'WITHDRAWN'", table_sql_, *job.shape->status));
      if (!prepared) return abandon(prepared.error(), job);
      delete_statement_ = std::move(*prepared);
    }
    SQLRETURN rc = SQLExecute(delete_statement_->get());
    if (!odbc::succeeded(rc) && rc != SQL_NO_DATA) {  // SQL_NO_DATA: nothing left to delete
      auto error = odbc::makeError(fmt::format("deleting the withdrawn rows of {}", table_sql_), SQL_HANDLE_STMT,
                                   delete_statement_->get());
      SQLFreeStmt(delete_statement_->get(), SQL_CLOSE);
      return abandon(error, job);
    }
    SQLFreeStmt(delete_statement_->get(), SQL_CLOSE);
    return {};
  }

  // A statement of `job` was refused for good: writes the job's rows one at a time, each behind
  // a savepoint, to find the ones the database refuses, then rolls everything back: their dead
  // letters must be delivered before anything of the batch (its position included) is stored.
  // Empty when every row goes in alone (the rows refused only together). Worker thread,
  // connection_mutex_ held.
  core::Result<std::vector<core::WriteRefusal>> refusedRows(Job& job) {
    if (auto connected = ensureConnected(); !connected) return core::fail(connected.error());
    const odbc::UpsertShape& shape = *job.shape;
    const size_t width = shape.columns.size();
    auto single = upsertStatement(shape, 1, rowsPerStatement(shape));
    if (!single) return core::fail(failed(single.error()).error());
    auto control = connection_->statement();
    if (!control) return core::fail(failed(control.error()).error());
    auto run = [&](const char* sql) -> core::Status {
      if (auto done = control->execute(sql); !done) return failed(withContext(done.error(), sql));
      control->closeCursor();
      return {};
    };
    std::vector<core::WriteRefusal> refused;
    for (size_t row = 0; row < job.rows(); ++row) {
      if (auto saved = run("SAVEPOINT dutybridge_row"); !saved) return core::fail(saved.error());
      if (auto bound = bind(**single, job.params, row * width, width); !bound)
        return core::fail(failed(bound.error()).error());
      SQLRETURN rc = SQLExecute((*single)->get());
      if (odbc::succeeded(rc) || rc == SQL_NO_DATA) {
        SQLFreeStmt((*single)->get(), SQL_CLOSE);
        if (auto released = run("RELEASE SAVEPOINT dutybridge_row"); !released) return core::fail(released.error());
        continue;
      }
      auto error = asOutageIfDead(
          odbc::makeError(fmt::format("upserting into {}", table_sql_), SQL_HANDLE_STMT, (*single)->get()));
      SQLFreeStmt((*single)->get(), SQL_CLOSE);
      if (error.kind == core::ErrorKind::Retryable) return core::fail(failed(error).error());
      refused.push_back({job.row_records[row], withoutRowValues(error.message), std::nullopt});
      if (auto back = run("ROLLBACK TO SAVEPOINT dutybridge_row"); !back) return core::fail(back.error());
    }
    rollback();
    return refused;
  }

  core::Status ensureConnected() {
    if (connection_) return {};
    if (!environment_) {
      auto env = odbc::Environment::create();
      if (!env) return core::fail(env.error());
      environment_ = std::move(*env);
    }
    auto connection = odbc::Connection::connect(*environment_, settings_.link.connection,
                                                std::max(1, wholeSeconds(settings_.link.connect_timeout)));
    if (!connection) return core::fail(connection.error());
    SQLCHAR quote[8] = {};
    SQLSMALLINT quote_length = 0;
    SQLGetInfo(connection->get(), SQL_IDENTIFIER_QUOTE_CHAR, quote, sizeof quote, &quote_length);
    odbc::Dialect dialect = odbc::detectDialect(connection->dbmsName(), reinterpret_cast<const char*>(quote));
    const odbc::UpsertDialect* upsert = odbc::upsertDialectFor(dialect.kind);
    if (!upsert) {
      return core::fail(core::ErrorKind::Permanent,
                        fmt::format("the odbc sink has no upsert dialect for {} yet (PostgreSQL and SQLite are "
                                    "supported; connectors/odbc/upsert_dialect.h says how to add one)",
                                    dialect.dbms));
    }
    if (!odbc::succeeded(SQLSetConnectAttr(connection->get(), SQL_ATTR_AUTOCOMMIT,
                                           reinterpret_cast<SQLPOINTER>(SQL_AUTOCOMMIT_OFF), SQL_IS_UINTEGER))) {
      return core::fail(odbc::makeError("turning autocommit off", SQL_HANDLE_DBC, connection->get()));
    }
    connection_ = std::move(*connection);
    if (!upsert_) {
      dialect_ = std::move(dialect);
      upsert_ = upsert;
      // The first connection (open(), on the pipeline's thread) fixes the names; a reconnection
      // (on the worker) reaches the same database and leaves them alone, since the pipeline's
      // thread reads them while converting the next batch.
      table_sql_ = settings_.table.render(dialect_);
      odbc::Identifier name;
      name.parts.push_back(settings_.table.last());
      table_name_sql_ = name.render(dialect_);
      offsets_sql_ = settings_.offsets_table.render(dialect_);
    }
    statements_.clear();
    offsets_statement_.reset();
    delete_statement_.reset();
    if (reconnected_) log::notice(component_, "reconnected to {}", dialect_.dbms);
    return {};
  }

  // CREATE TABLE IF NOT EXISTS, committed on its own: the target tables are the admin's, the
  // offsets table is the sink's.
  core::Status ensureOffsetsTable() {
    auto create = connection_->statement();
    if (!create) return failed(create.error());
    if (auto created = create->execute(upsert_->offsetsCreateSql(offsets_sql_)); !created) {
      return failed(withContext(created.error(), "creating " + offsets_sql_));
    }
    return endTransaction(SQL_COMMIT, "creating " + offsets_sql_);
  }

  void disconnect() {
    statements_.clear();
    offsets_statement_.reset();
    delete_statement_.reset();
    if (connection_) {
      SQLEndTran(SQL_HANDLE_DBC, connection_->get(), SQL_ROLLBACK);
      reconnected_ = true;
    }
    connection_.reset();
  }

  void rollback() {
    if (connection_ && !odbc::succeeded(SQLEndTran(SQL_HANDLE_DBC, connection_->get(), SQL_ROLLBACK))) disconnect();
  }

  core::Status endTransaction(SQLSMALLINT how, std::string_view what) {
    if (!odbc::succeeded(SQLEndTran(SQL_HANDLE_DBC, connection_->get(), how))) {
      return failed(odbc::makeError(what, SQL_HANDLE_DBC, connection_->get()));
    }
    return {};
  }

  static core::Error withContext(core::Error error, std::string_view what) {
    error.message = fmt::format("{}: {}", what, error.message);
    return error;
  }

  // A Retryable error means the connection is suspect: drop it, the next call reconnects.
  core::Status failed(const core::Error& reported) {
    const core::Error error = asOutageIfDead(reported);
    if (error.kind == core::ErrorKind::Retryable) {
      disconnect();
    } else {
      rollback();
    }
    return core::fail(error);
  }

  // Rolls the batch back; nothing of it is applied.
  core::Status abandon(core::Error error, const Job& job) {
    error = asOutageIfDead(std::move(error));
    if (error.kind == core::ErrorKind::Retryable) {
      disconnect();
      return core::fail(std::move(error));
    }
    rollback();
    error.message = withoutRowValues(std::move(error.message));
    if (!job.first_position.empty()) {
      error.message += fmt::format(" (batch of {} records, source positions {} .. {})", job.records, job.first_position,
                                   job.last_position);
    }
    return core::fail(std::move(error));
  }

  // odbc::makeError tells an outage from a bad record by SQLSTATE and the driver's wording; a
  // driver that knows its connection is gone says so here, whatever its message was: Retryable.
  core::Error asOutageIfDead(core::Error error) const {
    if (error.kind != core::ErrorKind::Retryable && connectionDead()) {
      error.kind = core::ErrorKind::Retryable;
      error.message += " (the driver reports the connection dead)";
    }
    return error;
  }

  // SQL_ATTR_CONNECTION_DEAD (ODBC 3.5): psqlODBC answers from its socket state. A driver that
  // does not support the attribute counts as alive.
  bool connectionDead() const {
    if (!connection_) return true;
    SQLUINTEGER dead = SQL_CD_FALSE;
    SQLRETURN rc = SQLGetConnectAttr(connection_->get(), SQL_ATTR_CONNECTION_DEAD, &dead, 0, nullptr);
    return odbc::succeeded(rc) && dead == SQL_CD_TRUE;
  }

  core::Result<odbc::Statement> prepare(const std::string& sql) {
    auto statement = connection_->statement();
    if (!statement) return core::fail(statement.error());
    if (settings_.query_timeout.count() > 0) {
      SQLSetStmtAttr(statement->get(), SQL_ATTR_QUERY_TIMEOUT,
                     reinterpret_cast<SQLPOINTER>(static_cast<intptr_t>(std::max(1, wholeSeconds(settings_.query_timeout)))), 0);
    }
    if (!odbc::succeeded(SQLPrepare(statement->get(), reinterpret_cast<SQLCHAR*>(const_cast<char*>(sql.c_str())),
                                    static_cast<SQLINTEGER>(sql.size())))) {
      return core::fail(odbc::makeError("preparing the upsert", SQL_HANDLE_STMT, statement->get()));
    }
    return std::move(*statement);
  }

  // Every parameter is bound as text: both drivers send it as an untyped literal the column's
  // type parses (numeric stays exact; timestamps carry their zone).
  core::Status bind(odbc::Statement& statement, Params& params, size_t first, size_t count) {
    for (size_t i = 0; i < count; ++i) {
      Params::Cell& cell = params.cells[first + i];
      const SQLLEN length = cell.indicator == SQL_NULL_DATA ? 0 : cell.indicator;
      SQLULEN size = std::max<SQLULEN>(1, static_cast<SQLULEN>(length));
      SQLRETURN rc = SQLBindParameter(statement.get(), static_cast<SQLUSMALLINT>(i + 1), SQL_PARAM_INPUT, SQL_C_CHAR,
                                      SQL_VARCHAR, size, 0, params.text.data() + cell.offset, length, &cell.indicator);
      if (!odbc::succeeded(rc)) return core::fail(odbc::makeError("binding a parameter", SQL_HANDLE_STMT, statement.get()));
    }
    return {};
  }

  core::Result<odbc::Statement*> upsertStatement(const odbc::UpsertShape& shape, size_t rows, size_t full) {
    auto found = statements_.find(rows);
    if (found != statements_.end()) return &found->second;
    // Full chunks reuse one statement, kept for good; the odd last chunk of each batch size is
    // kept too, but only a few of those.
    if (statements_.size() > 8) std::erase_if(statements_, [&](const auto& entry) { return entry.first != full; });
    auto prepared = prepare(upsert_->upsertSql(shape, rows));
    if (!prepared) return core::fail(prepared.error());
    return &statements_.emplace(rows, std::move(*prepared)).first->second;
  }

  // Decides the columns from the first record (the configured map, or its field names).
  core::Status prepareShape(const core::Record& record) {
    std::vector<std::string> names;
    if (settings_.columns.empty()) {
      names = record.schema()->names();
    } else if (!shape_names_.empty()) {
      return {};
    }
    if (!shape_names_.empty() && names == shape_names_) return {};
    odbc::UpsertShape shape;
    std::vector<ColumnSource> sources;
    std::vector<odbc::Identifier> ids;
    if (settings_.columns.empty()) {
      for (const auto& name : names) {
        auto id = odbc::parseIdentifier(name);
        if (!id) return core::fail(core::ErrorKind::Permanent, "record field as column: " + id.error().message);
        ids.push_back(*id);
        sources.push_back({id->render(dialect_), {name}});
      }
    } else {
      for (const auto& [id, path] : settings_.columns) {
        ids.push_back(id);
        sources.push_back({id.render(dialect_), path});
      }
      names = {"<configured>"};
    }
    auto indexOf = [&](const odbc::Identifier& wanted) -> std::optional<size_t> {
      for (size_t i = 0; i < ids.size(); ++i) {
        if (sameName(ids[i], wanted)) return i;
      }
      return std::nullopt;
    };
    key_index_.clear();
    for (const auto& k : settings_.key) {
      auto i = indexOf(k);
      if (!i) return core::fail(core::ErrorKind::Permanent, fmt::format("key column '{}' is not a field of the records", k.last().name));
      key_index_.push_back(*i);
      shape.key.push_back(sources[*i].column);
    }
    revision_index_.reset();
    if (settings_.revision) {
      revision_index_ = indexOf(*settings_.revision);
      if (!revision_index_) {
        return core::fail(core::ErrorKind::Permanent,
                          fmt::format("revision column '{}' is not a field of the records", settings_.revision->last().name));
      }
      shape.revision = sources[*revision_index_].column;
    }
    status_index_.reset();
    if (settings_.withdrawn == "delete") {
      status_index_ = indexOf(odbc::parseIdentifier("status").value());
      if (!status_index_) {
        return core::fail(core::ErrorKind::Permanent,
                          "withdrawn: delete needs a status column (duty_kpi.v1 and employee_record.v1 have one)");
      }
      shape.status = sources[*status_index_].column;
    }
    if (settings_.updated_at) {
      if (indexOf(*settings_.updated_at)) {
        return core::fail(core::ErrorKind::Permanent, "the records have a field named like updated_at_column; "
                                                       "map it with 'columns' or set another updated_at_column");
      }
      shape.updated_at = settings_.updated_at->render(dialect_);
    }
    for (const auto& s : sources) shape.columns.push_back(s.column);
    shape.table = table_sql_;
    shape.table_name = table_name_sql_;
    shape_ = std::make_shared<const odbc::UpsertShape>(std::move(shape));  // the worker prepares anew for it
    sources_ = std::move(sources);
    shape_names_ = std::move(names);
    return {};
  }

  const core::Value* resolve(const core::Record& record, const std::vector<std::string>& path) const {
    const core::Value* v = record.find(path.front());
    for (size_t i = 1; v && i < path.size(); ++i) v = v->find(path[i]);
    return v;
  }

  void appendText(const core::Value* v, Params& out) const {
    const size_t start = out.text.size();
    if (!v || v->isNull()) {
      out.cells.push_back({start, SQL_NULL_DATA});
      return;
    }
    switch (v->type()) {
      case core::ValueType::Bool:
        out.text += upsert_->boolText(v->asBool());
        break;
      case core::ValueType::Timestamp:
        out.text += upsert_->timestampText(v->asTimestamp());
        break;
      case core::ValueType::String:
        out.text += v->asString();
        break;
      case core::ValueType::List:
      case core::ValueType::Map:
        codec::appendJsonValue(out.text, *v);
        break;
      default:
        out.text += v->toText();  // integers, exact decimals, dates
        break;
    }
    out.cells.push_back({start, static_cast<SQLLEN>(out.text.size() - start)});
  }

  // The parameters of every row, one row after another, with one row per key: the highest
  // revision (the first of equal ones), or the last record without a revision column. One
  // statement may not touch a row twice (PostgreSQL refuses).
  core::Status collectRows(std::span<const core::Record> records, Job& job) {
    if (auto shaped = prepareShape(records.front()); !shaped) return core::fail(shaped.error());
    Params& params = job.params;
    auto identities = core::recordIdentities(records);
    job.row_records.reserve(records.size());
    size_t record_index = 0;
    const size_t width = sources_.size();
    params.cells.reserve(records.size() * width);
    params.text.reserve(text_hint_);
    rows_by_key_.clear();
    rows_by_key_.reserve(records.size());
    std::string key;
    for (const auto& record : records) {
      std::string& identity = identities[record_index++];
      // The record's cells go to the end; a key seen before moves them over its row, or drops them.
      const size_t row_cells = params.cells.size();
      const size_t row_text = params.text.size();
      for (const auto& s : sources_) appendText(resolve(record, s.path), params);
      key.clear();
      for (size_t i : key_index_) {
        if (params.cells[row_cells + i].indicator == SQL_NULL_DATA) {
          return core::fail(core::ErrorKind::Permanent,
                            fmt::format("a record has no value for key column {} (source position {})",
                                        sources_[i].column, record.meta.source_position));
        }
        key += params.at(row_cells + i);
        key += '\x1f';
      }
      if (status_index_ && params.cells[row_cells + *status_index_].indicator != SQL_NULL_DATA &&
          params.at(row_cells + *status_index_) == "WITHDRAWN") {
        job.withdrawn = true;
      }
      int64_t revision = 0;
      if (revision_index_) {
        const core::Value* v = resolve(record, sources_[*revision_index_].path);
        auto r = v ? v->toInt() : core::Result<int64_t>(core::fail(core::ErrorKind::Permanent, "missing"));
        if (!r) {
          return core::fail(core::ErrorKind::Permanent,
                            fmt::format("a record has no integer revision in {} (source position {})",
                                        sources_[*revision_index_].column, record.meta.source_position));
        }
        revision = *r;
      }
      auto [it, inserted] = rows_by_key_.try_emplace(key, row_cells / width, revision);
      if (inserted) {
        job.row_records.push_back(std::move(identity));
        continue;
      }
      if (!revision_index_ || revision > it->second.second) {
        // The replaced row's text stays in the buffer, unreferenced.
        std::copy(params.cells.begin() + static_cast<std::ptrdiff_t>(row_cells), params.cells.end(),
                  params.cells.begin() + static_cast<std::ptrdiff_t>(it->second.first * width));
        it->second.second = revision;
        job.row_records[it->second.first] = std::move(identity);
      } else {
        params.text.resize(row_text);
      }
      params.cells.resize(row_cells);
    }
    text_hint_ = std::max(text_hint_, params.text.size());
    return {};
  }

  const Settings settings_;
  const std::string component_;

  // Fixed by the first connection (open(), before the worker exists), read by both threads.
  odbc::Dialect dialect_;
  const odbc::UpsertDialect* upsert_ = nullptr;
  std::string table_sql_;
  std::string table_name_sql_;
  std::string offsets_sql_;

  // The pipeline's thread only: converting records to rows.
  std::shared_ptr<const odbc::UpsertShape> shape_;
  std::vector<ColumnSource> sources_;
  std::vector<std::string> shape_names_;
  std::vector<size_t> key_index_;
  std::optional<size_t> revision_index_;
  std::optional<size_t> status_index_;  // withdrawn: delete
  std::string position_;
  std::unordered_map<std::string, std::pair<size_t, int64_t>> rows_by_key_;  // collectRows(): key -> row, revision
  size_t text_hint_ = 0;   // the largest batch's parameter text so far, to reserve for the next
  uint64_t reported_ = 0;  // the last sequence poll() returned

  // The connection: used by open() and storedPosition() (pipeline's thread) and by the worker,
  // always with connection_mutex_ held.
  std::mutex connection_mutex_;
  std::optional<odbc::Environment> environment_;
  std::optional<odbc::Connection> connection_;
  bool reconnected_ = false;
  std::shared_ptr<const odbc::UpsertShape> prepared_shape_;  // what statements_ were prepared for
  std::map<size_t, odbc::Statement> statements_;             // by rows per statement
  std::optional<odbc::Statement> offsets_statement_;
  std::optional<odbc::Statement> delete_statement_;  // withdrawn: delete
  bool rows_refused_ = false;  // the last writeRows() failed on a statement the database refused

  // Between the pipeline's thread and the worker, guarded by mutex_.
  mutable std::mutex mutex_;
  std::condition_variable_any work_cv_;  // a job was queued (the worker waits)
  std::condition_variable_any done_cv_;  // a job committed or failed (poll() and flush() wait)
  std::deque<std::unique_ptr<Job>> queue_;  // the head is the batch being written
  std::vector<std::unique_ptr<Job>> spare_;  // committed jobs for write() to reuse (fewer large allocations)
  size_t queued_records_ = 0;               // records of the queued batches
  uint64_t committed_ = 0;                  // sequence of the last committed batch
  std::optional<core::Error> error_;        // a Permanent failure (or refused rows): the sink is done
  std::optional<std::string> retrying_reason_;      // the worker's last Retryable failure, until a commit
  std::vector<core::WriteRefusal> write_refusals_;  // the refused rows' records, until taken

  // Written by the worker, read by metrics().
  std::atomic<uint64_t> rows_upserted_{0};      // rows of committed transactions
  core::LatencyHistogram transaction_seconds_;  // first statement to commit, committed ones

  std::jthread worker_;  // last: stopped and joined (close()) before the members above go
};

core::Result<odbc::Identifier> identifier(const std::string& text) {
  return odbc::parseIdentifier(text);
}

core::Result<std::vector<odbc::Identifier>> identifiers(const std::vector<std::string>& texts) {
  std::vector<odbc::Identifier> out;
  for (const auto& text : texts) {
    auto id = odbc::parseIdentifier(text);
    if (!id) return core::fail(id.error());
    out.push_back(std::move(*id));
  }
  return out;
}

const core::SettingsSchema<Settings>& sinkSettings() {
  using Columns = std::vector<std::pair<std::string, std::string>>;
  static const core::SettingsSchema<Settings> settings = [] {
    core::SettingsSchema<Settings> s;
    s.group(odbc::connectionSettings(), &Settings::link);
    s.field(FieldSpec::make("table", FieldType::String)
                .req()
                .doc("Target table (e.g. duty_kpi_fact; created by the admin, see `dutybridge hr-schema`)."),
            &Settings::table, identifier);
    s.field(FieldSpec::make("contract", FieldType::Enum)
                .oneOf([] {
                  std::vector<std::string> names;
                  for (const auto* spec : contract::all()) names.push_back(spec->name);
                  return names;
                }())
                .doc("The output contract the records follow (duty_kpi.v1, position_catalog.v1, "
                     "employee_record.v1): key, revision and columns of the table as `dutybridge hr-schema` "
                     "creates it, so they are not written here."),
            &Settings::contract);
    s.field(FieldSpec::make("key", FieldType::StringList)
                .doc("Key column(s): the table's primary key or a unique constraint on exactly these columns "
                     "(the upsert's conflict target). Required without 'contract'."),
            &Settings::key, identifiers);
    s.field(FieldSpec::make("revision", FieldType::String)
                .doc("Integer revision column: an existing row is only overwritten by a strictly higher "
                     "revision, so replays and out-of-order corrections are harmless. Without it every "
                     "write overwrites."),
            &Settings::revision, identifier);
    s.field(
        FieldSpec::make("columns", FieldType::StringMap)
            .doc("Column -> record field path (dotted for members of maps, e.g. period_type: "
                 "period.type). Default: every top-level field into the column of the same name. Maps "
                 "and lists are written as JSON text."),
        &Settings::columns,
        [](const Columns& columns) -> core::Result<std::vector<std::pair<odbc::Identifier, std::vector<std::string>>>> {
          std::vector<std::pair<odbc::Identifier, std::vector<std::string>>> out;
          for (const auto& [column, path] : columns) {
            auto id = odbc::parseIdentifier(column);
            if (!id) return core::fail(id.error());
            out.emplace_back(std::move(*id), splitPath(path));
          }
          return out;
        });
    s.field(FieldSpec::make("insert_rows", FieldType::Int)
                .def("500")
                .range(1, 10'000)
                .formerly("batch_rows")
                .doc("Rows per multi-row INSERT statement (fewer when the database's parameter limit needs "
                     "it). Each write is still one transaction however many statements it takes."),
            &Settings::insert_rows);
    s.field(FieldSpec::make("pipeline_key", FieldType::String)
                .doc("Row key of this pipeline's position in the offsets table. Default: the pipeline name."),
            &Settings::pipeline_key);
    s.field(FieldSpec::make("offsets_table", FieldType::String)
                .def("dutybridge_offsets")
                .doc("Table of source positions (pipeline_key, position, updated_at), written in the same "
                     "transaction as the rows; created when missing."),
            &Settings::offsets_table, identifier);
    s.field(FieldSpec::make("updated_at_column", FieldType::String)
                .def("updated_at")
                .doc("Column set to the database's current time on insert and update; \"\" for none."),
            &Settings::updated_at, [](const std::string& text) -> core::Result<std::optional<odbc::Identifier>> {
              if (text.empty()) return std::nullopt;
              auto id = odbc::parseIdentifier(text);
              if (!id) return core::fail(id.error());
              return std::optional<odbc::Identifier>(std::move(*id));
            });
    s.field(FieldSpec::make("query_timeout", FieldType::Duration)
                .def("1m")
                .range(0, 3'600'000'000)
                .doc("Cancel a statement running longer than this (the batch is rolled back and retried); 0s "
                     "for none."),
            &Settings::query_timeout);
    s.field(FieldSpec::make("withdrawn", FieldType::Enum)
                .oneOf({"mark", "delete"})
                .def("mark")
                .doc("A WITHDRAWN revision (status column of duty_kpi.v1 / employee_record.v1: every row behind "
                     "the fact was retracted): mark keeps the row with status WITHDRAWN (the views leave it "
                     "out); delete removes it in the same transaction. A later revision brings it back either "
                     "way."),
            &Settings::withdrawn);
    s.check(crossCheck);
    return s;
  }();
  return settings;
}

class OdbcSinkFactory final : public core::SinkFactory {
 public:
  // One table: dead letters go to Kafka; rows and the source position commit together.
  core::SinkCapabilities capabilities() const override {
    return {.transactions = false, .stores_position = true, .carries_dead_letters = false};
  }

  std::string_view name() const override { return "odbc"; }
  std::string_view description() const override {
    return "Revision-aware upserts into a database table over ODBC (PostgreSQL, SQLite), exactly once: rows and the "
           "source position commit in one database transaction.";
  }
  const core::ConfigSchema& configSchema() const override { return sinkSettings().schema(); }

  core::Result<std::unique_ptr<core::Sink>> create(const ConfigObject& config,
                                                   const core::ConnectorContext& context) const override {
    auto s = sinkSettings().read(config);
    if (!s) return core::fail(s.error());
    if (s->contract) {
      const contract::Spec& spec = *contract::find(*s->contract);
      const contract::Table& table = *contractTable(spec, s->table);  // crossCheck made sure
      for (const auto& [column, field] : spec.columns(table)) {
        auto id = odbc::parseIdentifier(column);
        if (!id) return core::fail(id.error());
        if (field.path == spec.key_field) s->key = {*id};
        if (field.path == spec.revision_field) s->revision = *id;
        s->columns.emplace_back(std::move(*id), splitPath(field.path));
      }
    }
    if (!s->pipeline_key) s->pipeline_key = context.pipeline_name;
    if (s->pipeline_key->empty()) {
      return core::fail(core::ErrorKind::InvalidConfig, "the odbc sink needs 'pipeline_key' or a pipeline name");
    }
    return std::make_unique<OdbcSink>(std::move(*s), "sink odbc " + context.pipeline_name);
  }
};

}  // namespace

void registerOdbcSink(core::Registry& registry) {
  registry.add(std::make_unique<OdbcSinkFactory>());
}

}  // namespace dutybridge::connectors
