#pragma once
// `odbc` sink: revision-aware upserts into a database table over ODBC (PostgreSQL through
// psqlODBC, SQLite >= 3.24 through sqliteodbc; other databases by adding an UpsertDialect),
// exactly once: each write()'s rows commit in one database transaction with the batch's source
// position (a dutybridge_offsets row), so the pipeline resumes from what the database holds
// (storesPosition()). Under load several queued batches share one transaction (group commit);
// the position committed is always that of the newest batch whose rows are in it. A replayed batch changes nothing: a
// row is only overwritten by a strictly higher revision. docs/connectors/odbc-sink-guide.md explains it.
//
// Threading: every method is called on the owning pipeline's thread (core::Sink), and results
// come back only through poll() / flush() / write(). The sink owns one worker thread, started by
// the first write() and stopped by close(), which runs the database transactions, so the
// pipeline reads and decodes the next batch while the database commits this one:
//   - write() converts the records to row parameters on the caller's thread (a record without
//     a key or an integer revision is Permanent right there), queues the batch as one job
//     carrying its sequence and the position given by nextBatchPosition(), and returns. The
//     queue holds up to 8 batches, those in the running transaction included, but a third or
//     later one only while the queued batches hold at most 20,000 records with it; when it is
//     full write() takes nothing (returns 0, never part of a batch: a batch is taken whole)
//     and the pipeline polls.
//   - The worker writes the jobs in order. Each transaction takes every batch queued when it
//     starts (up to 20,000 rows; one larger batch alone): their rows, the offsets row with the
//     newest position, commit. Idle, that is one batch per transaction; under load it saves
//     commits and offsets upserts.
//   - poll(max_wait) waits up to max_wait for a commit and returns the sequence of the last
//     batch committed; batches commit in order, so it covers every batch before it.
//   - flush(deadline) waits until every queued batch committed (Retryable after the deadline).
//   - close() stops the worker (a batch in its transaction finishes or times out first;
//     queued batches are dropped, and the pipeline reads them again after a restart) and
//     closes the connection. The destructor calls it.
//   - open() and storedPosition() run on the caller's thread; the connection is shared with the
//     worker under a mutex. storedPosition() is meant for before the first write() (the
//     pipeline calls it then): it does not wait for queued batches.
// The factory is immutable and shareable.
// Errors: connection loss, timeouts, lost commit answers, and any error after which the driver
// reports the connection dead (SQL_ATTR_CONNECTION_DEAD) are Retryable and handled by the
// worker: the transaction is rolled back, the connection dropped, and the same batch written
// again on a new connection with capped backoff (100 ms doubling to 5 s, logged as
// "retrying") until it commits or close() is called; poll() meanwhile reports nothing new,
// so the pipeline stops reading once the queue is full. A row the database rejects
// (constraint, type): nothing of the batch (rows or position) is applied and batches queued
// after it are dropped; the batches before it in the same transaction are rolled back with it
// and written again without it, so what commits is what one transaction per batch would have
// committed. The worker then writes the batch's rows one at a time behind savepoints (all
// rolled back) to find the refused ones: poll(), flush() and every later write() return
// Abortable and takeWriteRefusals() names them (the database's text without row values), for
// the pipeline to dead-letter on its next run. When no row is refused alone, the error is
// Permanent with the batch's source positions.
// A missing target table is Permanent at open().

#include "src/core/registry.h"

namespace dutybridge::connectors {

void registerOdbcSink(core::Registry& registry);

}  // namespace dutybridge::connectors
