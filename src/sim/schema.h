#pragma once
// The demo factory's four systems and their tables (docs/demo-factory.md lists every column).
// createSchema makes the empty tables, views and indexes of one system in a fresh database file
// (SQLite) or schema (PostgreSQL: the session's schema, dropped with everything in it and made
// again), and commits.
//
// Errors: the driver's diagnostic; the caller stops.

#include <string_view>

#include "src/core/error.h"
#include "src/sim/sql_session.h"

namespace dutybridge::sim {

enum class System { Mes, Erp, Crm, Hrm };
inline constexpr System kSystems[] = {System::Mes, System::Erp, System::Crm, System::Hrm};
// "mes", "erp", "crm", "hrm": the SQLite file stem and the PostgreSQL schema (after the
// optional --pg-schema-prefix).
std::string_view systemName(System system);

core::Status createSchema(SqlSession& session, System system);

}  // namespace dutybridge::sim
