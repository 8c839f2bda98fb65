// Branch-free exp, log and log1p in double precision, written so that GCC vectorizes loops that
// call them (no libm calls, no int<->double conversions the baseline ISA lacks). Accuracy about
// 1 ulp over the whole double range, subnormal inputs and outputs included. NaN propagates.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>

#include "mixgrad/config.hpp"

namespace mixgrad::elem {

MIXGRAD_INLINE std::uint64_t bits_of(double x) {
  std::uint64_t u;
  std::memcpy(&u, &x, sizeof u);
  return u;
}

MIXGRAD_INLINE double from_bits(std::uint64_t u) {
  double x;
  std::memcpy(&x, &u, sizeof x);
  return x;
}

inline constexpr std::uint64_t kSignBit = 0x8000000000000000ULL;

inline constexpr double kInf = std::numeric_limits<double>::infinity();
inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
inline constexpr double kLn2Hi = 6.93147180369123816490e-01;  // low 21 bits zero: n*kLn2Hi exact
inline constexpr double kLn2Lo = 1.90821492927058770002e-10;
inline constexpr double kInvLn2 = 1.44269504088896338700e+00;
// Adding this rounds a double of magnitude < 2^51 to an integer held in the low mantissa bits.
inline constexpr double kRoundShifter = 6755399441055744.0;  // 0x1.8p52

// c[0] + c[1] x + ... + c[N-1] x^(N-1) as two Horner chains in x^2 (even and odd coefficients)
// joined by one multiply-add: the multiply that forms x^4 fewer than poly4 (the same multiply-adds),
// at twice its dependency depth, for loops whose cost is their count of instructions rather than
// their latency.
template <std::size_t N>
MIXGRAD_INLINE double poly2(const double (&c)[N], double x) {
  static_assert(N >= 2, "poly2 needs at least two coefficients");
  const double x2 = x * x;
  constexpr std::size_t top_even = (N - 1) & ~std::size_t{1}, top_odd = (N - 2) | 1;
  double even = c[top_even], odd = c[top_odd];
#pragma GCC unroll 16
  for (std::size_t i = top_even; i >= 2; i -= 2) even = even * x2 + c[i - 2];
#pragma GCC unroll 16
  for (std::size_t i = top_odd; i >= 3; i -= 2) odd = odd * x2 + c[i - 2];
  return even + x * odd;
}

// c[0] + c[1] x + ... + c[N-1] x^(N-1) as four interleaved Horner chains in x^4: a quarter of
// the dependency depth of plain Horner, so the out-of-order core keeps several vectors in flight.
template <std::size_t N>
MIXGRAD_INLINE double poly4(const double (&c)[N], double x) {
  static_assert(N >= 4, "poly4 needs at least four coefficients");
  const double x2 = x * x, x4 = x2 * x2;
  double acc[4];
#pragma GCC unroll 4
  for (std::size_t j = 0; j < 4; ++j) {
    // Chain j runs over i = j + 4m, m = top..0, starting at its own highest coefficient (a
    // multiply-add with a leading 0 would cost an instruction: 0 * x4 is not foldable in IEEE).
    const std::size_t top = (N - 1 - j) / 4;
    double a = c[j + 4 * top];
#pragma GCC unroll 16
    for (std::size_t step = 1; step <= top; ++step) a = a * x4 + c[j + 4 * (top - step)];
    acc[j] = a;
  }
  return (acc[0] + x * acc[1]) + x2 * (acc[2] + x * acc[3]);
}

// 2^n for integer-valued n in [-1022, 1023], built from bits (no conversion instruction).
MIXGRAD_INLINE double pow2_int(std::int64_t n) {
  return from_bits(static_cast<std::uint64_t>(n + 1023) << 52);
}

// e^r - 1 for |r| <= 0.3476 as r P(r), P of degree 10 fitted to (e^r - 1)/r
// (tools/fit_special_coefficients.py; relative error 1.8e-17, two terms fewer than the Taylor
// series needs). Callers add the leading 1 last (or fold it into a multiply-add, q + q (e^r - 1)),
// so that its rounding is the only one at full scale. Evaluated by poly2: the exponentials run
// in array loops whose cost is their instruction count, and poly4's extra multiplies made the
// mixture's weight loop 11% slower on Zen 3 (AVX2); the error is as small (max 1.08 against
// 1.26 ulp over 200,000 points).
MIXGRAD_INLINE double exp_reduced_minus_one(double r) {
  static constexpr double c[11] = {
      1.0,
      5.0000000000000057101e-1,
      1.66666666666665588856e-1,
      4.1666666666571749062e-2,
      8.33333333340042097306e-3,
      1.38888889330136809451e-3,
      1.98412697026319655859e-4,
      2.48015036453550037113e-5,
      2.75574182513568180423e-6,
      2.76266606082453681176e-7,
      2.5051321626248853689e-8,
  };
  return r * poly2(c, r);
}

MIXGRAD_INLINE double exp_reduced(double r) {
  return 1.0 + exp_reduced_minus_one(r);
}

// The exponential split as exp(y) = p * 2^n with p in [0.7, 1.42]: callers that multiply the
// result by something small first (ndtr) keep full precision in the subnormal range.
// y must already be clamped to [-1100, 1100] or be NaN.
MIXGRAD_INLINE double exp_mantissa(double y, std::int64_t& n) {
  const double kd = y * kInvLn2 + kRoundShifter;
  n = static_cast<std::int64_t>(bits_of(kd) - bits_of(kRoundShifter));
  const double nd = kd - kRoundShifter;
  const double r = (y - nd * kLn2Hi) - nd * kLn2Lo;  // |r| <= 0.347
  return exp_reduced(r);
}

// exp(y + dy) = (1 + e) * 2^n with 1 + e in [0.7, 1.42], returning e, for y as in exp_mantissa
// and |dy| <= 1e-3: the
// small part joins the reduced argument, so a function whose exponent comes as an exact sum
// (half_square) needs no separate correction factor. The argument is reduced as
// (y - n ln2_hi) + (dy - n ln2_lo): the first difference is exact, so one rounding at the scale
// of the reduced argument remains (about 0.25 ulp of the result).
MIXGRAD_INLINE double exp_mantissa_sum_minus_one(double y, double dy, std::int64_t& n) {
  const double kd = y * kInvLn2 + kRoundShifter;
  n = static_cast<std::int64_t>(bits_of(kd) - bits_of(kRoundShifter));
  const double nd = kd - kRoundShifter;
  const double r = (y - nd * kLn2Hi) + (dy - nd * kLn2Lo);
  return exp_reduced_minus_one(r);
}

// exp(u) - 1 for |u| <= 700 without cancellation: (1 + e) 2^n - 1 = e 2^n + (2^n - 1) with one
// rounding, and e itself where n = 0 (|u| <= 0.347). About 1 ulp.
MIXGRAD_INLINE double expm1(double u) {
  std::int64_t n;
  const double e = exp_mantissa_sum_minus_one(u, 0.0, n);
  const double p2 = pow2_int(n);
  return e * p2 + (p2 - 1.0);
}

// m * 2^n for n in [-1800, 200] and m in [2^-200, 2]: m * 2^(n + 800) is then a normal number,
// exact, and the one rounding happens in the final * 2^-800 (subnormal results keep their bits).
// Cheaper than scale_pow2 on SIMD lanes (no signed 64-bit halving, which AVX2 lacks).
MIXGRAD_INLINE double scale_pow2_down(double m, std::int64_t n) {
  return m * pow2_int(n + 800) * 0x1p-800;
}

// m * 2^n for n in [-200, 1800] and m in [2^-200, 2], the mirror image of scale_pow2_down: one
// rounding (to inf when the result overflows) in the final * 2^200.
MIXGRAD_INLINE double scale_pow2_up(double m, std::int64_t n) {
  return m * pow2_int(n - 200) * 0x1p200;
}

// m * 2^n for any n in [-2200, 2200], correctly reaching the subnormal range: two factors
// each inside the normal exponent range.
MIXGRAD_INLINE double scale_pow2(double m, std::int64_t n) {
  const std::int64_t n1 = n / 2;
  return m * pow2_int(n1) * pow2_int(n - n1);
}

MIXGRAD_INLINE double exp(double y) {
  const double yc = y < -1100.0 ? -1100.0 : (y > 1100.0 ? 1100.0 : y);  // NaN passes through
  std::int64_t n;
  const double p = exp_mantissa(yc, n);
  const double v = scale_pow2(p, n);
  return y > 709.782712893384 ? kInf : v;
}

// exp(y) for y <= 138 (or NaN): the same bits as exp there, with one clamp and the single scaling
// of scale_pow2_down, whose range ends at 2^200 > e^138.
MIXGRAD_INLINE double exp_below_138(double y) {
  const double yc = y < -1100.0 ? -1100.0 : y;  // NaN passes through
  std::int64_t n;
  const double p = exp_mantissa(yc, n);
  return scale_pow2_down(p, n);
}

// exp(y) for y <= 0 (or NaN), where the result never overflows.
MIXGRAD_INLINE double exp_nonpositive(double y) {
  return exp_below_138(y);
}

// exp(y) for y in [-708, 709], where the result is a normal double: the same bits as exp there,
// with one power-of-2 factor. Outside, the clamped argument's value (some number below 2^-1020,
// or e^709), for callers to whom those are as good (a term that 1 - x absorbs).
MIXGRAD_INLINE double exp_normal_range(double y) {
  const double yc = y < -708.0 ? -708.0 : (y > 709.0 ? 709.0 : y);  // NaN passes through
  std::int64_t n;
  const double p = exp_mantissa(yc, n);
  return p * pow2_int(n);
}

// log(xs) - k_offset ln 2 for xs a positive normal finite double (any other xs gives some
// finite value, for callers that mask those cases). No division-free form is cheaper: the
// atanh series after the one division needs 8 terms, a polynomial in the mantissa over 20.
MIXGRAD_INLINE double log_normal_scaled(double xs, double k_offset) {
  // Shift so that the mantissa m lands in [sqrt(1/2), sqrt(2)) and k is the matching exponent.
  const std::uint64_t b = bits_of(xs) + (0x3ff0000000000000ULL - 0x3fe6a09e00000000ULL);
  const std::uint64_t kb = (b >> 52) | 0x4330000000000000ULL;  // exact int -> double via 2^52
  const double k = from_bits(kb) - 4503599627370496.0 - 1023.0 - k_offset;
  const double m = from_bits((b & 0x000fffffffffffffULL) + 0x3fe6a09e00000000ULL);
  const double f = m - 1.0;
  const double s = f / (2.0 + f);
  const double z = s * s;
  // R = 2 atanh(s)/s - 2 = z P(z), z = s^2 <= 0.0295, P of degree 7 fitted
  // (tools/fit_special_coefficients.py; relative error 3e-18, the series needs 10 terms).
  static constexpr double c[8] = {
      6.6666666666666666464e-1,  4.00000000000008800237e-1, 2.85714285708019556566e-1, 2.22222223920520201464e-1,
      1.81817956072734015385e-1, 1.53862413418494884041e-1, 1.32687326048265629215e-1, 1.30870199089264633097e-1,
  };
  const double R = z * poly2(c, z);  // poly2, as in exp_reduced_minus_one: array loops
  const double hfsq = 0.5 * f * f;
  // log(1+f) = f - hfsq + s*(hfsq + R), arranged so the big terms are added last.
  const double lm = f - (hfsq - s * (hfsq + R));
  return k * kLn2Hi + (lm + k * kLn2Lo);
}

// log(x) for x a positive normal finite double; other x give some finite value (callers that
// know their argument's range, or mask the other cases, skip the selects of log).
MIXGRAD_INLINE double log_normal(double x) {
  return log_normal_scaled(x, 0.0);
}

// log(x) for x > 0 (subnormals included); log(0) = -inf, log(x<0) = NaN, log(inf) = inf.
MIXGRAD_INLINE double log(double x) {
  const bool sub = x < 2.2250738585072014e-308;
  const double xs = sub ? x * 18014398509481984.0 : x;  // * 2^54 brings subnormals up
  const double v = log_normal_scaled(xs, sub ? 54.0 : 0.0);
  return x > 0.0 ? (x < kInf ? v : x) : (x == 0.0 ? -kInf : kNaN);
}

// log(1 + u) for u >= -1 with full relative accuracy for small u.
MIXGRAD_INLINE double log1p(double u) {
  const double w = 1.0 + u;
  const double corr = (u - (w - 1.0)) / (w == 0.0 ? 1.0 : w);
  return log(w) + corr;
}

}  // namespace mixgrad::elem
