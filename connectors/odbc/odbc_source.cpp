#include "connectors/odbc/odbc_source.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <thread>

#include "connectors/odbc/odbc_cursor.h"
#include "connectors/odbc/odbc_dialect.h"
#include "connectors/odbc/odbc_rowset.h"
#include "connectors/odbc/odbc_settings.h"
#include "src/common/log.h"
#include "src/core/settings.h"
#include "src/odbc/odbc_handles.h"

namespace dutybridge::connectors {
namespace {

using core::ConfigObject;
using core::ConfigProblem;
using core::FieldSpec;
using core::FieldType;
using odbc::Cursor;
using odbc::Mode;
using odbc::Param;
using odbc::QueryKind;
using SteadyClock = std::chrono::steady_clock;

constexpr size_t kMaxRowsPerFetch = 1000;
constexpr size_t kCursorTextBytes = 256;

// What the source's config says (sourceSettings() binds every field), and the query shape built
// from it.
struct Settings {
  odbc::ConnectionSettings link;
  std::optional<odbc::Identifier> table;
  std::optional<std::string> query;
  Mode mode = Mode::TimestampIncrementing;
  std::optional<odbc::Identifier> timestamp_column;
  std::optional<odbc::Identifier> incrementing_column;
  int64_t batch_rows = 0;
  std::chrono::microseconds poll_interval{};
  std::chrono::microseconds commit_lag{};
  std::chrono::microseconds query_timeout{};
  std::string timestamp_zone;
  size_t max_text_bytes = 0;
  odbc::QueryShape shape;  // from the fields above (create)
};

std::string trimQuery(std::string_view query) {
  auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; };
  while (!query.empty() && (is_space(query.back()) || query.back() == ';')) query.remove_suffix(1);
  while (!query.empty() && is_space(query.front())) query.remove_prefix(1);
  return std::string(query);
}

std::vector<ConfigProblem> crossCheck(const ConfigObject& config) {
  std::vector<ConfigProblem> problems;
  const bool has_table = config.has("table");
  const bool has_query = config.has("query");
  if (has_table && has_query) {
    problems.push_back({"query", "set either 'table' or 'query', not both"});
  } else if (!has_table && !has_query) {
    problems.push_back({"", "set 'table' (a table or view to read) or 'query' (a SELECT to read from)"});
  }
  if (has_table) {
    if (auto id = odbc::parseIdentifier(config.getString("table")); !id)
      problems.push_back({"table", id.error().message});
  }
  if (has_query && trimQuery(config.getString("query")).empty()) problems.push_back({"query", "'query' is empty"});
  std::optional<Mode> mode = config.has("mode") ? odbc::parseMode(config.getString("mode")) : std::nullopt;
  auto column = [&](const char* key, bool needed) {
    if (!mode) return;
    if (!config.has(key)) {
      if (needed) {
        problems.push_back({"mode", fmt::format("mode '{}' needs '{}'", odbc::toString(*mode), key)});
      }
      return;
    }
    if (!needed) {
      problems.push_back({key, fmt::format("'{}' is not used by mode '{}'", key, odbc::toString(*mode))});
      return;
    }
    auto id = odbc::parseIdentifier(config.getString(key));
    if (!id) {
      problems.push_back({key, id.error().message});
    } else if (has_query && id->parts.size() > 1) {
      problems.push_back({key, fmt::format("with 'query', name '{}' as the query's result column, without a table "
                                           "prefix (the query is read as a subquery)",
                                           key)});
    }
  };
  column("timestamp_column", mode && odbc::usesTimestamp(*mode));
  column("incrementing_column", mode && odbc::usesIncrementing(*mode));
  if (config.has("timestamp_zone") && !core::isKnownTimeZone(config.getString("timestamp_zone"))) {
    problems.push_back({"timestamp_zone", fmt::format("unknown time zone '{}' (use an IANA name such as UTC or "
                                                      "Asia/Shanghai)",
                                                      config.getString("timestamp_zone"))});
  }
  return problems;
}

int wholeSeconds(std::chrono::microseconds d) {
  return static_cast<int>(std::max<int64_t>(std::chrono::duration_cast<std::chrono::seconds>(d).count(), 1));
}

class OdbcSource final : public core::Source {
 public:
  OdbcSource(Settings settings, const core::Clock& clock, std::string component)
      : settings_(std::move(settings)),
        clock_(clock),
        component_(std::move(component)),
        zone_(settings_.timestamp_zone) {
    rowset_options_.max_rows = std::min<size_t>(static_cast<size_t>(settings_.shape.limit), kMaxRowsPerFetch);
    rowset_options_.max_text_bytes = settings_.max_text_bytes;
  }
  OdbcSource(const OdbcSource&) = delete;
  OdbcSource& operator=(const OdbcSource&) = delete;
  ~OdbcSource() override { disconnect(); }

