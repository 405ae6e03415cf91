#pragma once
// The HR store's tables and view (docs/hr-store.md) as DDL for one database dialect: what
// `dutybridge hr-schema --dialect postgresql|sqlite` prints for the admin to apply, and what the
// tests apply. duty_kpi_fact and the employee_* tables are what the odbc sink upserts into;
// duty_fulfilment summarises facts per employee and period. Pure functions.

#include <string>
#include <vector>

#include "connectors/odbc/upsert_dialect.h"

namespace dutybridge::odbc {

// One statement per element, without the trailing ';'.
std::vector<std::string> hrSchemaStatements(const UpsertDialect& dialect);
// The statements joined with ";\n\n", with a comment header; ends with ";\n".
std::string hrSchemaDdl(const UpsertDialect& dialect);

}  // namespace dutybridge::odbc
