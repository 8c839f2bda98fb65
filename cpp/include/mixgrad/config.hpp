// Compiler switches shared by all kernels: inlining and run-time ISA dispatch.
#pragma once

#if defined(__GNUC__)
#define MIXGRAD_INLINE inline __attribute__((always_inline))
#else
#define MIXGRAD_INLINE inline
#endif

// Hot loops are compiled for x86-64-v4 (AVX-512: 8 doubles a register, 32 registers, which
// halves the time of the long polynomial kernels), x86-64-v3 (AVX2 + FMA) and a baseline; the
// loader picks one when the module is imported. The default build stays portable (no
// -march=native).
#if defined(MIXGRAD_USE_TARGET_CLONES) && defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define MIXGRAD_SIMD_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define MIXGRAD_SIMD_CLONES
#endif
