// Bindings of the normal special functions over contiguous float32/float64 buffers. The Python
// layer (mixgrad/special.py) does broadcasting, dtype casting and `out=` handling.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "array_helpers.hpp"
#include "mixgrad/mixture/relative_exp.hpp"
#include "mixgrad/parallel.hpp"
#include "mixgrad/special_arrays.hpp"

namespace py = pybind11;
using mixgrad::bind::carray;

namespace {

constexpr std::size_t kBlock = 4096;           // elements per parallel block
constexpr std::size_t kMinParallel = 1 << 15;  // below this, one thread is faster

template <class T, void (*Kernel)(const T*, T*, std::size_t)>
void def_unary(py::module_& m, const char* name) {
  m.def(
      name,
      [](carray<T> x, std::optional<carray<T>> out, int nthreads) {
        carray<T> y = mixgrad::bind::output_like<T>(x, out);
        const T* xp = x.data();
        T* yp = y.mutable_data();
        const std::size_t n = static_cast<std::size_t>(x.size());
        {
          py::gil_scoped_release release;
          mixgrad::parallel::for_blocks(n, kBlock, nthreads, kMinParallel,
                                        [&](std::size_t b, std::size_t e) { Kernel(xp + b, yp + b, e - b); });
        }
        return y;
      },
      py::arg("x").noconvert(), py::arg("out") = py::none(), py::arg("nthreads") = 0);
}

template <class T>
void def_binary_diff(py::module_& m, const char* name) {
  m.def(
      name,
      [](carray<T> a, carray<T> b, std::optional<carray<T>> out, int nthreads) {
        if (a.size() != b.size()) throw py::value_error("a and b must have the same number of elements");
        carray<T> y = mixgrad::bind::output_like<T>(a, out);
        const T* ap = a.data();
        const T* bp = b.data();
        T* yp = y.mutable_data();
        const std::size_t n = static_cast<std::size_t>(a.size());
        {
          py::gil_scoped_release release;
          mixgrad::parallel::for_blocks(n, kBlock, nthreads, kMinParallel, [&](std::size_t s, std::size_t e) {
            mixgrad::special::arrays::log_ndtr_diff<T>(ap + s, bp + s, yp + s, e - s);
          });
        }
        return y;
      },
      py::arg("a").noconvert(), py::arg("b").noconvert(), py::arg("out") = py::none(), py::arg("nthreads") = 0);
}

template <class T>
void ndtr_k(const T* x, T* y, std::size_t n) {
  mixgrad::special::arrays::ndtr(x, y, n);
}
template <class T>
void log_ndtr_k(const T* x, T* y, std::size_t n) {
  mixgrad::special::arrays::log_ndtr<T>(x, y, n);
}
template <class T>
void ndtri_k(const T* x, T* y, std::size_t n) {
  mixgrad::special::arrays::ndtri<T>(x, y, n);
}
template <class T>
void erfcx_k(const T* x, T* y, std::size_t n) {
  mixgrad::special::arrays::erfcx(x, y, n);
}
template <class T>
void ndtri_exp_k(const T* x, T* y, std::size_t n) {
  mixgrad::special::arrays::ndtri_exp<T>(x, y, n);
}

template <class T>
void def_all(py::module_& m) {
  def_unary<T, ndtr_k<T>>(m, "ndtr");
  def_unary<T, log_ndtr_k<T>>(m, "log_ndtr");
  def_unary<T, ndtri_k<T>>(m, "ndtri");
  def_unary<T, erfcx_k<T>>(m, "erfcx");
  def_unary<T, ndtri_exp_k<T>>(m, "ndtri_exp");
  def_binary_diff<T>(m, "log_ndtr_diff");
}

// The quantile solver's rough forms (mixture/diag/quantile.hpp), element by element, for the tests
// that hold them to their stated accuracy.
template <double (*Fn)(double)>
void def_rough(py::module_& m, const char* name) {
  m.def(
      name,
      [](carray<double> x) {
        std::optional<carray<double>> none;
        carray<double> y = mixgrad::bind::output_like<double>(x, none);
        const double* xp = x.data();
        double* yp = y.mutable_data();
        for (py::ssize_t i = 0; i < x.size(); ++i) yp[i] = Fn(xp[i]);
        return y;
      },
      py::arg("x").noconvert());
}

}  // namespace

void register_special(py::module_& m) {
  def_all<double>(m);
  def_all<float>(m);
  def_rough<mixgrad::special::scaled_lower_tail_rough>(m, "_scaled_lower_tail_rough");
  def_rough<mixgrad::mixture::relative_exp<true>>(m, "_relative_exp_rough");
}
