// Bindings of the counter-based generator: fill arrays so that element i depends only on
// (key, stream, start + i).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>

#include "array_helpers.hpp"
#include "mixgrad/parallel.hpp"
#include "mixgrad/philox.hpp"

namespace py = pybind11;
using mixgrad::bind::carray;

namespace {

constexpr std::size_t kBlock = 4096;
constexpr std::size_t kMinParallel = 1 << 14;

MIXGRAD_SIMD_KERNEL void fill_uniform_kernel(mixgrad::philox::Key key, std::uint32_t stream, std::uint64_t start,
                                             double* out, std::size_t n) {
#pragma omp simd
  for (std::size_t i = 0; i < n; ++i) out[i] = mixgrad::philox::uniform(key, start + i, 0, stream);
}

MIXGRAD_SIMD_DISPATCH(fill_uniform)

MIXGRAD_SIMD_KERNEL void fill_uniform_f32_kernel(mixgrad::philox::Key key, std::uint32_t stream, std::uint64_t start,
                                                 float* out, std::size_t n) {
#pragma omp simd
  for (std::size_t i = 0; i < n; ++i) out[i] = mixgrad::philox::uniform_f32(key, start + i, 0, stream);
}

MIXGRAD_SIMD_DISPATCH(fill_uniform_f32)

MIXGRAD_SIMD_KERNEL void fill_normal_kernel(mixgrad::philox::Key key, std::uint32_t stream, std::uint64_t start,
                                            double* out, std::size_t n) {
#pragma omp simd
  for (std::size_t i = 0; i < n; ++i) out[i] = mixgrad::philox::normal(key, start + i, 0, stream);
}

MIXGRAD_SIMD_DISPATCH(fill_normal)

template <class T, class Fill>
void def_fill(py::module_& m, const char* name, Fill fill) {
  m.def(
      name,
      [fill](carray<T> out, std::uint32_t k0, std::uint32_t k1, std::uint32_t stream, int nthreads) {
        T* p = out.mutable_data();
        const std::size_t n = static_cast<std::size_t>(out.size());
        const mixgrad::philox::Key key{k0, k1};
        py::gil_scoped_release release;
        mixgrad::parallel::for_blocks(n, kBlock, nthreads, kMinParallel,
                                      [&](std::size_t b, std::size_t e) { fill(key, stream, b, p + b, e - b); });
      },
      py::arg("out").noconvert(), py::arg("k0"), py::arg("k1"), py::arg("stream") = 0, py::arg("nthreads") = 0);
}

}  // namespace

void register_random(py::module_& m) {
  def_fill<double>(m, "fill_uniform", [](auto... a) { fill_uniform(a...); });
  // float32 out: drawn in float32, never rounded to 1
  def_fill<float>(m, "fill_uniform", [](auto... a) { fill_uniform_f32(a...); });
  def_fill<double>(m, "fill_normal", [](auto... a) { fill_normal(a...); });
  m.def(
      "philox4x32_10",
      [](std::array<std::uint32_t, 4> counter, std::array<std::uint32_t, 2> key) {
        return mixgrad::philox::philox4x32_10(counter, mixgrad::philox::Key{key[0], key[1]});
      },
      py::arg("counter"), py::arg("key"), "One raw Philox4x32-10 block (for known-answer tests).");
}