  core::Status checkPosition(std::string_view position) const override {
    auto decoded = odbc::decodeCursor(position, settings_.shape.mode);
    return decoded ? core::Status{} : core::fail(decoded.error());
  }

  core::Status open(const std::optional<std::string>& position) override {
    cursor_ = Cursor{};
    if (position && !position->empty()) {
      auto decoded = odbc::decodeCursor(*position, settings_.shape.mode);
      if (!decoded) return core::fail(decoded.error());
      cursor_ = std::move(*decoded);
    }
    next_query_at_ = SteadyClock::time_point{};
    disconnect();
    if (auto connected = connect(); !connected) return connected;
    // Prepare now so a wrong table, column or query is reported at start-up, not at the first poll.
    if (auto prepared = statementFor(currentKind()); !prepared) return core::fail(failed(prepared.error()));
    return {};
  }

  core::Result<core::SourceBatch> poll(std::chrono::milliseconds max_wait) override {
    core::SourceBatch batch;
    auto now = SteadyClock::now();
    if (now < next_query_at_) {
      std::this_thread::sleep_for(std::min<SteadyClock::duration>(next_query_at_ - now, max_wait));
      if (SteadyClock::now() < next_query_at_) return batch;
    }
    if (!connection_) {
      if (auto connected = connect(); !connected) return core::fail(connected.error());
      reconnected_ = true;
    }
    std::string resumed_from;
    if (reconnected_) resumed_from = hasCursor() ? odbc::encodeCursor(cursor_) : std::string("the start");
    auto read = readBatch(batch);
    if (!read) return core::fail(failed(read.error()));
    if (reconnected_) {
      reconnected_ = false;
      log::notice(component_, "reading again after reconnecting, from {}", resumed_from);
    }
    next_query_at_ =
        *read ? SteadyClock::time_point{}
              : SteadyClock::now() + std::chrono::duration_cast<SteadyClock::duration>(settings_.poll_interval);
    return batch;
  }

  core::Status commit(std::string_view) override { return {}; }

  // The result columns as poll() converts them (odbc_rowset.h has the SQL type table). open()
  // prepared the query and described its result; a driver that only describes a result after
  // executing it leaves nothing to say yet.
  core::Result<std::optional<core::SourceDescription>> describe() override {
    if (!described_) return std::optional<core::SourceDescription>();
    core::SourceDescription fields;
    fields.reserve(rowset_.size());
    for (size_t i = 0; i < rowset_.size(); ++i) {
      const auto& column = rowset_.description(i);
      fields.push_back({column.name, odbc::valueType(rowset_.kind(i)), column.nullable});
    }
    return std::optional<core::SourceDescription>(std::move(fields));
  }

  void close() override { disconnect(); }

 private:
  struct Prepared {
    std::optional<odbc::Statement> statement;
    odbc::BuiltQuery query;
  };

  struct RunResult {
    size_t fetched = 0;  // rows the query returned (before the lag cut)
    bool cut_by_lag = false;
  };

  bool hasCursor() const {
    return usesTimestamp(settings_.shape.mode) ? cursor_.ts.has_value() : cursor_.id.has_value();
  }
  QueryKind currentKind() const { return hasCursor() ? QueryKind::Next : QueryKind::First; }

