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

MIXGRAD_SIMD_CLONES void fill_uniform(mixgrad::philox::Key key, std::uint32_t stream, std::uint64_t start, double* out,
                                      std::size_t n) {
#pragma omp simd
  for (std::size_t i = 0; i < n; ++i) out[i] = mixgrad::philox::uniform(key, start + i, 0, stream);
}

MIXGRAD_SIMD_CLONES void fill_uniform_f32(mixgrad::philox::Key key, std::uint32_t stream, std::uint64_t start,
                                          float* out, std::size_t n) {
#pragma omp simd
  for (std::size_t i = 0; i < n; ++i) out[i] = mixgrad::philox::uniform_f32(key, start + i, 0, stream);
}

MIXGRAD_SIMD_CLONES void fill_normal(mixgrad::philox::Key key, std::uint32_t stream, std::uint64_t start, double* out,
                                     std::size_t n) {
#pragma omp simd
  for (std::size_t i = 0; i < n; ++i) out[i] = mixgrad::philox::normal(key, start + i, 0, stream);
}

template <class T, void (*Fill)(mixgrad::philox::Key, std::uint32_t, std::uint64_t, T*, std::size_t)>
void def_fill(py::module_& m, const char* name) {
  m.def(
      name,
      [](carray<T> out, std::uint32_t k0, std::uint32_t k1, std::uint32_t stream, int nthreads) {
        T* p = out.mutable_data();
        const std::size_t n = static_cast<std::size_t>(out.size());
        const mixgrad::philox::Key key{k0, k1};
        py::gil_scoped_release release;
        mixgrad::parallel::for_blocks(n, kBlock, nthreads, kMinParallel,
                                      [&](std::size_t b, std::size_t e) { Fill(key, stream, b, p + b, e - b); });
      },
      py::arg("out").noconvert(), py::arg("k0"), py::arg("k1"), py::arg("stream") = 0, py::arg("nthreads") = 0);
}

}  // namespace

void register_random(py::module_& m) {
  def_fill<double, fill_uniform>(m, "fill_uniform");
  def_fill<float, fill_uniform_f32>(m, "fill_uniform");  // float32 out: drawn in float32, never rounded to 1
  def_fill<double, fill_normal>(m, "fill_normal");
  m.def(
      "philox4x32_10",
      [](std::array<std::uint32_t, 4> counter, std::array<std::uint32_t, 2> key) {
        return mixgrad::philox::philox4x32_10(counter, mixgrad::philox::Key{key[0], key[1]});
      },
      py::arg("counter"), py::arg("key"), "One raw Philox4x32-10 block (for known-answer tests).");
}
