#pragma once
// `odbc` source: incremental reads of a table or custom query over ODBC (PostgreSQL through
// psqlODBC, SQLite through sqliteodbc; SQL Server and MySQL by dialect), in one of three modes:
// `incrementing` (id > cursor), `timestamp` (ts > cursor) or `timestamp+incrementing`
// ((ts, id) > cursor), with keyset paging, a commit-lag guard and reconnects on connection loss.
// docs/connectors/odbc-source-guide.md explains the modes, the lag guard and the type mapping.
//
// Threading: as core::Source: every method on the owning pipeline's thread. The factory is
// immutable and shareable.
// Errors: connection loss and other transient database errors are Retryable (the connection is
// dropped and re-opened on the next poll, from the same cursor); an unmappable column type, a
// value too long for max_text_bytes or SQL the database rejects are Permanent; a stored cursor
// that cannot be parsed is Fatal.

#include "src/core/registry.h"

namespace dutybridge::connectors {

void registerOdbcSource(core::Registry& registry);

}  // namespace dutybridge::connectors
