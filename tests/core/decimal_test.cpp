#include <catch2/catch.hpp>

#include "src/core/decimal.h"

using dutybridge::core::Decimal;

namespace {
Decimal dec(const char* text) { return *Decimal::parse(text); }
}  // namespace

TEST_CASE("decimal addition is exact", "[core][decimal]") {
  CHECK(*dec("0.1").add(dec("0.2")) == dec("0.3"));
  CHECK(dec("0.1").add(dec("0.2"))->toString() == "0.3");
  CHECK(*dec("1.005").subtract(dec("0.005")) == dec("1"));
}

TEST_CASE("sums of numeric(12,3) quantities are exact", "[core][decimal]") {
  Decimal sum;
  for (int i = 0; i < 100'000; ++i) sum = *sum.add(dec("123456789.001"));
  CHECK(sum.toString() == "12345678900100.000");
  Decimal mixed;
  for (const char* q : {"0.001", "999999999.999", "-0.500", "12.340"}) mixed = *mixed.add(dec(q));
  CHECK(mixed.toString() == "1000000011.840");
}

TEST_CASE("decimal parsing and formatting", "[core][decimal]") {
  CHECK(dec("-12.345").toString() == "-12.345");
  CHECK(dec("+7").toString() == "7");
  CHECK(dec(".5").toString() == "0.5");
  CHECK(dec("1e3").toString() == "1000");
  CHECK(dec("1.5E-2").toString() == "0.015");
  CHECK(dec("0.000").toString() == "0.000");
  CHECK(dec("-0.05").toString() == "-0.05");
  CHECK(dec("1.500").normalized().toString() == "1.5");
  for (const char* bad : {"", "abc", "1.2.3", "1e", "--1", "NaN", "1 "}) {
    INFO(bad);
    CHECK_FALSE(Decimal::parse(bad).has_value());
  }
  CHECK_FALSE(Decimal::parse("123456789012345678901234567890123456789").has_value());
}

TEST_CASE("decimal comparison ignores scale", "[core][decimal]") {
  CHECK(dec("1.50") == dec("1.5"));
  CHECK(dec("-2") < dec("-1.999"));
  CHECK(dec("0.001") > dec("0"));
  CHECK(dec("99999999999999999999999999999999999999") > dec("0.5"));
}

TEST_CASE("decimal multiply, divide and rescale round half-even", "[core][decimal]") {
  CHECK(dec("1.5").multiply(dec("2.25"))->toString() == "3.375");
  CHECK(dec("10").divide(dec("3"), 4)->toString() == "3.3333");
  CHECK(dec("2").divide(dec("3"), 2)->toString() == "0.67");
  CHECK(dec("0.125").rescale(2)->toString() == "0.12");
  CHECK(dec("0.135").rescale(2)->toString() == "0.14");
  CHECK(dec("-0.125").rescale(2)->toString() == "-0.12");
  auto by_zero = dec("1").divide(dec("0"), 2);
  REQUIRE_FALSE(by_zero.has_value());
  CHECK(by_zero.error().kind == dutybridge::core::ErrorKind::Permanent);
}

TEST_CASE("a product finer than 38 fraction digits rounds half-even at scale 38, below half a unit it is 0",
          "[core][decimal]") {
  // Documented in docs/expression-language.md (Arithmetic): underflow is rounding, overflow an error.
  const std::string zero = "0." + std::string(38, '0');  // zero at scale 38
  CHECK(dec("0.00000000000000000001").multiply(dec("0.00000000000000000001"))->toString() == zero);
  CHECK(dec("0.0000000000000000001").multiply(dec("0.00000000000000000005"))->toString() == zero);  // 0.5e-38: to even
  CHECK(dec("0.0000000000000000001").multiply(dec("0.00000000000000000015"))->toString() ==
        "0.00000000000000000000000000000000000002");  // 1.5e-38 -> 2e-38
  CHECK(dec("-0.00000000000000000001").multiply(dec("0.00000000000000000001"))->toString() == zero);
}

TEST_CASE("decimal overflow is an error, never a wrap", "[core][decimal]") {
  Decimal big = dec("99999999999999999999999999999999999999");
  CHECK_FALSE(big.add(dec("1")).has_value());
  CHECK_FALSE(big.multiply(dec("10")).has_value());
  CHECK(big.multiply(dec("0.1"))->toString() == "9999999999999999999999999999999999999.9");
}

TEST_CASE("decimal conversions", "[core][decimal]") {
  CHECK(Decimal::fromDouble(0.1)->toString() == "0.1");
  CHECK(*dec("42.000").toInt64() == 42);
  CHECK_FALSE(dec("42.5").toInt64().has_value());
  CHECK(dec("2.5").toDouble() == 2.5);
}

TEST_CASE("adding two 38-digit decimals reports overflow without undefined behaviour", "[core][decimal]") {
  Decimal big = dec("99999999999999999999999999999999999999");
  CHECK_FALSE(big.add(big).has_value());
  CHECK_FALSE(big.negate().add(big.negate()).has_value());
}
