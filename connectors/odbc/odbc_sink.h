#pragma once
// `odbc` sink: revision-aware upserts into a database table over ODBC (PostgreSQL through
// psqlODBC, SQLite >= 3.24 through sqliteodbc; other databases by adding an UpsertDialect),
// exactly once: each write() is one database transaction holding the batch's rows and the
// batch's source position (a dutybridge_offsets row), so the pipeline resumes from what the
// database holds (storesPosition()). A replayed batch changes nothing: a row is only
// overwritten by a strictly higher revision. docs/connectors/odbc-sink-guide.md explains it.
//
// Threading: as core::Sink: every method on the owning pipeline's thread. The factory is
// immutable and shareable.
// Errors: connection loss and timeouts are Retryable (the transaction is rolled back, the
// connection re-opened on the next call, and the same write() may be retried); a row the
// database rejects (constraint, type) is Permanent with the database's diagnostic text but no
// row values; a missing target table is Permanent at open().

#include "src/runtime/registry.h"

namespace dutybridge::connectors {

void registerOdbcSink(runtime::Registry& registry);

}  // namespace dutybridge::connectors
