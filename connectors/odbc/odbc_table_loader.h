#pragma once
// The `odbc:` source of a mapping's reference table (docs/mapping-language.md, "Reference
// tables"): runs one SELECT over ODBC and hands its rows, every column read as text, to the
// mapping's table builder, which picks the key/value/valid_from/valid_to columns by name.
//
// Settings: `connection` (ODBC connection string; secrets such as ${cred:NAME} are resolved by
// the mapping loader before the loader sees them), `query` (the SELECT), optional `timeout`
// (login and query timeout, default 30s, 1s..10m).
//
// Each load() connects, runs the query, reads every row and disconnects: tables refresh seldom,
// and a fresh connection cannot be a stale one.
//
// Threading: as expr::TableLoader (one thread at a time). Errors: Retryable when the database
// cannot be reached or times out (with the ODBC diagnostic text, never the connection string or
// row contents); Permanent for SQL the database rejects, a missing driver, or more than
// expr::kMaxTableRows rows; InvalidConfig from the factory for unknown or missing settings.
// Missing key/value columns are reported by the table builder, located at the table.

#include <memory>

#include "src/core/error.h"
#include "src/expr/reference_table.h"

namespace dutybridge::connectors {

core::Result<std::unique_ptr<expr::TableLoader>> makeOdbcTableLoader(const expr::TableSourceConfig& config);

// Adds the "odbc" kind to `registry`.
void registerOdbcTableLoader(expr::TableLoaderRegistry& registry);

}  // namespace dutybridge::connectors
