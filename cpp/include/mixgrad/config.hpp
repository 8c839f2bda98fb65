// Compiler switches shared by all kernels: inlining and run-time ISA dispatch.
#pragma once

#if defined(__GNUC__)
#define MIXGRAD_INLINE inline __attribute__((always_inline))
#else
#define MIXGRAD_INLINE inline
#endif

// Hot loops are compiled for x86-64-v4 (AVX-512: 8 doubles a register, 32 registers, which
// halves the time of the long polynomial kernels), x86-64-v3 (AVX2 + FMA) and a baseline, and one
// copy is chosen at run time (cpu_dispatch.hpp). The default build stays portable (no
// -march=native).
#include "mixgrad/cpu_dispatch.hpp"

// The body of a dispatched kernel (MIXGRAD_SIMD_DISPATCH): always inlined, so that each copy
// compiles it for its own instruction set (callees it needs vectorized must be MIXGRAD_INLINE).
#define MIXGRAD_SIMD_KERNEL MIXGRAD_INLINE