  core::Status connect() {
    if (!environment_) {
      auto env = odbc::Environment::create();
      if (!env) return core::fail(env.error());
      environment_ = std::move(*env);
    }
    auto connection = odbc::Connection::connect(*environment_, settings_.link.connection,
                                                wholeSeconds(settings_.link.connect_timeout));
    if (!connection) return core::fail(connection.error());
    connection_ = std::move(*connection);
    SQLCHAR quote[8] = {};
    SQLSMALLINT quote_length = 0;
    SQLGetInfo(connection_->get(), SQL_IDENTIFIER_QUOTE_CHAR, quote, sizeof quote, &quote_length);
    dialect_ = odbc::detectDialect(connection_->dbmsName(), reinterpret_cast<const char*>(quote));
    if (dialect_.set_time_zone) {
      // The zone passed isKnownTimeZone() at create(); IANA names hold no quotes.
      auto statement = connection_->statement();
      if (!statement) return dropWith(statement.error());
      if (auto set = statement->execute(fmt::format("SET TIME ZONE '{}'", zone_.zone())); !set)
        return dropWith(set.error());
    }
    log::notice(component_, "connected to {} ({} dialect)", dialect_.dbms, odbc::toString(dialect_.kind));
    return {};
  }

  core::Status dropWith(core::Error error) {
    disconnect();
    return core::fail(std::move(error));
  }

  void disconnect() {
    for (auto& p : prepared_) p = Prepared{};
    described_ = false;
    connection_.reset();
  }

  // Connection loss is Retryable whatever SQLSTATE the driver chose; the connection is dropped
  // and the next poll reconnects and repeats the query from the same cursor.
  core::Error failed(core::Error error) {
    bool dead = false;
    if (connection_) {
      SQLUINTEGER state = SQL_CD_FALSE;
      if (odbc::succeeded(SQLGetConnectAttr(connection_->get(), SQL_ATTR_CONNECTION_DEAD, &state, 0, nullptr))) {
        dead = state == SQL_CD_TRUE;
      }
    }
    if (dead) error.kind = core::ErrorKind::Retryable;
    if (error.kind == core::ErrorKind::Retryable && connection_) {
      log::warning(component_,
                   "dropping the database connection after a transient error; reconnecting on the next poll");
      disconnect();
    }
    return error;
  }

  core::Result<Prepared*> statementFor(QueryKind kind) {
    Prepared& p = prepared_[static_cast<size_t>(kind)];
    if (p.statement) return &p;
    auto statement = connection_->statement();
    if (!statement) return core::fail(statement.error());
    SQLHSTMT h = statement->get();
    if (settings_.query_timeout.count() > 0) {
      // Best effort: drivers without query timeouts answer 01S02/HYC00, which is harmless.
      SQLSetStmtAttr(h, SQL_ATTR_QUERY_TIMEOUT,
                     reinterpret_cast<SQLPOINTER>(static_cast<SQLULEN>(wholeSeconds(settings_.query_timeout))), 0);
    }
    p.query = odbc::buildQuery(settings_.shape, dialect_, kind);
    log::debug(component_, "prepared: {}", p.query.sql);
    SQLRETURN rc =
        SQLPrepare(h, reinterpret_cast<SQLCHAR*>(p.query.sql.data()), static_cast<SQLINTEGER>(p.query.sql.size()));
    if (!odbc::succeeded(rc)) return core::fail(odbc::makeError("preparing the query", SQL_HANDLE_STMT, h));
    p.statement = std::move(*statement);
    if (!described_) {
      if (auto d = describeColumns(h); !d) return core::fail(d.error());
    }
    return &p;
  }

