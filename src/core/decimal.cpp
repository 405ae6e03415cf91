#include "src/core/decimal.h"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <string>

namespace dutybridge::core {
namespace {

constexpr std::array<Int128, 39> makePowers() {
  std::array<Int128, 39> powers{};
  powers[0] = 1;
  for (size_t i = 1; i < powers.size(); ++i) powers[i] = powers[i - 1] * 10;
  return powers;
}
constexpr std::array<Int128, 39> kPow10 = makePowers();
constexpr Int128 kLimit = kPow10[38];  // coefficients stay strictly below 10^38 in magnitude

Int128 absolute(Int128 v) { return v < 0 ? -v : v; }

bool inRange(Int128 v) { return v < kLimit && v > -kLimit; }

std::unexpected<Error> overflow(std::string_view op) {
  return fail(ErrorKind::Permanent, "decimal overflow in " + std::string(op) + " (more than 38 digits)");
}

// Multiplies by 10^digits; false on overflow.
bool scaleUp(Int128 value, int digits, Int128& out) {
  if (digits < 0 || digits > 38) return false;
  Int128 result;
  if (__builtin_mul_overflow(value, kPow10[static_cast<size_t>(digits)], &result)) return false;
  if (!inRange(result)) return false;
  out = result;
  return true;
}

// Divides with round-half-even.
Int128 divideRounded(Int128 numerator, Int128 denominator) {
  Int128 quotient = numerator / denominator;
  Int128 remainder = numerator % denominator;
  if (remainder == 0) return quotient;
  Int128 twice = absolute(remainder) * 2;  // |remainder| < |denominator| < 2^126, no overflow
  Int128 abs_den = absolute(denominator);
  bool negative = (numerator < 0) != (denominator < 0);
  bool round_away = twice > abs_den || (twice == abs_den && (quotient % 2 != 0));
  if (round_away) quotient += negative ? -1 : 1;
  return quotient;
}

}  // namespace

Result<Decimal> Decimal::fromParts(Int128 coefficient, int scale) {
  if (scale < 0 || scale > kMaxScale) {
    return fail(ErrorKind::Permanent, "decimal scale " + std::to_string(scale) + " out of range 0..38");
  }
  if (!inRange(coefficient)) return overflow("construction");
  return Decimal(coefficient, scale);
}

Result<Decimal> Decimal::parse(std::string_view text) {
  auto invalid = [&] {
    return fail(ErrorKind::Permanent, "not a decimal number: \"" + std::string(text.substr(0, 64)) + "\"");
  };
  size_t i = 0;
  bool negative = false;
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) {
    negative = text[i] == '-';
    ++i;
  }
  Int128 coefficient = 0;
  int digits = 0;
  int scale = 0;
  bool seen_digit = false;
  bool seen_point = false;
  for (; i < text.size(); ++i) {
    char c = text[i];
    if (c >= '0' && c <= '9') {
      seen_digit = true;
      if (coefficient == 0 && c == '0') {
        if (seen_point) ++scale;
        continue;
      }
      if (++digits > kMaxDigits) return overflow("parse");
      coefficient = coefficient * 10 + (c - '0');
      if (seen_point) ++scale;
    } else if (c == '.' && !seen_point) {
      seen_point = true;
    } else {
      break;
    }
  }
  if (!seen_digit) return invalid();
  int exponent = 0;
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    const char* begin = text.data() + i;
    const char* end = text.data() + text.size();
    if (begin != end && *begin == '+') ++begin;
    auto [ptr, ec] = std::from_chars(begin, end, exponent);
    if (ec != std::errc() || ptr != end) return invalid();
    i = text.size();
  }
  if (i != text.size()) return invalid();
  if (scale > kMaxScale) return overflow("parse");
  int effective_scale = scale - exponent;
  if (effective_scale < 0) {
    Int128 scaled;
    if (!scaleUp(coefficient, -effective_scale, scaled)) return overflow("parse");
    coefficient = scaled;
    effective_scale = 0;
  }
  if (effective_scale > kMaxScale) return overflow("parse");
  return Decimal(negative ? -coefficient : coefficient, effective_scale);
}

Result<Decimal> Decimal::fromDouble(double value) {
  if (!std::isfinite(value)) return fail(ErrorKind::Permanent, "cannot convert NaN or infinity to decimal");
  std::array<char, 64> buffer{};
  auto [ptr, ec] = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
  if (ec != std::errc()) return fail(ErrorKind::Permanent, "cannot format double");
  return parse(std::string_view(buffer.data(), static_cast<size_t>(ptr - buffer.data())));
}

Result<Decimal> Decimal::add(const Decimal& other) const {
  int scale = std::max(scale_, other.scale_);
  Int128 a, b;
  if (!scaleUp(coefficient_, scale - scale_, a) || !scaleUp(other.coefficient_, scale - other.scale_, b)) {
    return overflow("addition");
  }
  Int128 sum;
  // Two coefficients just below 10^38 can sum past the 128-bit range (about 1.7e38).
  if (__builtin_add_overflow(a, b, &sum) || !inRange(sum)) return overflow("addition");
  return Decimal(sum, scale);
}

