// Normal special functions in double precision: ndtr, log_ndtr, erfcx, ndtri (vectorizable,
// branch-free), ndtri_exp (branch-free for log_p in [-700, 0), Newton steps below) and
// log_ndtr_diff (scalar, with branches).
//
// Everything rests on the scaled lower tail Q(y) = Phi(-y) * exp(y^2/2) for y >= 0, a smooth
// function (Q(0) = 1/2, Q(y) ~ 1/(y sqrt(2 pi))) that one polynomial approximates to ~1 ulp on the
// whole half-line after the map t = (y - 4)/(y + 4); ndtr and erfcx use an equivalent rational
// function of y, cheaper per element. The Gaussian factor exp(-y^2/2) is computed from an exact
// split of y^2 so that no precision is lost for large y, and the product is scaled by a power of
// two last so that subnormal results keep their bits.
#pragma once

#include <cmath>
#include <cstdint>

#include "mixgrad/config.hpp"
#include "mixgrad/elementary.hpp"

namespace mixgrad::special {

inline constexpr double kSqrt2 = 1.41421356237309504880;
inline constexpr double kInvSqrt2Pi = 0.398942280401432677940;
inline constexpr double kSqrt2Pi = 2.50662827463100050242;
inline constexpr double kHalfLog2Pi = 0.918938533204672741780;
inline constexpr double kLn2 = 0.693147180559945309417;
inline constexpr double kLog4Pi = 2.53102424696929079298;
inline constexpr double kInvSqrt2 = 0.707106781186547524401;
inline constexpr double kInvSqrtPi = 0.564189583547756286948;

// y^2/2 = A + r exactly up to rounding of r, with A exact: y is cut to 26 significant bits
// (so hi*hi is exact) and the remainder goes into r, |r| <= 2^-26 * y^2. Halving hi first keeps
// A finite while y^2/2 is (up to y = 1.896e154; y^2 itself overflows from 1.34e154).
MIXGRAD_INLINE void half_square(double y, double& A, double& r) {
  const double hi = elem::from_bits(elem::bits_of(y) & 0xFFFFFFFFF8000000ULL);
  const double lo = y - hi;
  A = (0.5 * hi) * hi;
  r = hi * lo + 0.5 * (lo * lo);
}

// Q(y) = Phi(-y) exp(y^2/2) for y >= 0 (Q(inf) = 0), given s = 1/(y + 4). Coefficients:
// monomial form of the Chebyshev interpolant of (y + 4) Q(y) in t = 1 - 8 s, computed with
// mpmath at 50 digits (maximum error 1.7 ulp on a dense grid in double arithmetic).
MIXGRAD_INLINE double scaled_lower_tail_s(double s) {
  const double t = 1.0 - 8.0 * s;
  static constexpr double c[26] = {
      7.55285130415751492050e-1,  -6.07896641971892124527e-1, 3.87137400742214917471e-1,  -1.86521857959654828793e-1,
      6.03965748909178722508e-2,  -7.54018896682523998103e-3, -3.47969236704797363022e-3, 1.63081845939458597720e-3,
      1.33344309411832543915e-4,  -2.31094953240194385155e-4, -1.90824635141457105280e-6, 3.51447947875335530765e-5,
      7.16658764119512099084e-7,  -5.92058651955689084225e-6, -6.29836733849236905103e-7, 1.02256041582960376598e-6,
      2.72462969511458720794e-7,  -1.56502364619931066222e-7, -8.68664701599789275953e-8, 1.46307274056511747346e-8,
      2.14276038434523558843e-8,  1.43299184010886129338e-9,  -3.73064508186837027859e-9, -8.54652189988014714341e-10,
      3.40331230864949464757e-10, 1.17547899148077402947e-10,
  };
  return elem::poly4(c, t) * s;
}

MIXGRAD_INLINE double scaled_lower_tail(double y) {
  return scaled_lower_tail_s(1.0 / (y + 4.0));
}

namespace detail {

// Q(y) = P(y)/R(y) for y >= 0, P of degree 10 and R of 11: a rational of degree 10 in
// t = (y - 4)/(y + 4), multiplied out (tools/fit_special_coefficients.py; error 4.4e-17 before
// rounding, all coefficients positive). One division and 21 multiply-adds where
// scaled_lower_tail needs a division for s and 26: measured 8% faster in ndtr and erfcx on AVX2.
// erfcx, log_ndtr and the mixture kernels beyond |z| = 10 use it; ndtr, which needs only
// [0, 40], has a shorter one. R is finite up to y = 1e25.
inline constexpr double kScaledTailNum[11] = {
    4.99999999999999978055e-1, 8.35231386568756804258e-1, 6.90074712744667570344e-1, 3.64718273735429632173e-1,
    1.35296373924239800008e-1, 3.66356619325638143794e-2, 7.32044266978503803953e-3, 1.06635382780299215332e-3,
    1.08641359683612651449e-4, 7.02163247823363881489e-6, 2.19933257902984428534e-7,
};
inline constexpr double kScaledTailDen[12] = {
    1.0,
    2.46834733394037069659e+0,
    2.84960565393952256743e+0,
    2.03488075642022779210e+0,
    1.00087526900293072268e+0,
    3.56948209208330456584e-1,
    9.44697375112666333400e-2,
    1.86208495003432518904e-2,
    2.69055327804297243164e-3,
    2.72874794900054451937e-4,
    1.76006225040078569252e-5,
    5.51290922791332689522e-7,
};

// Q(y) = P(y)/R(y) for 0 <= y <= kScaledTailBoundedMax, P of degree 8 and R of 9, fitted in y
// (tools/fit_special_coefficients.py; error 2.6e-17 before rounding, all coefficients positive):
// four multiply-adds fewer than the rational for the whole half-line (19 coefficients, not 23).
inline constexpr double kScaledTailBoundedNum[9] = {
    5.00000000000000010828e-1, 6.6938358443382029361e-1,  4.46206711474685625277e-1,
    1.86785944384157863715e-1, 5.30101068239734174791e-2, 1.0387376864448444249e-2,
    1.37196453324131060556e-3, 1.121287294764806489e-4,   4.38337995240656818137e-6,
};
inline constexpr double kScaledTailBoundedDen[10] = {
    1.0,
    2.13665172967051039719,
    2.09721484986605658494,
    1.24454289359731226681,
    4.93681491064977860982e-1,
    1.3629343430605658098e-1,
    2.63183692541506386859e-2,
    3.44999217024008988052e-3,
    2.81065053505560825471e-4,
    1.09875040197059123293e-5,
};

// Q(y) = P(y)/R(y) for 0 <= y <= 40, ndtr's range (Phi(-y) is 0 beyond 38.5), P and R of degree
// 10, fitted in y (tools/fit_special_coefficients.py; error 3.1e-17 before rounding, all
// coefficients positive): one multiply-add fewer than the rational for the whole half-line, which
// erfcx and log_ndtr need, and a shorter chain (ndtr 2-9% faster in four interleaved runs on Zen 3,
// AVX2; as accurate).
inline constexpr double kScaledTailNdtrNum[11] = {
    4.99999999999999985126e-1, 7.66052486979913821655e-1, 5.81384639327530926869e-1,  2.80362329555890877501e-1,
    9.37056765279145432883e-2, 2.24125684568348576518e-2, 3.83467186856734503646e-3,  4.53962503780738936281e-4,
    3.39813085870969258539e-5, 1.24200793670547668213e-6, 1.75877241924953698233e-19,
};
inline constexpr double kScaledTailNdtrDen[11] = {
    1.0,
    2.32998953476268752761,
    2.52183195527464000119,
    1.67382219404872585894,
    7.56699820467493395682e-1,
    2.44327016632570191208e-1,
    5.73116674551481449131e-2,
    9.69727540943818686009e-3,
    1.14102850048796207909e-3,
    8.51785089026824731539e-5,
    3.11325221156405816005e-6,
};

}  // namespace detail

// The end of scaled_lower_tail_bounded's range.
inline constexpr double kScaledTailBoundedMax = 10.0;

// Q(y) for 0 <= y <= kScaledTailBoundedMax (NaN gives NaN), as accurate there as
// scaled_lower_tail_rational. Only the mixture kernels use it (mixture/scaled_tail_block.hpp):
// there nearly every |z| is below 10.
MIXGRAD_INLINE double scaled_lower_tail_bounded(double y) {
  return elem::poly2(detail::kScaledTailBoundedNum, y) / elem::poly2(detail::kScaledTailBoundedDen, y);
}

// Q(y) for 0 <= y <= kScaledTailBoundedMax (NaN gives NaN) to a relative error of 3e-13 (the
// fit's; tools/fit_special_coefficients.py, scaled_tail_rough): P and R of degrees 6 and 7, four
// multiply-adds fewer than scaled_lower_tail_bounded. Only the quantile's first evaluation of a
// coordinate uses it, which aims the next and decides nothing (mixture/diag/quantile.hpp).
MIXGRAD_INLINE double scaled_lower_tail_rough(double y) {
  static constexpr double num[7] = {5.00000000000134180371e-1, 5.56138468352843157305e-1, 3.0541398061958918485e-1,
                                    1.00820445156572923429e-1, 2.08577631003572788066e-2, 2.5645996699362481791e-3,
                                    1.48399399167294223567e-4};
  static constexpr double den[8] = {1.0,
                                    1.91016149754421882951,
                                    1.63491632799064956414,
                                    8.16996164721136849452e-1,
                                    2.59155414632102139881e-1,
                                    5.26542515671845279125e-2,
                                    6.42851051769996925709e-3,
                                    3.71981944154177240507e-4};
  return elem::poly2(num, y) / elem::poly2(den, y);
}

// Q(y) for every y >= 0 (and +inf) as the rational P/R (erfcx_abs's form); from y = 1e24 on,
// where R would overflow, its asymptote 1/(y sqrt(2 pi)) (relative error below 1e-48 there).
// The mixture kernels take it beyond kScaledTailBoundedMax (mixture/scaled_tail_block.hpp).
MIXGRAD_INLINE double scaled_lower_tail_rational(double y) {
  const bool huge = y > 1e24;
  const double yc = huge ? 0.0 : y;
  const double num = elem::poly2(detail::kScaledTailNum, yc);
  const double den = elem::poly2(detail::kScaledTailDen, yc);
  return (huge ? kInvSqrt2Pi : num) / (huge ? y : den);
}

// exp(-y^2/2) = (1 + e) 2^n for 0 <= y <= 40 (NaN gives NaN), from the exact split of y^2/2.
struct HalfGaussian {
  double e;
  std::int64_t n;  // >= -1155
};

MIXGRAD_INLINE HalfGaussian half_gaussian(double y) {
  double A, r;
  half_square(y, A, r);
  HalfGaussian g;
  g.e = elem::exp_mantissa_sum_minus_one(-A, -r, g.n);
  return g;
}

// Phi(-y) for y >= 0 given q = Q(y) and g = half_gaussian(min(y, 40)): q * exp(-y^2/2),
// subnormal-exact; 0 beyond y = 40.
MIXGRAD_INLINE double lower_tail_from_parts(double y, double q, HalfGaussian g) {
  const double v = elem::scale_pow2_down(q + q * g.e, g.n);
  return y > 40.0 ? 0.0 : v;
}

// Phi(-y) for y >= 0 given q = Q(y).
MIXGRAD_INLINE double lower_tail_from_scaled(double y, double q) {
  return lower_tail_from_parts(y, q, half_gaussian(y > 40.0 ? 40.0 : y));  // NaN passes through
}

// Phi(x) = P(N(0,1) <= x), with Q by the rational form for [0, 40]: past |x| = 40, where
// Phi(-|x|) is 0, Q is not used (lower_tail_from_parts), so the argument is clamped there (NaN
// passes through). The Gaussian factor comes first in the source: it does not wait for Q's
// division, and GCC, which schedules no instructions before register allocation on x86, emits
// them in about this order, so the out-of-order core overlaps more of them (6-8% faster on Zen 3,
// AVX2).
MIXGRAD_INLINE double ndtr(double x) {
  const double y = std::fabs(x);
  const double yc = y > 40.0 ? 40.0 : y;
  const HalfGaussian g = half_gaussian(yc);
  const double q = elem::poly2(detail::kScaledTailNdtrNum, yc) / elem::poly2(detail::kScaledTailNdtrDen, yc);
  const double lower = lower_tail_from_parts(y, q, g);
  return x < 0.0 ? lower : 1.0 - lower;
}

// log Phi(x) = log(arg) + add in two stages, so that array loops can run them as two passes
// (each a shorter dependency chain, which the out-of-order core overlaps across iterations):
// log(Q(|x|)) - x^2/2 for x <= 0 (finite down to x = -1.896e154, where the value itself passes
// -DBL_MAX), and log1p(-Phi(-x)) for x > 0. One log per element, no underflowing intermediate.
struct LogNdtrParts {
  double arg;  // argument of the one log
  double add;  // added to its log
};

// The parts of log Phi(x) given q = Q(|x|) (array loops compute Q in a pass of its own).
MIXGRAD_INLINE LogNdtrParts log_ndtr_parts_from_scaled(double x, double q) {
  const double y = std::fabs(x);
  double A, r;
  half_square(y, A, r);
  // Phi(-y) for the right half (y <= 40 matters; beyond, Phi(-y) < 1e-300 is taken as 0).
  std::int64_t n;
  const bool far = A > 800.0;
  const double e = elem::exp_mantissa_sum_minus_one(far ? -800.0 : -A, far ? 0.0 : -r, n);
  const double lower = y > 40.0 ? 0.0 : elem::scale_pow2_down(q + q * e, n);
  const bool right = x > 0.0;
  const double arg = 1.0 - lower;
  // log1p correction c/arg with c the rounding error of 1 - lower (|c| <= 2^-54); 1/arg is
  // replaced by 2 - arg, whose relative error (1-arg)^2/arg costs at most 0.5 ulp of the result.
  const double corr = (-lower - (arg - 1.0)) * (2.0 - arg);
  // -(A + r) is -inf from |x| = 1.9e154 on, and log Phi(-inf) = log(0) + (-inf) (r is NaN there).
  return {right ? arg : q, right ? corr : (x == -elem::kInf ? -elem::kInf : -(A + r))};
}

// Q by the rational form, as ndtr's: over arrays 12% faster than the Chebyshev form in
// 1/(y + 4) (AVX2 copy), and the largest error on the accuracy test's points 4.6 -> 3.2 ulp.
MIXGRAD_INLINE LogNdtrParts log_ndtr_parts(double x) {
  return log_ndtr_parts_from_scaled(x, scaled_lower_tail_rational(std::fabs(x)));
}

// parts.arg is a normal number in [2e-155, 1] except where parts.add decides the result: 0 with
// add = -inf (x = -inf), NaN with add NaN. So the log needs no special cases.
MIXGRAD_INLINE double log_ndtr_from_parts(LogNdtrParts parts) {
  return elem::log_normal(parts.arg) + parts.add;
}

// log Phi(x).
MIXGRAD_INLINE double log_ndtr(double x) {
  return log_ndtr_from_parts(log_ndtr_parts(x));
}

// erfcx(|x|) = 2 Q(|x| sqrt 2), the first stage of erfcx, by the rational form of Q. Past
// |x| = 1e24 (beyond the rational's range, and where x sqrt 2 may overflow) erfcx(x) is
// 1/(x sqrt pi) to double precision, picked by selects so the division stays the only one.
MIXGRAD_INLINE double erfcx_abs(double x) {
  const double ax = std::fabs(x);
  const bool huge = ax > 1e24;
  const double y = huge ? 0.0 : ax * kSqrt2;
  const double num = 2.0 * elem::poly2(detail::kScaledTailNum, y);
  return (huge ? kInvSqrtPi : num) / (huge ? ax : elem::poly2(detail::kScaledTailDen, y));
}

// erfcx(x) given pos = erfcx(|x|): pos for x >= 0; for x < 0, 2 exp(x^2) - pos, which
// overflows to +inf below x ~ -26.63.
MIXGRAD_INLINE double erfcx_from_abs(double x, double pos) {
  const double ax = std::fabs(x);
  const double axc = ax > 27.0 ? 27.0 : ax;
  double A, r;
  half_square(axc, A, r);  // x^2 = 2A + 2r
  std::int64_t n;
  const double pe = 1.0 + elem::exp_mantissa_sum_minus_one(2.0 * A, 2.0 * r, n);
  const double e = elem::scale_pow2_up(pe, n);  // exp(x^2), 0 <= n <= 1052
  const double neg = 2.0 * e - pos;
  return x < 0.0 ? (ax > 26.7 ? elem::kInf : neg) : pos;
}

// erfcx(x) = exp(x^2) erfc(x).
MIXGRAD_INLINE double erfcx(double x) {
  return erfcx_from_abs(x, erfcx_abs(x));
}

// phi(x), the standard normal density, without loss of precision for large |x|: the lower tail's
// form with Q replaced by the constant 1/sqrt(2 pi).
MIXGRAD_INLINE double normal_pdf(double x) {
  return lower_tail_from_scaled(std::fabs(x), kInvSqrt2Pi);
}

// log phi(x).
MIXGRAD_INLINE double normal_logpdf(double x) {
  double A, r;
  half_square(std::fabs(x), A, r);
  return (-kHalfLog2Pi - r) - A;
}

// Inverse Mills ratio phi(x)/Phi(x), finite for all finite x (~ -x on the far left).
MIXGRAD_INLINE double inv_mills(double x) {
  const double y = std::fabs(x);
  const double q = scaled_lower_tail(y);
  // x < 0: phi/Phi = 1/(sqrt(2 pi) Q(y)); x >= 0: phi(x)/(1 - Phi(-x)).
  const double left = 1.0 / (kSqrt2Pi * q);
  const double right = normal_pdf(x) / (1.0 - lower_tail_from_scaled(y, q));
  return x < 0.0 ? left : right;
}

namespace detail {

// Wichura's AS241 rational approximations (Applied Statistics 37, 1988; coefficients as published): central region in
// r = 0.180625 - q^2, and two tail regions in r = sqrt(-log p) - 1.6 and - 5.
MIXGRAD_INLINE double as241_central(double q) {
  const double r = 0.180625 - q * q;
  const double num =
      ((((((2.5090809287301226727e+3 * r + 3.3430575583588128105e+4) * r + 6.7265770927008700853e+4) * r +
          4.5921953931549871457e+4) *
             r +
         1.3731693765509461125e+4) *
            r +
        1.9715909503065514427e+3) *
           r +
       1.3314166789178437745e+2) *
          r +
      3.3871328727963666080e+0;
  const double den =
      ((((((5.2264952788528545610e+3 * r + 2.8729085735721942674e+4) * r + 3.9307895800092710610e+4) * r +
          2.1213794301586595867e+4) *
             r +
         5.3941960214247511077e+3) *
            r +
        6.8718700749205790830e+2) *
           r +
       4.2313330701600911252e+1) *
          r +
      1.0;
  return q * num / den;
}

// Positive quantile magnitude from r = sqrt(-log p) (p the smaller tail mass), r >= 1.13.
MIXGRAD_INLINE double as241_tail(double r) {
  const bool far = r > 5.0;
  const double t = far ? r - 5.0 : r - 1.6;
  // Coefficients of both tail regions, picked per lane so the loop stays branch-free.
  const double c0 = far ? 6.65790464350110377720e+0 : 1.42343711074968357734e+0;
  const double c1 = far ? 5.46378491116411436990e+0 : 4.63033784615654529590e+0;
  const double c2 = far ? 1.78482653991729133580e+0 : 5.76949722146069140550e+0;
  const double c3 = far ? 2.96560571828504891230e-1 : 3.64784832476320460504e+0;
  const double c4 = far ? 2.65321895265761230930e-2 : 1.27045825245236838258e+0;
  const double c5 = far ? 1.24266094738807843860e-3 : 2.41780725177450611770e-1;
  const double c6 = far ? 2.71155556874348757815e-5 : 2.27238449892691845833e-2;
  const double c7 = far ? 2.01033439929228813265e-7 : 7.74545014278341407640e-4;
  const double d1 = far ? 5.99832206555887937690e-1 : 2.05319162663775882187e+0;
  const double d2 = far ? 1.36929880922735805310e-1 : 1.67638483018380384940e+0;
  const double d3 = far ? 1.48753612908506148525e-2 : 6.89767334985100004550e-1;
  const double d4 = far ? 7.86869131145613259100e-4 : 1.48103976427480074590e-1;
  const double d5 = far ? 1.84631831751005468180e-5 : 1.51986665636164571966e-2;
  const double d6 = far ? 1.42151175831644588870e-7 : 5.47593808499534494600e-4;
  const double d7 = far ? 2.04426310338993978564e-15 : 1.05075007164441684324e-9;
  const double num = ((((((c7 * t + c6) * t + c5) * t + c4) * t + c3) * t + c2) * t + c1) * t + c0;
  const double den = ((((((d7 * t + d6) * t + d5) * t + d4) * t + d3) * t + d2) * t + d1) * t + 1.0;
  return num / den;
}

}  // namespace detail

// sqrt(-log(min(p, 1 - p))), the variable of the AS241 tails (0.5 stands in for p outside (0, 1)).
MIXGRAD_INLINE double ndtri_tail_root(double p) {
  const double q = p - 0.5;
  const double pm = q < 0.0 ? p : 1.0 - p;  // 1 - p is exact for p >= 1/2
  const double pm_safe = pm > 0.0 ? pm : 0.5;
  return std::sqrt(-elem::log(pm_safe));
}

// Phi^{-1}(p) outside the central region |p - 1/2| <= kNdtriCentral, given root = ndtri_tail_root(p);
// also the special values: ndtri(0) = -inf, ndtri(1) = inf, NaN outside [0, 1].
MIXGRAD_INLINE double ndtri_tail(double p, double root) {
  // AS241 alone is within 5.2 ulp of the exact quantile (tests/test_special_accuracy.py), so no
  // Newton polish is needed.
  const double mag = detail::as241_tail(root);
  const double v = p < 0.5 ? -mag : mag;
  return p == 0.0 ? -elem::kInf : (p == 1.0 ? elem::kInf : ((p > 0.0 && p < 1.0) ? v : elem::kNaN));
}

// Half-width of ndtri's central region |p - 1/2| <= kNdtriCentral (p in [0.03, 0.97]): wider than
// AS241's 0.425, so that uniform p reach the costly tails (log, square root) half as often.
inline constexpr double kNdtriCentral = 0.47;

// Phi^{-1}(1/2 + q) for |q| <= kNdtriCentral: q P(r)/R(r) in r = 0.47^2 - q^2 (positive
// coefficients, no cancellation). Our minimax-type fit (tools/fit_special_coefficients.py,
// relative error 4.2e-17 before rounding to double). By poly2, as exp: 3-8% faster over arrays on
// Zen 3 (AVX2); max error 4.82 ulp against 4.68 by poly4 over 40,000 uniform p in [0.03, 0.97].
MIXGRAD_INLINE double ndtri_central(double q) {
  static constexpr double num[10] = {
      4.00168852798138481743e+0, 4.28769590818266561400e+2, 1.81165689947603591007e+4, 3.86162901611277731770e+5,
      4.42626461353724752599e+6, 2.70652782095858049740e+7, 8.29906827528314642599e+7, 1.11895292010087238860e+8,
      5.03720347259580626887e+7, 3.34006825177098987183e+6,
  };
  static constexpr double den[10] = {
      1.0,
      1.13196632164001913286e+2,
      5.11032413664043258462e+3,
      1.18163162932510553779e+5,
      1.50014196195335715012e+6,
      1.04663784974976581527e+7,
      3.83013184579706431701e+7,
      6.64360430645553705560e+7,
      4.47959711883307126685e+7,
      7.34186284976298725255e+6,
  };
  const double r = 0.2209 - q * q;
  return q * elem::poly2(num, r) / elem::poly2(den, r);
}

// Phi^{-1}(p). ndtri(0) = -inf, ndtri(1) = inf, NaN outside [0, 1].
MIXGRAD_INLINE double ndtri(double p) {
  const double q = p - 0.5;
  const double central = ndtri_central(q);
  const double tail = ndtri_tail(p, ndtri_tail_root(p));
  return std::fabs(q) <= kNdtriCentral ? central : tail;
}

// (Phi(x) - 1/2) sqrt(2 pi) for x >= 0 without cancellation (series below 1). Scaled so that
// subnormal x give exact sums.
inline double ndtr_minus_half_scaled(double x) {
  if (x < 1.0) {
    // sum_n (-1)^n x^(2n+1) / (2^n n! (2n+1)), 15 terms for 1e-18.
    const double z = -0.5 * x * x;
    double term = x, sum = x;
    for (int n = 1; n < 16; ++n) {
      term *= z / n;
      sum += term / (2 * n + 1);
    }
    return sum;
  }
  return (0.5 - ndtr(-x)) * kSqrt2Pi;
}

inline constexpr double kNdtriExpMin = -700.0;  // below, ndtri_exp takes Newton steps

// The regions of ndtri_exp_moderate, as AS241's: above kNdtriExpUpper p > 0.925, at or below
// kNdtriExpLower p < 0.075, the central region between.
inline constexpr double kNdtriExpUpper = -0.0779615414697118;
inline constexpr double kNdtriExpLower = -2.5902671654458267;

// Phi^{-1}(exp(log_p)) for kNdtriExpMin <= log_p < 0, branch-free. Three regions, as AS241's:
//  p > 0.925 (log_p > kNdtriExpUpper): -ndtri(1 - p) with 1 - p = -expm1(log_p) computed exactly;
//  central: AS241 takes q = p - 1/2 = (exp(log_p + ln 2) - 1)/2, which keeps its relative
//    precision near p = 1/2 (log_p + ln2_hi is exact there), where p itself would not;
//  p < 0.075 (log_p <= kNdtriExpLower): the AS241 tail of r = sqrt(-log p) = sqrt(-log_p), no exp.
// One expm1, one log, one sqrt and both rationals per element, with the arguments selected first.
MIXGRAD_INLINE double ndtri_exp_moderate(double log_p) {
  const bool upper = log_p > kNdtriExpUpper;
  const bool lower = log_p <= kNdtriExpLower;
  const double em = elem::expm1(upper ? log_p : (log_p + elem::kLn2Hi) + elem::kLn2Lo);
  const double central = detail::as241_central(0.5 * em);
  const double log_tail = upper ? elem::log(-em) : log_p;  // log of the smaller tail mass
  const double mag = detail::as241_tail(std::sqrt(-log_tail));
  return upper ? mag : (lower ? -mag : central);
}

// ndtri_exp_moderate in one region each, the same value there with only that region's work,
// for callers that sort their arguments by region (special::arrays::ndtri_exp).
MIXGRAD_INLINE double ndtri_exp_central(double log_p) {
  return detail::as241_central(0.5 * elem::expm1((log_p + elem::kLn2Hi) + elem::kLn2Lo));
}
MIXGRAD_INLINE double ndtri_exp_lower(double log_p) {
  return -detail::as241_tail(std::sqrt(-log_p));
}
MIXGRAD_INLINE double ndtri_exp_upper(double log_p) {
  return detail::as241_tail(std::sqrt(-elem::log(-elem::expm1(log_p))));
}

// Phi^{-1}(exp(log_p)) for log_p <= 0, accurate where p underflows (log_p down to -DBL_MAX).
inline double ndtri_exp(double log_p) {
  if (std::isnan(log_p) || log_p > 0.0) return elem::kNaN;
  if (log_p == 0.0) return elem::kInf;
  if (log_p == -elem::kInf) return -elem::kInf;
  if (log_p >= kNdtriExpMin) return ndtri_exp_moderate(log_p);
  // Start from the asymptotic root of log Phi(x) ~ -x^2/2 - log(-x sqrt(2 pi)), then Newton
  // on log Phi(x) = log_p, whose derivative phi/Phi = 1/(sqrt(2 pi) Q(-x)) never overflows.
  // Written so that no intermediate overflows, down to log_p = -DBL_MAX.
  const double a = -log_p;
  double x = -kSqrt2 * std::sqrt(a - 0.5 * (kLog4Pi + std::log(a)));
  for (int it = 0; it < 8; ++it) {
    const double f = log_ndtr(x) - log_p;
    if (!std::isfinite(f)) break;  // log Phi rounded to -inf next to -DBL_MAX: keep the start
    const double step = f * kSqrt2Pi * scaled_lower_tail(-x);
    x -= step;
    if (std::fabs(step) <= 1e-17 * std::fabs(x)) break;
  }
  return x;
}

// log(Phi(b) - Phi(a)) for a <= b; -inf when a == b, NaN when a > b.
inline double log_ndtr_diff(double a, double b) {
  if (std::isnan(a) || std::isnan(b) || a > b) return elem::kNaN;
  if (a == b) return -elem::kInf;
  if (a >= 0.0) {  // Phi(b) - Phi(a) = Phi(-a) - Phi(-b): move both into the lower tail
    const double t = a;
    a = -b;
    b = -t;
  }
  if (b > 0.0) {  // straddles 0: add the two half-masses, or subtract both tails from 1
    const double mass_s = ndtr_minus_half_scaled(b) + ndtr_minus_half_scaled(-a);  // mass sqrt(2 pi)
    // A tiny mass would be subnormal (and rounded) after the division by sqrt(2 pi): log first.
    if (mass_s < 1e-290) return std::log(mass_s) - kHalfLog2Pi;
    const double mass = mass_s * kInvSqrt2Pi;
    return mass < 0.5 ? std::log(mass) : std::log1p(-(ndtr(a) + ndtr(-b)));
  }
  const double h = 0.5 * (b - a), m = 0.5 * (a + b);
  if (h * std::fmax(1.0, std::fabs(m)) < 0.25) {
    // Close points: integrate phi(m + t) = phi(m) exp(-m t - t^2/2) over [-h, h] by 8-point
    // Gauss-Legendre; the integrand is analytic and nearly flat, so this is exact to rounding.
    static constexpr double nodes[4] = {0.18343464249564978, 0.525532409916329, 0.7966664774136267, 0.9602898564975362};
    static constexpr double weights[4] = {0.36268378337836166, 0.3137066458778869, 0.22238103445337443,
                                          0.10122853629037706};
    double sum = 0.0;
    for (int i = 0; i < 4; ++i) {
      const double t = h * nodes[i];
      sum += weights[i] * (std::exp(-m * t - 0.5 * t * t) + std::exp(m * t - 0.5 * t * t));
    }
    // (b - a) sum/2 rather than h sum: h = (b - a)/2 underflows to 0 for adjacent subnormals.
    return normal_logpdf(m) + (std::log(b - a) + std::log(0.5 * sum));
  }
  const double la = log_ndtr(a), lb = log_ndtr(b);
  if (lb == -elem::kInf) return lb;  // the whole interval lies beyond log Phi = -DBL_MAX
  const double d = la - lb;          // < 0
  const double log1mexp = d > -kLn2 ? std::log(-std::expm1(d)) : std::log1p(-std::exp(d));
  return lb + log1mexp;
}

}  // namespace mixgrad::special