  // Describes the result (after SQLPrepare, or after SQLExecute for drivers that only know it
  // then) and finds the cursor columns in it.
  core::Status describeColumns(SQLHSTMT h) {
    if (auto d = rowset_.describe(h, dialect_, rowset_options_); !d) return d;
    if (!rowset_.described()) return {};  // not known before execution
    ts_index_ = id_index_ = SIZE_MAX;
    text_columns_.clear();
    auto locate = [&](const odbc::Identifier& id, const char* key) -> core::Result<size_t> {
      for (bool exact : {true, false}) {
        size_t found = SIZE_MAX;
        for (size_t i = 0; i < rowset_.size(); ++i) {
          if (!id.matchesColumn(rowset_.description(i).name, exact)) continue;
          if (found != SIZE_MAX) {
            return core::fail(core::ErrorKind::Permanent,
                              fmt::format("{} '{}' matches more than one result column", key, id.last().name));
          }
          found = i;
        }
        if (found != SIZE_MAX) return found;
      }
      std::string names;
      for (size_t i = 0; i < rowset_.size(); ++i) names += (i ? ", " : "") + rowset_.description(i).name;
      return core::fail(core::ErrorKind::Permanent,
                        fmt::format("{} '{}' is not among the result columns ({})", key, id.last().name, names));
    };
    if (settings_.shape.timestamp_column) {
      auto index = locate(*settings_.shape.timestamp_column, "timestamp_column");
      if (!index) return core::fail(index.error());
      ts_index_ = *index;
      auto kind = rowset_.kind(ts_index_);
      if (dialect_.text_timestamps &&
          (kind == odbc::ColumnKind::Text || kind == odbc::ColumnKind::Date || kind == odbc::ColumnKind::Timestamp)) {
        rowset_.setKind(ts_index_, odbc::ColumnKind::TimestampText);
      } else if (kind != odbc::ColumnKind::Timestamp && kind != odbc::ColumnKind::TimestampText) {
        return core::fail(core::ErrorKind::Permanent, fmt::format("timestamp_column {} is not a TIMESTAMP column",
                                                                  rowset_.describeColumn(ts_index_)));
      }
      ts_digits_ = std::clamp<SQLSMALLINT>(rowset_.description(ts_index_).digits, 0, 9);
      if (rowset_.description(ts_index_).digits == 0 && rowset_.description(ts_index_).size == 0) ts_digits_ = 6;
    }
    if (settings_.shape.incrementing_column) {
      auto index = locate(*settings_.shape.incrementing_column, "incrementing_column");
      if (!index) return core::fail(index.error());
      id_index_ = *index;
      auto kind = rowset_.kind(id_index_);
      // SQLite reports expressions without a declared type as text.
      bool text_ok = dialect_.kind == odbc::DialectKind::SQLite && kind == odbc::ColumnKind::Text;
      if (kind != odbc::ColumnKind::Int && kind != odbc::ColumnKind::IntText && kind != odbc::ColumnKind::Decimal &&
          !text_ok) {
        return core::fail(core::ErrorKind::Permanent, fmt::format("incrementing_column {} is not an integer column",
                                                                  rowset_.describeColumn(id_index_)));
      }
    }
    for (size_t i = 0; i < rowset_.size(); ++i) {
      auto kind = rowset_.kind(i);
      if (kind == odbc::ColumnKind::Text || kind == odbc::ColumnKind::TimestampText) text_columns_.push_back(i);
    }
    described_ = true;
    return {};
  }

  void setTimestampParam(SQL_TIMESTAMP_STRUCT& out, int64_t local_micros) const {
    odbc::CivilTime t = odbc::civilFromMicros(local_micros);
    out.year = static_cast<SQLSMALLINT>(t.year);
    out.month = static_cast<SQLUSMALLINT>(t.month);
    out.day = static_cast<SQLUSMALLINT>(t.day);
    out.hour = static_cast<SQLUSMALLINT>(t.hour);
    out.minute = static_cast<SQLUSMALLINT>(t.minute);
    out.second = static_cast<SQLUSMALLINT>(t.second);
    // Never more fractional digits than the column has (SQL Server rejects them with 22008).
    int64_t nanos = t.micros * 1000;
    int64_t unit = 1;
    for (int i = ts_digits_; i < 9; ++i) unit *= 10;
    out.fraction = static_cast<SQLUINTEGER>(nanos - nanos % unit);
  }