Result<Decimal> Decimal::subtract(const Decimal& other) const { return add(other.negate()); }

Result<Decimal> Decimal::multiply(const Decimal& other) const {
  Int128 product;
  if (__builtin_mul_overflow(coefficient_, other.coefficient_, &product)) return overflow("multiplication");
  int scale = scale_ + other.scale_;
  // Drop trailing zeros first so that e.g. 1.000000 * 2.000000 stays representable.
  while (scale > kMaxScale && product % 10 == 0) {
    product /= 10;
    --scale;
  }
  if (scale > kMaxScale) {
    product = divideRounded(product, kPow10[static_cast<size_t>(scale - kMaxScale)]);
    scale = kMaxScale;
  }
  if (!inRange(product)) return overflow("multiplication");
  return Decimal(product, scale);
}

Result<Decimal> Decimal::divide(const Decimal& other, int result_scale) const {
  if (other.coefficient_ == 0) return fail(ErrorKind::Permanent, "division by zero");
  if (result_scale < 0 || result_scale > kMaxScale) {
    return fail(ErrorKind::Permanent, "decimal scale out of range");
  }
  // this / other = (c1 / 10^s1) / (c2 / 10^s2); we want q with scale r:
  // q = c1 * 10^(r + s2 - s1) / c2
  int shift = result_scale + other.scale_ - scale_;
  Int128 numerator = coefficient_;
  Int128 denominator = other.coefficient_;
  if (shift >= 0) {
    Int128 scaled;
    if (__builtin_mul_overflow(numerator, kPow10[static_cast<size_t>(std::min(shift, 38))], &scaled) ||
        shift > 38) {
      return overflow("division");
    }
    numerator = scaled;
  } else {
    Int128 scaled;
    if (__builtin_mul_overflow(denominator, kPow10[static_cast<size_t>(std::min(-shift, 38))], &scaled) ||
        -shift > 38) {
      // The quotient rounds to zero at this scale.
      return Decimal(0, result_scale);
    }
    denominator = scaled;
  }
  Int128 quotient = divideRounded(numerator, denominator);
  if (!inRange(quotient)) return overflow("division");
  return Decimal(quotient, result_scale);
}

Result<Decimal> Decimal::rescale(int new_scale) const {
  if (new_scale < 0 || new_scale > kMaxScale) return fail(ErrorKind::Permanent, "decimal scale out of range");
  if (new_scale >= scale_) {
    Int128 scaled;
    if (!scaleUp(coefficient_, new_scale - scale_, scaled)) return overflow("rescale");
    return Decimal(scaled, new_scale);
  }
  return Decimal(divideRounded(coefficient_, kPow10[static_cast<size_t>(scale_ - new_scale)]), new_scale);
}

Decimal Decimal::normalized() const {
  Int128 c = coefficient_;
  int s = scale_;
  while (s > 0 && c % 10 == 0) {
    c /= 10;
    --s;
  }
  return Decimal(c, c == 0 ? 0 : s);
}

Result<int64_t> Decimal::toInt64() const {
  Decimal n = normalized();
  if (n.scale_ != 0) return fail(ErrorKind::Permanent, "decimal " + toString() + " has a fractional part");
  if (n.coefficient_ > INT64_MAX || n.coefficient_ < INT64_MIN) {
    return fail(ErrorKind::Permanent, "decimal " + toString() + " does not fit in a 64-bit integer");
  }
  return static_cast<int64_t>(n.coefficient_);
}

double Decimal::toDouble() const {
  // Through text so the nearest double is chosen (strtod rounds correctly).
  std::string text = toString();
  return std::strtod(text.c_str(), nullptr);
}

std::string Decimal::toString() const {
  Int128 magnitude = absolute(coefficient_);
  std::string digits;
  do {
    digits.insert(digits.begin(), static_cast<char>('0' + static_cast<int>(magnitude % 10)));
    magnitude /= 10;
  } while (magnitude != 0);
  if (scale_ > 0) {
    if (static_cast<int>(digits.size()) <= scale_) {
      digits.insert(0, static_cast<size_t>(scale_ - static_cast<int>(digits.size()) + 1), '0');
    }
    digits.insert(digits.size() - static_cast<size_t>(scale_), 1, '.');
  }
  if (coefficient_ < 0) digits.insert(digits.begin(), '-');
  return digits;
}

std::strong_ordering Decimal::operator<=>(const Decimal& other) const {
  if (sign() != other.sign()) return sign() <=> other.sign();
  if (scale_ == other.scale_) return coefficient_ <=> other.coefficient_;
  Int128 a = coefficient_;
  Int128 b = other.coefficient_;
  if (scale_ < other.scale_) {
    if (!scaleUp(a, other.scale_ - scale_, a)) {
      // |this| is larger than any representable value at the other's scale.
      return sign() > 0 ? std::strong_ordering::greater : std::strong_ordering::less;
    }
  } else if (!scaleUp(b, scale_ - other.scale_, b)) {
    return sign() > 0 ? std::strong_ordering::less : std::strong_ordering::greater;
  }
  return a <=> b;
}

}  // namespace dutybridge::core
