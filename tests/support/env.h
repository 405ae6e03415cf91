#pragma once
// The environment of a test run: addresses of the real services scripts/test starts
// (scripts/services-env exports them) and scale parameters (CHAOS_*). A test that cannot find
// the services fails loudly; it never skips.

#include <catch2/catch.hpp>
#include <cstdlib>
#include <string>

namespace dutybridge::testing {

inline std::string requireEnv(const char* name) {
  const char* value = std::getenv(name);
  if (!value || !*value) {
    FAIL(std::string(name) +
         " is not set: start the services with scripts/test, or "
         "scripts/kafka-local start && scripts/pg-local start && eval \"$(scripts/services-env)\"");
  }
  return value;
}

inline std::string kafkaBootstrap() {
  return requireEnv("DUTYBRIDGE_TEST_KAFKA");
}
inline std::string postgresOdbc() {
  return requireEnv("DUTYBRIDGE_TEST_PG_ODBC");
}

// An integer parameter from the environment (`fallback` when unset).
inline long envLong(const char* name, long fallback) {
  const char* value = std::getenv(name);
  if (!value || !*value) return fallback;
  try {
    return std::stol(value);
  } catch (...) {
    FAIL(std::string(name) + " is not an integer: " + value);
  }
  return fallback;
}

inline std::string envString(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return value && *value ? std::string(value) : fallback;
}

}  // namespace dutybridge::testing
