// Bindings of the full-covariance Gaussian mixture kernels (mixgrad/mixture/full/). The Python
// layer (mixgrad/mixture_full.py) checks parameter domains and reshapes; here shapes are checked
// again, outputs allocated, and the kernels run without the GIL.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>
#include <tuple>

#include "array_helpers.hpp"
#include "mixgrad/mixture.hpp"

namespace py = pybind11;
using mixgrad::bind::carray;
using mixgrad::bind::shape_str;
namespace mx = mixgrad::mixture;

namespace {

// logits (B, K), means (B, K, D), scale_tril (B, K, D, D).
template <class T>
mx::TrilArgs<T> params(const carray<T>& logits, const carray<T>& means, const carray<T>& tril) {
  if (logits.ndim() != 2) throw py::value_error("logits: expected shape (B, K), got " + shape_str(logits));
  if (means.ndim() != 3) throw py::value_error("means: expected shape (B, K, D), got " + shape_str(means));
  if (tril.ndim() != 4 || tril.shape(0) != means.shape(0) || tril.shape(1) != means.shape(1) ||
      tril.shape(2) != means.shape(2) || tril.shape(3) != means.shape(2))
    throw py::value_error("scale_tril: expected shape (B, K, D, D) to match means " + shape_str(means) + ", got " +
                          shape_str(tril));
  if (logits.shape(0) != means.shape(0) || logits.shape(1) != means.shape(1))
    throw py::value_error("logits: expected shape (B, K) to match means " + shape_str(means) + ", got " +
                          shape_str(logits));
  mx::TrilArgs<T> a;
  a.dm.B = static_cast<std::size_t>(means.shape(0));
  a.dm.K = static_cast<std::size_t>(means.shape(1));
  a.dm.D = static_cast<std::size_t>(means.shape(2));
  if (a.dm.B == 0 || a.dm.K == 0 || a.dm.D == 0) throw py::value_error("means: B, K and D must be positive");
  a.logits = logits.data();
  a.means = means.data();
  a.tril = tril.data();
  return a;
}

// x (N, D) with N a multiple of B.
template <class T>
void rows(mx::TrilArgs<T>& a, const carray<T>& x, const char* name) {
  if (x.ndim() != 2 || static_cast<std::size_t>(x.shape(1)) != a.dm.D || x.shape(0) % a.dm.B != 0)
    throw py::value_error(std::string(name) + ": expected shape (S*" + std::to_string(a.dm.B) + ", " +
                          std::to_string(a.dm.D) + "), got " + shape_str(x));
  a.S = static_cast<std::size_t>(x.shape(0)) / a.dm.B;
}

void same_shape(const py::array& g, const py::array& like, const std::string& name, const std::string& of) {
  bool ok = g.ndim() == like.ndim();
  for (py::ssize_t i = 0; ok && i < g.ndim(); ++i) ok = g.shape(i) == like.shape(i);
  if (!ok)
    throw py::value_error(name + ": expected the shape of " + of + " " + shape_str(like) + ", got " + shape_str(g));
}

// log_prob (one value per row of x) or cdf_transform, log_tail (D values per row).
template <class T, mx::Op OP>
carray<T> per_row_op(carray<T> logits, carray<T> means, carray<T> tril, carray<T> x, int nthreads) {
  auto a = params(logits, means, tril);
  rows(a, x, "x");
  a.x = x.data();
  constexpr bool kScalar = OP == mx::Op::LogProb;
  carray<T> out = kScalar ? carray<T>(x.shape(0)) : carray<T>({x.shape(0), x.shape(1)});
  T* o = out.mutable_data();
  {
    py::gil_scoped_release release;
    mx::tril_per_row<OP>(a, o, kScalar ? 1 : a.dm.D, nthreads);
  }
  return out;
}

template <class T>
std::tuple<carray<T>, carray<T>, carray<T>> grads_like(const carray<T>& logits, const carray<T>& means,
                                                       const carray<T>& tril) {
  return {carray<T>({logits.shape(0), logits.shape(1)}), carray<T>({means.shape(0), means.shape(1), means.shape(2)}),
          carray<T>({tril.shape(0), tril.shape(1), tril.shape(2), tril.shape(3)})};
}

template <class T>
void def_all(py::module_& m) {
  m.def("mixture_full_log_prob", &per_row_op<T, mx::Op::LogProb>, py::arg("logits").noconvert(),
        py::arg("means").noconvert(), py::arg("scale_tril").noconvert(), py::arg("x").noconvert(),
        py::arg("nthreads") = 0);
  m.def("mixture_full_cdf_transform", &per_row_op<T, mx::Op::Cdf>, py::arg("logits").noconvert(),
        py::arg("means").noconvert(), py::arg("scale_tril").noconvert(), py::arg("x").noconvert(),
        py::arg("nthreads") = 0);
  m.def("mixture_full_log_tail", &per_row_op<T, mx::Op::LogTail>, py::arg("logits").noconvert(),
        py::arg("means").noconvert(), py::arg("scale_tril").noconvert(), py::arg("x").noconvert(),
        py::arg("nthreads") = 0);
  m.def(
      "mixture_full_quantile",
      [](carray<T> logits, carray<T> means, carray<T> tril, carray<T> u, int nthreads, bool log_tail) {
        auto a = params(logits, means, tril);
        rows(a, u, "u");
        carray<T> out({u.shape(0), u.shape(1)});
        T* o = out.mutable_data();
        const T* up = u.data();
        {
          py::gil_scoped_release release;
          mx::tril_quantile(a, up, o, nthreads, log_tail);
        }
        return out;
      },
      py::arg("logits").noconvert(), py::arg("means").noconvert(), py::arg("scale_tril").noconvert(),
      py::arg("u").noconvert(), py::arg("nthreads") = 0, py::arg("log_tail") = false);
  m.def(
      "mixture_full_sample",
      [](carray<T> logits, carray<T> means, carray<T> tril, std::size_t n_per_mixture, std::uint32_t k0,
         std::uint32_t k1, int nthreads) {
        auto a = params(logits, means, tril);
        a.S = n_per_mixture;
        carray<T> out({static_cast<py::ssize_t>(a.S * a.dm.B), static_cast<py::ssize_t>(a.dm.D)});
        T* o = out.mutable_data();
        {
          py::gil_scoped_release release;
          mx::tril_sample(a, mixgrad::philox::Key{k0, k1}, o, nthreads);
        }
        return out;
      },
      py::arg("logits").noconvert(), py::arg("means").noconvert(), py::arg("scale_tril").noconvert(),
      py::arg("n_per_mixture"), py::arg("k0"), py::arg("k1"), py::arg("nthreads") = 0);
  m.def(
      "mixture_full_vjp",
      [](carray<T> logits, carray<T> means, carray<T> tril, carray<T> x, carray<T> grad_x, int nthreads) {
        auto a = params(logits, means, tril);
        rows(a, x, "x");
        same_shape(grad_x, x, "grad_x", "x");
        a.x = x.data();
        a.gx = grad_x.data();
        auto [ga, gmu, gl] = grads_like(logits, means, tril);
        T* pa = ga.mutable_data();
        T* pm = gmu.mutable_data();
        T* pl = gl.mutable_data();
        {
          py::gil_scoped_release release;
          mx::tril_vjp(a, pa, pm, pl, nthreads);
        }
        return std::make_tuple(ga, gmu, gl);
      },
      py::arg("logits").noconvert(), py::arg("means").noconvert(), py::arg("scale_tril").noconvert(),
      py::arg("x").noconvert(), py::arg("grad_x").noconvert(), py::arg("nthreads") = 0);
  m.def(
      "mixture_full_sample_vjp",
      [](carray<T> logits, carray<T> means, carray<T> tril, std::size_t n_per_mixture, std::uint32_t k0,
         std::uint32_t k1, carray<T> grad_x, int nthreads) {
        auto a = params(logits, means, tril);
        a.S = n_per_mixture;
        const auto N = static_cast<py::ssize_t>(a.S * a.dm.B), D = static_cast<py::ssize_t>(a.dm.D);
        carray<T> x({N, D});
        same_shape(grad_x, x, "grad_x", "the samples");
        a.gx = grad_x.data();
        auto [ga, gmu, gl] = grads_like(logits, means, tril);
        T* px = x.mutable_data();
        T* pa = ga.mutable_data();
        T* pm = gmu.mutable_data();
        T* pl = gl.mutable_data();
        {
          py::gil_scoped_release release;
          mx::tril_sample_vjp(a, mixgrad::philox::Key{k0, k1}, px, pa, pm, pl, nthreads);
        }
        return std::make_tuple(x, ga, gmu, gl);
      },
      py::arg("logits").noconvert(), py::arg("means").noconvert(), py::arg("scale_tril").noconvert(),
      py::arg("n_per_mixture"), py::arg("k0"), py::arg("k1"), py::arg("grad_x").noconvert(), py::arg("nthreads") = 0);
  m.def(
      "mixture_full_jvp",
      [](carray<T> logits, carray<T> means, carray<T> tril, carray<T> x, carray<T> t_logits, carray<T> t_means,
         carray<T> t_tril, int nthreads) {
        auto a = params(logits, means, tril);
        rows(a, x, "x");
        same_shape(t_logits, logits, "tangents.logits", "logits");
        same_shape(t_means, means, "tangents.means", "means");
        same_shape(t_tril, tril, "tangents.scale_tril", "scale_tril");
        a.x = x.data();
        a.ta = t_logits.data();
        a.tmu = t_means.data();
        a.ttril = t_tril.data();
        carray<T> out({x.shape(0), x.shape(1)});
        T* o = out.mutable_data();
        {
          py::gil_scoped_release release;
          mx::tril_per_row<mx::Op::Jvp>(a, o, a.dm.D, nthreads);
        }
        return out;
      },
      py::arg("logits").noconvert(), py::arg("means").noconvert(), py::arg("scale_tril").noconvert(),
      py::arg("x").noconvert(), py::arg("t_logits").noconvert(), py::arg("t_means").noconvert(),
      py::arg("t_scale_tril").noconvert(), py::arg("nthreads") = 0);
}

}  // namespace

void register_mixture_full(py::module_& m) {
  def_all<double>(m);
  def_all<float>(m);
}
