// Run-time choice of the instruction-set level of the hot kernels.
//
// Each kernel is written once as an always-inline `NAME_kernel` and instantiated by
// MIXGRAD_SIMD_DISPATCH(NAME) into one copy per x86-64 level (v4: AVX-512, v3: AVX2 + FMA, and the
// baseline) plus a dispatcher `NAME` that calls the copy of the active level. Unlike GCC's
// target_clones, whose resolvers run when the module is loaded, the level is ours to set: the
// environment variable MIXGRAD_SIMD_LEVEL at import and mixgrad.set_simd_level() let tests and
// benchmarks run every copy the CPU supports on one machine. The check costs one relaxed atomic
// load per call of a kernel (kernels process a block of samples per call).
#pragma once

#include <atomic>
#include <utility>

namespace mixgrad::cpu {

enum Level : int { baseline = 0, x86_64_v3 = 1, x86_64_v4 = 2 };

#if defined(MIXGRAD_USE_SIMD_DISPATCH) && defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define MIXGRAD_HAVE_SIMD_LEVELS 1
inline int highest_supported_level() {
  __builtin_cpu_init();
  // These names check the OS-enabled register state (XCR0) too, not only CPUID.
  if (__builtin_cpu_supports("x86-64-v4")) return x86_64_v4;
  if (__builtin_cpu_supports("x86-64-v3")) return x86_64_v3;
  return baseline;
}
#else
inline int highest_supported_level() {
  return baseline;
}
#endif

// -1 until the first kernel runs or the module sets it from MIXGRAD_SIMD_LEVEL.
inline std::atomic<int> g_level{-1};

inline int level() {
  int l = g_level.load(std::memory_order_relaxed);
  if (l < 0) {
    l = highest_supported_level();
    g_level.store(l, std::memory_order_relaxed);
  }
  return l;
}

}  // namespace mixgrad::cpu

#if defined(MIXGRAD_HAVE_SIMD_LEVELS)
#define MIXGRAD_SIMD_DISPATCH(NAME)                                                  \
  template <class... A>                                                              \
  __attribute__((target("arch=x86-64-v4"))) inline auto NAME##_x86_64_v4(A&&... a) { \
    return NAME##_kernel(std::forward<A>(a)...);                                     \
  }                                                                                  \
  template <class... A>                                                              \
  __attribute__((target("arch=x86-64-v3"))) inline auto NAME##_x86_64_v3(A&&... a) { \
    return NAME##_kernel(std::forward<A>(a)...);                                     \
  }                                                                                  \
  template <class... A>                                                              \
  inline auto NAME##_baseline(A&&... a) {                                            \
    return NAME##_kernel(std::forward<A>(a)...);                                     \
  }                                                                                  \
  template <class... A>                                                              \
  inline auto NAME(A&&... a) {                                                       \
    switch (::mixgrad::cpu::level()) {                                               \
      case ::mixgrad::cpu::x86_64_v4:                                                \
        return NAME##_x86_64_v4(std::forward<A>(a)...);                              \
      case ::mixgrad::cpu::x86_64_v3:                                                \
        return NAME##_x86_64_v3(std::forward<A>(a)...);                              \
      default:                                                                       \
        return NAME##_baseline(std::forward<A>(a)...);                               \
    }                                                                                \
  }
#else
#define MIXGRAD_SIMD_DISPATCH(NAME)              \
  template <class... A>                          \
  inline auto NAME(A&&... a) {                   \
    return NAME##_kernel(std::forward<A>(a)...); \
  }
#endif
