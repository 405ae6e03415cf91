#pragma once
// The `odbc:` source of a mapping's reference table (docs/reference-tables.md): runs one SELECT
// over ODBC and hands its rows, every column read as text, to the mapping's table builder, which
// picks the key/value/valid_from/valid_to columns by name.
//
// Settings (a core::TableSourceFactory named "odbc", docs/connectors/odbc.md): the shared ODBC
// connection group (`connection`, secret; `connect_timeout`, the login timeout), `query` (the
// SELECT) and `timeout` (query timeout, default 30s, 1s..10m). The mapping loader validates them
// with the one validator before create().
//
// Each load() connects, runs the query, reads every row and disconnects: tables refresh seldom,
// and a fresh connection cannot be a stale one.
//
// Threading: as core::TableLoader (one thread at a time). Errors: Retryable when the database
// cannot be reached or times out (with the ODBC diagnostic text, never the connection string or
// row contents); Permanent for SQL the database rejects, a missing driver, or more than
// core::kMaxTableRows rows. Missing key/value columns are reported by the table builder, located
// at the table.

#include "src/core/registry.h"

namespace dutybridge::connectors {

// Adds the "odbc" table source to `registry`.
void registerOdbcTableSource(core::Registry& registry);

}  // namespace dutybridge::connectors
