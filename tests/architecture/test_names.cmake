# Every Catch test name must reach ctest whole: catch_discover_tests hands names to CMake, where a
# ';' splits a list, so a test named "a; b" was registered as "a", matched no test case, and passed
# without running (ten tests did, until 2026-12-07). This check fails on any TEST_CASE name with ';'.
#
#   cmake -DSOURCE_DIR=<repo> -P tests/architecture/test_names.cmake

cmake_minimum_required(VERSION 3.25)
if(NOT SOURCE_DIR)
  message(FATAL_ERROR "test_names: pass -DSOURCE_DIR=<repository root>")
endif()
file(GLOB_RECURSE sources RELATIVE "${SOURCE_DIR}" "${SOURCE_DIR}/tests/*.cpp" "${SOURCE_DIR}/tests/*.h")
set(problems "")
set(count 0)
foreach(source IN LISTS sources)
  file(READ "${SOURCE_DIR}/${source}" text)
  # Semicolons would split the text itself into a list: mark them first.
  string(REPLACE ";" "<SEMICOLON>" text "${text}")
  string(REGEX MATCHALL "TEST_CASE\\(\"[^\"]*\"" cases "${text}")
  foreach(test_case IN LISTS cases)
    math(EXPR count "${count} + 1")
    if(test_case MATCHES "<SEMICOLON>")
      string(REPLACE "<SEMICOLON>" ";" shown "${test_case}")
      string(APPEND problems "  ${source}: ${shown})\n")
    endif()
  endforeach()
endforeach()
if(problems)
  message(FATAL_ERROR "test_names: these test names hold ';', which ctest cuts off (the test would not run); "
                      "use ',' instead:\n${problems}")
endif()
message(STATUS "test_names: ${count} test cases, none with ';' in its name")
