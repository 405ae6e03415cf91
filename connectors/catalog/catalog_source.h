#pragma once
// `position_catalog` source: publishes the position catalog (config/duties.yaml, src/catalog) as
// records, one per element version (catalog::catalogElements), for a kafka sink to write to the
// compacted topic hr.position-catalog.v1 and the HR store loader to upsert into the
// position_catalog table (docs/personnel-file.md).
//
// Publications. At start, and whenever the file changes (looked at every `poll_interval`), the
// source compares a digest of the catalog's elements with the one in its stored position; when
// they differ it returns every element in one batch, all with the same revision (the
// publication's: the clock in microseconds, above the previous publication's), and the new
// digest as the position. An edit that only touches comments publishes nothing. Elements removed
// from the file are not deleted downstream: they keep the revision of an older publication, and
// the HR store's views read only the newest one.
//
// Errors: a catalog that does not load at create() is InvalidConfig (so `dutybridge check`
// refuses it); one that stops loading later (an edit in progress) is Retryable with the first
// problem, the whole diagnostics logged once per distinct text, and nothing is published until
// the file is right again: the last good publication stays.
//
// Threading: as every source, called from its pipeline thread only.

#include "src/core/registry.h"

namespace dutybridge::connectors {

void registerPositionCatalogSource(core::Registry& registry);

}  // namespace dutybridge::connectors