  core::Status bindParams(Prepared& p, const Cursor& at, core::Timestamp upper) {
    SQLHSTMT h = p.statement->get();
    if (usesTimestamp(settings_.shape.mode)) {
      if (dialect_.text_timestamps) {
        std::string text = at.ts_text;
        if (text.empty() && at.ts) {
          auto local = zone_.toLocal(*at.ts);
          if (!local) return core::fail(local.error());
          text = odbc::formatLocalText(*local);
        }
        if (text.size() >= kCursorTextBytes) {
          return core::fail(core::ErrorKind::Permanent, "the timestamp column's text is longer than 255 bytes");
        }
        std::memcpy(param_ts_text_, text.data(), text.size());
        param_ts_text_[text.size()] = '\0';
        param_ts_text_length_ = static_cast<SQLLEN>(text.size());
      } else if (at.ts) {
        auto local = zone_.toLocal(*at.ts);
        if (!local) return core::fail(local.error());
        setTimestampParam(param_ts_, *local);
      }
      auto upper_local = zone_.toLocal(upper);
      if (!upper_local) return core::fail(upper_local.error());
      setTimestampParam(param_upper_, *upper_local);
    }
    param_id_ = at.id.value_or(INT64_MIN);
    const SQLULEN ts_size = ts_digits_ > 0 ? static_cast<SQLULEN>(20 + ts_digits_) : 19;
    for (size_t i = 0; i < p.query.params.size(); ++i) {
      auto number = static_cast<SQLUSMALLINT>(i + 1);
      SQLRETURN rc = SQL_SUCCESS;
      switch (p.query.params[i]) {
        case Param::CursorTimestamp:
          if (dialect_.text_timestamps) {
            rc = SQLBindParameter(h, number, SQL_PARAM_INPUT, SQL_C_CHAR, SQL_VARCHAR, kCursorTextBytes - 1, 0,
                                  param_ts_text_, kCursorTextBytes, &param_ts_text_length_);
          } else {
            rc = SQLBindParameter(h, number, SQL_PARAM_INPUT, SQL_C_TYPE_TIMESTAMP, SQL_TYPE_TIMESTAMP, ts_size,
                                  ts_digits_, &param_ts_, sizeof param_ts_, nullptr);
          }
          break;
        case Param::UpperTimestamp:
          rc = SQLBindParameter(h, number, SQL_PARAM_INPUT, SQL_C_TYPE_TIMESTAMP, SQL_TYPE_TIMESTAMP, ts_size,
                                ts_digits_, &param_upper_, sizeof param_upper_, nullptr);
          break;
        case Param::CursorId:
          rc = SQLBindParameter(h, number, SQL_PARAM_INPUT, SQL_C_SBIGINT, SQL_BIGINT, 0, 0, &param_id_, 0, nullptr);
          break;
      }
      if (!odbc::succeeded(rc)) return core::fail(odbc::makeError("binding a cursor parameter", SQL_HANDLE_STMT, h));
    }
    return {};
  }

  bool sameGroup(const Cursor& a, const Cursor& b) const {
    return dialect_.text_timestamps ? a.ts_text == b.ts_text : a.ts == b.ts;
  }

