// Bindings of the diagonal Gaussian mixture kernels (mixgrad/mixture.hpp). The Python layer
// (mixgrad/mixture.py) checks parameter domains and reshapes; here shapes are checked again,
// outputs allocated, and the kernels run without the GIL.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <array>
#include <string>
#include <tuple>

#include "array_helpers.hpp"
#include "mixgrad/mixture.hpp"

namespace py = pybind11;
using mixgrad::bind::carray;
using mixgrad::bind::shape_str;
namespace mx = mixgrad::mixture;

namespace {

// logits (B, K), means and scales (B, K, D).
template <class T>
mx::Args<T> params(const carray<T>& logits, const carray<T>& means, const carray<T>& scales) {
  if (logits.ndim() != 2) throw py::value_error("logits: expected shape (B, K), got " + shape_str(logits));
  if (means.ndim() != 3) throw py::value_error("means: expected shape (B, K, D), got " + shape_str(means));
  if (scales.ndim() != 3 || scales.shape(0) != means.shape(0) || scales.shape(1) != means.shape(1) ||
      scales.shape(2) != means.shape(2))
    throw py::value_error("scales: expected the shape of means " + shape_str(means) + ", got " + shape_str(scales));
  if (logits.shape(0) != means.shape(0) || logits.shape(1) != means.shape(1))
    throw py::value_error("logits: expected shape " + std::to_string(means.shape(0)) + ", " +
                          std::to_string(means.shape(1)) + " to match means, got " + shape_str(logits));
  mx::Args<T> a;
  a.dm.B = static_cast<std::size_t>(means.shape(0));
  a.dm.K = static_cast<std::size_t>(means.shape(1));
  a.dm.D = static_cast<std::size_t>(means.shape(2));
  if (a.dm.B == 0 || a.dm.K == 0 || a.dm.D == 0) throw py::value_error("means: B, K and D must be positive");
  a.logits = logits.data();
  a.means = means.data();
  a.scales = scales.data();
  return a;
}

// x (N, D) with N a multiple of B.
template <class T>
void rows(mx::Args<T>& a, const carray<T>& x, const char* name) {
  if (x.ndim() != 2 || static_cast<std::size_t>(x.shape(1)) != a.dm.D || x.shape(0) % a.dm.B != 0)
    throw py::value_error(std::string(name) + ": expected shape (S*" + std::to_string(a.dm.B) + ", " +
                          std::to_string(a.dm.D) + "), got " + shape_str(x));
  a.S = static_cast<std::size_t>(x.shape(0)) / a.dm.B;
}

// (s0, b0, B_whole, S_whole): where the rows sit in a larger call (mx::Window; zeros: nowhere).
using WindowArg = std::array<std::size_t, 4>;

// After a.dm and a.S are set.
template <class T>
void set_window(mx::Args<T>& a, const WindowArg& w) {
  mx::Window win{w[0], w[1], w[2], w[3]};
  const std::size_t B_whole = win.B_whole ? win.B_whole : a.dm.B;
  if (win.b0 > B_whole || a.dm.B > B_whole - win.b0)
    throw py::value_error("window: mixtures [" + std::to_string(win.b0) + ", " + std::to_string(win.b0 + a.dm.B) +
                          ") outside a batch of " + std::to_string(B_whole));
  if (win.S_whole && (win.s0 > win.S_whole || a.S > win.S_whole - win.s0))
    throw py::value_error("window: samples [" + std::to_string(win.s0) + ", " + std::to_string(win.s0 + a.S) +
                          ") outside " + std::to_string(win.S_whole));
  a.win = win;
}

// log_prob (one value per row of x) or cdf_transform, log_tail (D values per row).
template <class T, mx::Op OP>
carray<T> per_row_op(carray<T> logits, carray<T> means, carray<T> scales, carray<T> x, int nthreads,
                     const WindowArg& window) {
  auto a = params(logits, means, scales);
  rows(a, x, "x");
  set_window(a, window);
  a.x = x.data();
  constexpr bool kScalar = OP == mx::Op::LogProb;
  carray<T> out = kScalar ? carray<T>(x.shape(0)) : carray<T>({x.shape(0), x.shape(1)});
  T* o = out.mutable_data();
  {
    py::gil_scoped_release release;
    mx::per_row<OP>(a, o, kScalar ? 1 : a.dm.D, nthreads);
  }
  return out;
}

template <class T>
void def_all(py::module_& m) {
  m.def("mixture_log_prob", &per_row_op<T, mx::Op::LogProb>, py::arg("logits").noconvert(),
        py::arg("means").noconvert(), py::arg("scales").noconvert(), py::arg("x").noconvert(), py::arg("nthreads") = 0,
        py::arg("window") = WindowArg{});
  m.def("mixture_cdf_transform", &per_row_op<T, mx::Op::Cdf>, py::arg("logits").noconvert(),
        py::arg("means").noconvert(), py::arg("scales").noconvert(), py::arg("x").noconvert(), py::arg("nthreads") = 0,
        py::arg("window") = WindowArg{});
  m.def("mixture_log_tail", &per_row_op<T, mx::Op::LogTail>, py::arg("logits").noconvert(),
        py::arg("means").noconvert(), py::arg("scales").noconvert(), py::arg("x").noconvert(), py::arg("nthreads") = 0,
        py::arg("window") = WindowArg{});
  m.def(
      "mixture_quantile",
      [](carray<T> logits, carray<T> means, carray<T> scales, carray<T> u, int nthreads, bool log_tail) {
        auto a = params(logits, means, scales);
        rows(a, u, "u");
        carray<T> out({u.shape(0), u.shape(1)});
        T* o = out.mutable_data();
        const T* up = u.data();
        {
          py::gil_scoped_release release;
          mx::quantile(a, up, o, nthreads, log_tail);
        }
        return out;
      },
      py::arg("logits").noconvert(), py::arg("means").noconvert(), py::arg("scales").noconvert(),
      py::arg("u").noconvert(), py::arg("nthreads") = 0, py::arg("log_tail") = false);
  m.def(
      "mixture_sample",
      [](carray<T> logits, carray<T> means, carray<T> scales, std::size_t n_per_mixture, std::uint32_t k0,
         std::uint32_t k1, int nthreads, const WindowArg& window) {
        auto a = params(logits, means, scales);
        a.S = n_per_mixture;
        set_window(a, window);
        carray<T> out({static_cast<py::ssize_t>(a.S * a.dm.B), static_cast<py::ssize_t>(a.dm.D)});
        T* o = out.mutable_data();
        {
          py::gil_scoped_release release;
          mx::sample(a, mixgrad::philox::Key{k0, k1}, o, nthreads);
        }
        return out;
      },
      py::arg("logits").noconvert(), py::arg("means").noconvert(), py::arg("scales").noconvert(),
      py::arg("n_per_mixture"), py::arg("k0"), py::arg("k1"), py::arg("nthreads") = 0, py::arg("window") = WindowArg{});
  m.def(
      "mixture_vjp",
      [](carray<T> logits, carray<T> means, carray<T> scales, carray<T> x, carray<T> grad_x, int nthreads,
         const WindowArg& window) {
        auto a = params(logits, means, scales);
        rows(a, x, "x");
        set_window(a, window);
        if (grad_x.ndim() != 2 || grad_x.shape(0) != x.shape(0) || grad_x.shape(1) != x.shape(1))
          throw py::value_error("grad_x: expected the shape of x " + shape_str(x) + ", got " + shape_str(grad_x));
        a.x = x.data();
        a.gx = grad_x.data();
        carray<T> ga({logits.shape(0), logits.shape(1)});
        carray<T> gmu({means.shape(0), means.shape(1), means.shape(2)});
        carray<T> gs({means.shape(0), means.shape(1), means.shape(2)});
        T* pa = ga.mutable_data();
        T* pm = gmu.mutable_data();
        T* ps = gs.mutable_data();
        {
          py::gil_scoped_release release;
          mx::vjp(a, pa, pm, ps, nthreads);
        }
        return std::make_tuple(ga, gmu, gs);
      },
      py::arg("logits").noconvert(), py::arg("means").noconvert(), py::arg("scales").noconvert(),
      py::arg("x").noconvert(), py::arg("grad_x").noconvert(), py::arg("nthreads") = 0,
      py::arg("window") = WindowArg{});
  m.def(
      "mixture_sample_vjp",
      [](carray<T> logits, carray<T> means, carray<T> scales, std::size_t n_per_mixture, std::uint32_t k0,
         std::uint32_t k1, carray<T> grad_x, int nthreads, const WindowArg& window) {
        auto a = params(logits, means, scales);
        a.S = n_per_mixture;
        set_window(a, window);
        const auto N = static_cast<py::ssize_t>(a.S * a.dm.B), D = static_cast<py::ssize_t>(a.dm.D);
        if (grad_x.ndim() != 2 || grad_x.shape(0) != N || grad_x.shape(1) != D)
          throw py::value_error("grad_x: expected shape (" + std::to_string(N) + ", " + std::to_string(D) + "), got " +
                                shape_str(grad_x));
        a.gx = grad_x.data();
        carray<T> x({N, D});
        carray<T> ga({logits.shape(0), logits.shape(1)});
        carray<T> gmu({means.shape(0), means.shape(1), means.shape(2)});
        carray<T> gs({means.shape(0), means.shape(1), means.shape(2)});
        T* px = x.mutable_data();
        T* pa = ga.mutable_data();
        T* pm = gmu.mutable_data();
        T* ps = gs.mutable_data();
        {
          py::gil_scoped_release release;
          mx::sample_vjp(a, mixgrad::philox::Key{k0, k1}, px, pa, pm, ps, nthreads);
        }
        return std::make_tuple(x, ga, gmu, gs);
      },
      py::arg("logits").noconvert(), py::arg("means").noconvert(), py::arg("scales").noconvert(),
      py::arg("n_per_mixture"), py::arg("k0"), py::arg("k1"), py::arg("grad_x").noconvert(), py::arg("nthreads") = 0,
      py::arg("window") = WindowArg{});
  m.def(
      "mixture_jvp",
      [](carray<T> logits, carray<T> means, carray<T> scales, carray<T> x, carray<T> t_logits, carray<T> t_means,
         carray<T> t_scales, int nthreads) {
        auto a = params(logits, means, scales);
        rows(a, x, "x");
        if (t_logits.ndim() != 2 || t_logits.shape(0) != logits.shape(0) || t_logits.shape(1) != logits.shape(1))
          throw py::value_error("tangents.logits: expected shape " + shape_str(logits) + ", got " +
                                shape_str(t_logits));
        for (const auto* t : {&t_means, &t_scales})
          if (t->ndim() != 3 || t->shape(0) != means.shape(0) || t->shape(1) != means.shape(1) ||
              t->shape(2) != means.shape(2))
            throw py::value_error(std::string(t == &t_means ? "tangents.means" : "tangents.scales") +
                                  ": expected shape " + shape_str(means) + ", got " + shape_str(*t));
        a.x = x.data();
        a.ta = t_logits.data();
        a.tmu = t_means.data();
        a.ts = t_scales.data();
        carray<T> out({x.shape(0), x.shape(1)});
        T* o = out.mutable_data();
        {
          py::gil_scoped_release release;
          mx::per_row<mx::Op::Jvp>(a, o, a.dm.D, nthreads);
        }
        return out;
      },
      py::arg("logits").noconvert(), py::arg("means").noconvert(), py::arg("scales").noconvert(),
      py::arg("x").noconvert(), py::arg("t_logits").noconvert(), py::arg("t_means").noconvert(),
      py::arg("t_scales").noconvert(), py::arg("nthreads") = 0);
}

}  // namespace

void register_mixture(py::module_& m) {
  def_all<double>(m);
  def_all<float>(m);
}
