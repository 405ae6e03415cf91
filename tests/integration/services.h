#pragma once
// Addresses of the real services scripts/test starts (scripts/services-env exports them).
// A test that cannot find or reach them fails loudly; it never skips.

#include <catch2/catch.hpp>

#include <cstdlib>
#include <string>

namespace dutybridge::testing {

inline std::string requireEnv(const char* name) {
  const char* value = std::getenv(name);
  if (!value || !*value) {
    FAIL(std::string(name) + " is not set: start the services with scripts/test, or "
         "scripts/kafka-local start && scripts/pg-local start && eval \"$(scripts/services-env)\"");
  }
  return value;
}

inline std::string kafkaBootstrap() { return requireEnv("DUTYBRIDGE_TEST_KAFKA"); }
inline std::string postgresOdbc() { return requireEnv("DUTYBRIDGE_TEST_PG_ODBC"); }

}  // namespace dutybridge::testing
