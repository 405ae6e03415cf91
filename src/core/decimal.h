#pragma once
// Exact decimal numbers for quantities and money: a signed 128-bit coefficient and a scale
// (value = coefficient / 10^scale), up to 38 significant digits and scale 0..38. Arithmetic
// never rounds silently: add, subtract and multiply are exact or report overflow; divide and
// rescale round half-even to a scale the caller chooses.

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "src/core/error.h"

namespace dutybridge::core {

__extension__ typedef __int128 Int128;

class Decimal {
 public:
  static constexpr int kMaxDigits = 38;
  static constexpr int kMaxScale = 38;

  Decimal() = default;

  static Decimal fromInt(int64_t value) { return Decimal(value, 0); }
  // Fails when |coefficient| >= 10^38 or scale is out of range.
  static Result<Decimal> fromParts(Int128 coefficient, int scale);
  // Accepts "-12.345", "+7", "1e3", "1.5E-2", ".5". Rejects empty, NaN, Inf and extra text.
  static Result<Decimal> parse(std::string_view text);
  // The shortest decimal text that round-trips the double (so 0.1 becomes exactly 0.1).
  static Result<Decimal> fromDouble(double value);

  Int128 coefficient() const { return coefficient_; }
  int scale() const { return scale_; }
  int sign() const { return coefficient_ < 0 ? -1 : (coefficient_ > 0 ? 1 : 0); }

  Result<Decimal> add(const Decimal& other) const;
  Result<Decimal> subtract(const Decimal& other) const;
  Result<Decimal> multiply(const Decimal& other) const;
  // Quotient rounded half-even to result_scale. Division by zero is a Permanent error.
  Result<Decimal> divide(const Decimal& other, int result_scale) const;
  // Same value at another scale, rounded half-even when digits are dropped.
  Result<Decimal> rescale(int new_scale) const;
  Decimal negate() const { return Decimal(-coefficient_, scale_); }
  // Trailing fractional zeros removed: 1.500 -> 1.5, 2.000 -> 2.
  Decimal normalized() const;

  // Exact only: fails if there is a fractional part or the value does not fit.
  Result<int64_t> toInt64() const;
  double toDouble() const;
  // Plain notation, never exponent: "-0.050", "12", "1234.500".
  std::string toString() const;

  // Value comparison, independent of scale: 1.50 == 1.5.
  std::strong_ordering operator<=>(const Decimal& other) const;
  bool operator==(const Decimal& other) const { return (*this <=> other) == 0; }

 private:
  Decimal(Int128 coefficient, int scale) : coefficient_(coefficient), scale_(scale) {}

  Int128 coefficient_ = 0;
  int scale_ = 0;
};

}  // namespace dutybridge::core