  // Executes a prepared query with the cursor `at` and appends its rows (up to the lag bound)
  // to `batch`, with their cursors in `cursors`.
  core::Result<RunResult> run(Prepared& p, const Cursor& at, core::Timestamp upper, core::SourceBatch& batch,
                              std::vector<Cursor>& cursors) {
    const size_t base = batch.records.size();
    const size_t base_cursors = cursors.size();
    const size_t base_failures = batch.failures.size();
    batch.records.reserve(base + std::min<size_t>(static_cast<size_t>(settings_.shape.limit), 100'000));
    SQLHSTMT h = p.statement->get();
    while (true) {
      if (auto bound = bindParams(p, at, upper); !bound) return core::fail(bound.error());
      SQLRETURN rc = SQLExecute(h);
      if (!odbc::succeeded(rc) && rc != SQL_NO_DATA)
        return core::fail(odbc::makeError("executing the query", SQL_HANDLE_STMT, h));
      if (!described_) {
        if (auto d = describeColumns(h); !d) return core::fail(d.error());
        if (!described_) return core::fail(core::ErrorKind::Permanent, "the query returns no result columns");
      }
      if (auto bound = rowset_.bind(h); !bound) return core::fail(bound.error());
      bool widened = false;
      auto fetched = fetchRows(h, upper, batch, cursors, widened);
      SQLFreeStmt(h, SQL_CLOSE);
      if (!fetched) return fetched;
      if (!widened) return fetched;
      // A text column was under-reported by the driver: it is now max_text_bytes wide; read
      // the same rows again.
      batch.records.resize(base);
      cursors.resize(base_cursors);
      batch.failures.resize(base_failures);
      failed_rows_.resize(base_failures);
    }
  }

  core::Result<RunResult> fetchRows(SQLHSTMT h, core::Timestamp upper, core::SourceBatch& batch,
                                    std::vector<Cursor>& cursors, bool& widened) {
    RunResult result;
    const auto& schema = rowset_.schema();
    const size_t columns = rowset_.size();
    while (true) {
      SQLRETURN rc = SQLFetch(h);
      if (rc == SQL_NO_DATA) break;
      if (!odbc::succeeded(rc)) return core::fail(odbc::makeError("fetching rows", SQL_HANDLE_STMT, h));
      const size_t rows = rowset_.fetched();
      for (size_t r = 0; r < rows; ++r) {
        SQLUSMALLINT status = rowset_.rowStatus(r);
        if (status == SQL_ROW_NOROW) continue;
        if (status == SQL_ROW_ERROR) {
          return core::fail(
              odbc::makeError(fmt::format("fetching the row after {}", describePosition(cursors)), SQL_HANDLE_STMT, h));
        }
        ++result.fetched;
        for (size_t c : text_columns_) {
          if (rowset_.truncated(c, r) && rowset_.widen(c)) {
            widened = true;
            return result;
          }
        }
        Cursor cursor;
        if (ts_index_ != SIZE_MAX) {
          if (rowset_.isNull(ts_index_, r)) return nullCursorColumn(ts_index_, cursors);
          if (rowset_.truncated(ts_index_, r))
            return core::fail(core::ErrorKind::Permanent, "the timestamp column's text is too long");
          auto ts = rowset_.timestamp(ts_index_, r, zone_);
          if (!ts) return core::fail(withPosition(ts.error(), cursors));
          // The lag guard, exact in UTC; in SQL too, except for text timestamps (SQLite).
          if (*ts >= upper) {
            result.cut_by_lag = true;
            return result;
          }
          cursor.ts = *ts;
          if (dialect_.text_timestamps) cursor.ts_text = std::string(rowset_.text(ts_index_, r));
        }
        if (id_index_ != SIZE_MAX) {
          if (rowset_.isNull(id_index_, r)) return nullCursorColumn(id_index_, cursors);
          auto id = rowset_.integer(id_index_, r);
          if (!id) return core::fail(withPosition(id.error(), cursors));
          cursor.id = *id;
        }
        std::vector<core::Value> values;
        values.reserve(columns);
        std::optional<core::Error> undecodable;
        for (size_t c = 0; c < columns && !undecodable; ++c) {
          if (c == ts_index_) {
            values.emplace_back(*cursor.ts);
            continue;
          }
          if (auto appended = rowset_.appendValue(c, r, zone_, values); !appended) undecodable = appended.error();
        }
        if (undecodable) {
          // A value this row cannot be read as (the cursor columns could): the row becomes a
          // dead letter at its position and the rows after it go on.
          core::SourceFailure& failure = batch.failures.emplace_back();
          odbc::appendCursorJson(failure.position, cursor);
          failure.reason = std::move(undecodable->message);
          failure.event_time = cursor.ts;
          failed_rows_.push_back(cursors.size());
          cursors.push_back(std::move(cursor));
          continue;
        }
        core::Record& record = batch.records.emplace_back(schema, std::move(values));
        record.meta.source_position.reserve(64);
        odbc::appendCursorJson(record.meta.source_position, cursor);
        if (cursor.ts) record.meta.event_time = cursor.ts;
        cursors.push_back(std::move(cursor));
      }
    }
    return result;
  }

  std::string describePosition(const std::vector<Cursor>& cursors) const {
    const Cursor& c = cursors.empty() ? query_cursor_ : cursors.back();
    bool any = c.ts || c.id;
    return any ? "position " + odbc::encodeCursor(c) : std::string("the start");
  }

  core::Error withPosition(core::Error error, const std::vector<Cursor>& cursors) const {
    error.message += fmt::format(" (in the row after {})", describePosition(cursors));
    return error;
  }

  std::unexpected<core::Error> nullCursorColumn(size_t column, const std::vector<Cursor>& cursors) const {
    return core::fail(withPosition(
        core::Error::permanent(fmt::format("cursor column {} is NULL", rowset_.describeColumn(column))), cursors));
  }

  // One poll's query. Returns whether the query filled a whole page (then the next poll
  // queries again at once; otherwise it waits poll_interval).
  core::Result<bool> readBatch(core::SourceBatch& batch) {
    const core::Timestamp upper{clock_.now().micros - settings_.commit_lag.count()};
    auto prepared = statementFor(currentKind());
    if (!prepared) return core::fail(prepared.error());
    cursors_.clear();
    failed_rows_.clear();
    query_cursor_ = cursor_;
    auto run_result = run(**prepared, cursor_, upper, batch, cursors_);
    if (!run_result) return core::fail(run_result.error());
    bool full = !run_result->cut_by_lag && run_result->fetched >= static_cast<size_t>(settings_.shape.limit);

    if (settings_.shape.mode == Mode::Timestamp && full && !cursors_.empty()) {
      // The page may end inside a group of rows sharing one timestamp, and `ts > cursor` would
      // skip the rest of that group: drop the last group and read it next time.
      size_t group_start = cursors_.size() - 1;
      while (group_start > 0 && sameGroup(cursors_[group_start - 1], cursors_.back())) --group_start;
      if (group_start > 0) {
        // Rows [group_start, end) are read again next time: their records and failures go.
        size_t failures_kept = failed_rows_.size();
        while (failures_kept > 0 && failed_rows_[failures_kept - 1] >= group_start) --failures_kept;
        batch.failures.resize(failures_kept);
        failed_rows_.resize(failures_kept);
        batch.records.resize(group_start - failures_kept);
        cursors_.resize(group_start);
      } else {
        // One timestamp has more rows than a page: read all of them in one batch.
        Cursor group = cursors_.back();
        batch.records.clear();
        batch.failures.clear();
        failed_rows_.clear();
        cursors_.clear();
        auto group_statement = statementFor(QueryKind::TimestampGroup);
        if (!group_statement) return core::fail(group_statement.error());
        auto group_result = run(**group_statement, group, upper, batch, cursors_);
        if (!group_result) return core::fail(group_result.error());
        log::info(component_, "read {} rows sharing one timestamp in one batch (more than batch_rows)",
                  batch.records.size());
        if (cursors_.empty()) cursors_.push_back(group);  // deleted meanwhile: move past it anyway
      }
    }
    if (!cursors_.empty()) {
      cursor_ = cursors_.back();
      batch.position = odbc::encodeCursor(cursor_);
    }
    return full;
  }

  Settings settings_;
  const core::Clock& clock_;
  std::string component_;
  odbc::ZoneConverter zone_;
  odbc::Rowset::Options rowset_options_;

  std::optional<odbc::Environment> environment_;
  std::optional<odbc::Connection> connection_;
  odbc::Dialect dialect_;
  Prepared prepared_[3];  // by QueryKind
  odbc::Rowset rowset_;
  bool described_ = false;
  size_t ts_index_ = SIZE_MAX;
  size_t id_index_ = SIZE_MAX;
  SQLSMALLINT ts_digits_ = 6;
  std::vector<size_t> text_columns_;
  bool reconnected_ = false;

  Cursor cursor_;
  Cursor query_cursor_;
  std::vector<Cursor> cursors_;
  std::vector<size_t> failed_rows_;  // index into cursors_ of each of the batch's failures
  SteadyClock::time_point next_query_at_{};

  // Parameter buffers: their addresses are bound to the prepared statements.
  SQL_TIMESTAMP_STRUCT param_ts_{};
  SQL_TIMESTAMP_STRUCT param_upper_{};
  char param_ts_text_[kCursorTextBytes] = {};
  SQLLEN param_ts_text_length_ = 0;
  int64_t param_id_ = 0;
};

core::Result<odbc::Identifier> identifier(const std::string& text) {
  return odbc::parseIdentifier(text);
}

const core::SettingsSchema<Settings>& sourceSettings() {
  static const core::SettingsSchema<Settings> settings = [] {
    core::SettingsSchema<Settings> s;
    s.group(odbc::connectionSettings(), &Settings::link);
    s.field(FieldSpec::make("table", FieldType::String)
                .doc("Table or view to read (letters, digits, _ and . ; quote other names: \"Order Lines\"). "
                     "Exactly one of table and query."),
            &Settings::table, identifier);
    s.field(FieldSpec::make("query", FieldType::String)
                .doc("A SELECT to read instead of a table; it may have its own WHERE clause and is read as "
                     "SELECT * FROM (query) q WHERE <cursor> ORDER BY <cursor> LIMIT batch_rows. No ORDER BY "
                     "or LIMIT of its own."),
            &Settings::query, [](const std::string& text) { return trimQuery(text); });
    s.field(FieldSpec::make("mode", FieldType::Enum)
                .req()
                .oneOf({"incrementing", "timestamp", "timestamp+incrementing"})
                .doc("How new rows are found: incrementing (id > last id; inserts only), timestamp (updated "
                     "after the last timestamp; whole timestamp groups per batch) or timestamp+incrementing "
                     "(ordered by timestamp then id: inserts and updates, nothing missed on ties)."),
            &Settings::mode, [](const std::string& text) -> core::Result<Mode> {
              if (auto mode = odbc::parseMode(text)) return *mode;
              return core::fail(core::ErrorKind::InvalidConfig, "unknown 'mode'");
            });
    s.field(FieldSpec::make("timestamp_column", FieldType::String)
                .doc("TIMESTAMP column that moves on every insert and update (e.g. updated_at); the "
                     "timestamp modes need it. Rows where it is NULL are not read."),
            &Settings::timestamp_column, identifier);
    s.field(FieldSpec::make("incrementing_column", FieldType::String)
                .doc("Strictly increasing integer column (e.g. the primary key); the incrementing modes "
                     "need it. Rows where it is NULL are not read."),
            &Settings::incrementing_column, identifier);
    s.field(FieldSpec::make("batch_rows", FieldType::Int)
                .def("1000")
                .range(1, 1'000'000)
                .doc("Rows per query (page size, keyset paging). Pages of about 1000 rows stay in the CPU "
                     "caches; the benchmark measured larger pages as slower (docs/benchmarks.md)."),
            &Settings::batch_rows);
    s.field(FieldSpec::make("poll_interval", FieldType::Duration)
                .def("1s")
                .range(0, 3'600'000'000)
                .doc("After a query that returned less than a full page, wait this long before the next one."),
            &Settings::poll_interval);
    s.field(FieldSpec::make("commit_lag", FieldType::Duration)
                .def("5s")
                .range(0, 86'400'000'000)
                .doc("Timestamp modes read only rows older than now minus this, so rows of transactions that "
                     "commit late (with an earlier timestamp) are not skipped. Longer than your longest "
                     "writing transaction."),
            &Settings::commit_lag);
    s.field(FieldSpec::make("timestamp_zone", FieldType::String)
                .def("UTC")
                .doc("IANA zone of the wall-clock values in TIMESTAMP columns without a zone (e.g. "
                     "Asia/Shanghai); PostgreSQL sessions are set to it so timestamptz values convert "
                     "exactly."),
            &Settings::timestamp_zone);
    s.field(FieldSpec::make("max_text_bytes", FieldType::Size)
                .def("8192")
                .range(16, 16 << 20)
                .doc("Largest text value, in UTF-8 bytes, read from one cell; a longer value is an error, "
                     "never cut short."),
            &Settings::max_text_bytes);
    s.field(FieldSpec::make("query_timeout", FieldType::Duration)
                .def("5m")
                .range(0, 86'400'000'000)
                .doc("Cancel a query running longer than this (then retried); 0s for none. Drivers without "
                     "query timeouts ignore it."),
            &Settings::query_timeout);
    s.check(crossCheck);
    return s;
  }();
  return settings;
}

class OdbcFactory final : public core::SourceFactory {
 public:
  std::string_view name() const override { return "odbc"; }
  std::string_view description() const override {
    return "Incremental reads of a table or query over ODBC (PostgreSQL, SQLite; SQL Server and MySQL dialects): "
           "keyset paging by id and/or timestamp, commit-lag guard, reconnects.";
  }
  const core::ConfigSchema& configSchema() const override { return sourceSettings().schema(); }

  core::Result<std::unique_ptr<core::Source>> create(const ConfigObject& config,
                                                     const core::ConnectorContext& context) const override {
    auto s = sourceSettings().read(config);
    if (!s) return core::fail(s.error());
    s->shape = odbc::QueryShape{.mode = s->mode,
                                .table = s->table,
                                .query = s->query.value_or(""),
                                .timestamp_column = s->timestamp_column,
                                .incrementing_column = s->incrementing_column,
                                .limit = s->batch_rows};
    const core::Clock* clock = context.clock ? context.clock : &system_clock_;
    return std::make_unique<OdbcSource>(std::move(*s), *clock, fmt::format("odbc {}", context.pipeline_name));
  }

 private:
  core::SystemClock system_clock_;
};

}  // namespace

void registerOdbcSource(core::Registry& registry) {
  registry.add(std::make_unique<OdbcFactory>());
}

}  // namespace dutybridge::connectors
