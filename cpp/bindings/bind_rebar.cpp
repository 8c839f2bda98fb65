// Bindings of the discrete-gradient estimators (REBAR and peers), their noise transforms, exact
// enumeration, and the GMM component-density table. The Python layer (mixgrad/estimators.py,
// discrete.py, objectives.py) validates user input; here sizes are checked again before the GIL
// is released.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "array_helpers.hpp"
#include "mixgrad/discrete.hpp"
#include "mixgrad/discrete/arms.hpp"
#include "mixgrad/objectives.hpp"
#include "mixgrad/parallel.hpp"

namespace py = pybind11;
using mixgrad::bind::carray;
namespace rb = mixgrad::rebar;
namespace obj = mixgrad::objectives;

namespace {

using OptArr = std::optional<carray<double>>;

void need_size(const OptArr& a, std::size_t n, const char* name) {
  if (!a) throw py::value_error(std::string("objective array ") + name + " is required");
  if (static_cast<std::size_t>(a->size()) != n)
    throw py::value_error(std::string("objective array ") + name + ": expected " + std::to_string(n) +
                          " elements, got " + std::to_string(a->size()));
}

const double* ptr(const OptArr& a) {
  return a ? a->data() : nullptr;
}

// Row stride of a per-row array given as 1 row (shared) or R rows of `width` entries.
std::size_t row_stride(const OptArr& a, std::size_t R, std::size_t width, const char* name) {
  if (!a) throw py::value_error(std::string("objective array ") + name + " is required");
  const std::size_t n = static_cast<std::size_t>(a->size());
  if (n == width) return 0;
  if (n == R * width) return width;
  throw py::value_error(std::string("objective array ") + name + ": expected " + std::to_string(width) + " or " +
                        std::to_string(R * width) + " elements, got " + std::to_string(n));
}

// Runs fn(objective) for the objective named `kind` built from `arrays` (validated).
template <class Fn>
void with_objective(const std::string& kind, const std::vector<OptArr>& arrays, std::size_t R, std::size_t E,
                    std::uint64_t S, Fn&& fn) {
  auto at = [&](std::size_t k) -> const OptArr& {
    static const OptArr none;
    return k < arrays.size() ? arrays[k] : none;
  };
  if (kind == "quadratic") {
    const std::size_t st = row_stride(at(0), R, E, "target");
    obj::Quadratic o{at(0)->data(), st};
    fn(o);
  } else if (kind == "quadratic_form") {
    need_size(at(0), E * E, "A");
    const std::size_t cs = row_stride(at(1), R, E, "c");
    const std::size_t ds = row_stride(at(2), R, 1, "d");
    obj::QuadraticForm o{at(0)->data(), at(1)->data(), cs, at(2)->data(), ds};
    fn(o);
  } else if (kind == "linear") {
    need_size(at(0), R * E, "W");
    need_size(at(1), R, "c0");
    obj::RowLinear o{at(0)->data(), at(1)->data()};
    fn(o);
  } else if (kind == "precomputed") {
    const char* names[5] = {"value_hard", "value_tilde", "grad_hard", "grad_relaxed", "grad_tilde"};
    for (std::size_t k = 0; k < 5; ++k)
      if (at(k)) need_size(at(k), (k < 2 ? 1 : E) * R * static_cast<std::size_t>(S), names[k]);
    obj::Precomputed o{ptr(at(0)), ptr(at(1)), ptr(at(2)), ptr(at(3)), ptr(at(4))};
    fn(o);
  } else {
    throw py::value_error("unknown objective kind '" + kind + "'");
  }
}

rb::Problem base_problem(int kind, const carray<double>& alpha, std::uint64_t S, double lam, bool coupled,
                         std::uint32_t k0, std::uint32_t k1, std::uint32_t stream, int nthreads, std::size_t row0 = 0,
                         std::size_t rows_whole = 0) {
  if (kind < 0 || kind > 2) throw py::value_error("kind must be 0 (logistic), 1 (probit) or 2 (categorical)");
  if (alpha.ndim() != 2) throw py::value_error("alpha must be 2-D (rows, coordinates)");
  rb::Problem P;
  P.kind = kind;
  P.alpha = alpha.data();
  P.R = static_cast<std::size_t>(alpha.shape(0));
  P.E = static_cast<std::size_t>(alpha.shape(1));
  P.S = S;
  P.lam = lam;
  P.coupled = coupled;
  P.key = {k0, k1};
  P.stream = stream;
  P.nthreads = nthreads;
  P.r0 = row0;
  P.R_whole = rows_whole;
  try {
    rb::check_problem(P);
  } catch (const std::invalid_argument& e) {
    throw py::value_error(e.what());
  }
  return P;
}

py::tuple estimate(int kind, carray<double> alpha, std::uint64_t S, double lam, bool coupled, std::uint32_t k0,
                   std::uint32_t k1, std::uint32_t stream, int mode, OptArr eta, double eta_scalar, OptArr baseline,
                   bool keep_samples, bool want_mean, bool want_stats, const std::string& obj_kind,
                   std::vector<OptArr> obj_arrays, int nthreads, std::size_t row0, std::size_t rows_whole) {
  rb::Problem P = base_problem(kind, alpha, S, lam, coupled, k0, k1, stream, nthreads, row0, rows_whole);
  if (mode < 0 || mode > 3) throw py::value_error("mode must be in 0..3");
  P.mode = mode;
  const std::size_t R = P.R, E = P.E;
  const std::size_t SR = static_cast<std::size_t>(S) * R;
  if (eta) need_size(eta, static_cast<std::size_t>(S), "eta");
  if (baseline) need_size(baseline, SR, "baseline");
  P.eta = ptr(eta);
  P.eta_scalar = eta_scalar;
  P.baseline = ptr(baseline);
  py::object samples = py::none(), mean = py::none(), m2 = py::none(), stats = py::none();
  carray<double> a_samples, a_mean, a_m2, a_fb, a_fzt, a_ab, a_bb;
  if (keep_samples) {
    a_samples = carray<double>({static_cast<py::ssize_t>(SR * E)});
    P.samples = a_samples.mutable_data();
  }
  if (want_mean) {
    a_mean = carray<double>({static_cast<py::ssize_t>(R * E)});
    a_m2 = carray<double>({static_cast<py::ssize_t>(R * E)});
    P.mean = a_mean.mutable_data();
    P.m2 = a_m2.mutable_data();
  }
  if (want_stats) {
    for (auto* a : {&a_fb, &a_fzt, &a_ab, &a_bb}) *a = carray<double>({static_cast<py::ssize_t>(SR)});
    P.stat_fb = a_fb.mutable_data();
    P.stat_fzt = a_fzt.mutable_data();
    P.stat_ab = a_ab.mutable_data();
    P.stat_bb = a_bb.mutable_data();
  }
  with_objective(obj_kind, obj_arrays, R, E, S, [&](const auto& o) {
    py::gil_scoped_release release;
    try {
      rb::estimate(P, o);
    } catch (const std::invalid_argument& e) {
      py::gil_scoped_acquire acquire;
      throw py::value_error(e.what());
    }
  });
  if (keep_samples) samples = a_samples;
  if (want_mean) mean = a_mean, m2 = a_m2;
  if (want_stats) stats = py::make_tuple(a_fb, a_fzt, a_ab, a_bb);
  return py::make_tuple(samples, mean, m2, stats);
}

py::tuple noise(int kind, carray<double> alpha, std::uint64_t S, double lam, bool coupled, std::uint32_t k0,
                std::uint32_t k1, std::uint32_t stream, int nthreads, std::size_t row0, std::size_t rows_whole) {
  rb::Problem P = base_problem(kind, alpha, S, lam, coupled, k0, k1, stream, nthreads, row0, rows_whole);
  const py::ssize_t n = static_cast<py::ssize_t>(static_cast<std::size_t>(S) * P.R * P.E);
  carray<double> z({n}), hard({n}), zt({n}), dzt({n}), sz({n}), szt({n});
  P.out_z = z.mutable_data();
  P.out_hard = hard.mutable_data();
  P.out_zt = zt.mutable_data();
  P.out_dzt = dzt.mutable_data();
  P.out_sz = sz.mutable_data();
  P.out_szt = szt.mutable_data();
  {
    py::gil_scoped_release release;
    rb::draw_noise(P);
  }
  return py::make_tuple(z, hard, zt, dzt, sz, szt);
}

py::tuple exact(int kind, carray<double> alpha, const std::string& obj_kind, std::vector<OptArr> obj_arrays,
                int nthreads) {
  rb::Problem P = base_problem(kind, alpha, 1, 1.0, false, 0, 0, 0, nthreads);
  if (obj_kind == "precomputed") throw py::value_error("exact enumeration of a callback runs in Python");
  if (kind != rb::Categorical && P.E > 24) throw py::value_error("exact enumeration needs D <= 24 coordinates");
  carray<double> value({static_cast<py::ssize_t>(P.R)});
  carray<double> grad({static_cast<py::ssize_t>(P.R), static_cast<py::ssize_t>(P.E)});
  double* vp = value.mutable_data();
  double* gp = grad.mutable_data();
  with_objective(obj_kind, obj_arrays, P.R, P.E, 1, [&](const auto& o) {
    py::gil_scoped_release release;
    rb::exact(kind, P.alpha, P.R, P.E, o, vp, gp, nthreads);
  });
  return py::make_tuple(value, grad);
}

carray<double> evaluate(const std::string& obj_kind, std::vector<OptArr> obj_arrays, carray<double> x, std::size_t R,
                        bool gradient, int nthreads) {
  // x: [n][R][E] points; returns values [n][R] or gradients [n][R][E].
  if (x.ndim() != 3 || static_cast<std::size_t>(x.shape(1)) != R) throw py::value_error("x must have shape (n, R, E)");
  const std::size_t n = static_cast<std::size_t>(x.shape(0)), E = static_cast<std::size_t>(x.shape(2));
  carray<double> out =
      gradient ? carray<double>({x.shape(0), x.shape(1), x.shape(2)}) : carray<double>({x.shape(0), x.shape(1)});
  double* op = out.mutable_data();
  const double* xp = x.data();
  with_objective(obj_kind, obj_arrays, R, E, n, [&](const auto& o) {
    py::gil_scoped_release release;
    std::vector<std::uint32_t> rows(n * R);
    std::vector<std::uint64_t> samples(n * R);
    for (std::size_t s = 0; s < n; ++s)
      for (std::size_t i = 0; i < R; ++i) rows[s * R + i] = static_cast<std::uint32_t>(i), samples[s * R + i] = s;
    // Events are independent: blocks of events, on threads for large inputs.
    const std::size_t block = std::max<std::size_t>(1, 4096 / std::max<std::size_t>(E, 1));
    mixgrad::parallel::for_blocks(n * R, block, nthreads, 4 * block, [&](std::size_t e0, std::size_t e1) {
      obj::Chunk ch{e1 - e0, E, rows.data() + e0, samples.data() + e0, R};
      if (gradient)
        o.grad(obj::Point::Relaxed, ch, xp + e0 * E, op + e0 * E);
      else
        o.value(obj::Point::Relaxed, ch, xp + e0 * E, op + e0);
    });
  });
  return out;
}

carray<double> gmm_table(carray<double> x, carray<double> means, carray<double> scales, OptArr log_norm, int nthreads) {
  if (x.ndim() != 2 || means.ndim() != 2 || scales.ndim() != 2)
    throw py::value_error("x, means and scales must be 2-D");
  const std::size_t B = static_cast<std::size_t>(x.shape(0)), Dx = static_cast<std::size_t>(x.shape(1));
  const std::size_t K = static_cast<std::size_t>(means.shape(0));
  if (static_cast<std::size_t>(means.shape(1)) != Dx || scales.shape(0) != means.shape(0) ||
      scales.shape(1) != means.shape(1))
    throw py::value_error("means and scales must both have shape (K, Dx) with Dx = x.shape[1]");
  if (log_norm) need_size(log_norm, B, "log_normalizer");
  carray<double> out({static_cast<py::ssize_t>(B), static_cast<py::ssize_t>(K)});
  double* op = out.mutable_data();
  const double *xp = x.data(), *mp = means.data(), *sp = scales.data(), *lp = ptr(log_norm);
  {
    py::gil_scoped_release release;
    mixgrad::parallel::for_blocks(B, 1024, nthreads, 4096, [&](std::size_t i0, std::size_t i1) {
      obj::gmm_component_table(xp, i0, i1, Dx, mp, sp, K, lp, op);
    });
  }
  return out;
}

carray<double> ema(carray<double> fb, double decay, carray<double> init) {
  if (fb.ndim() != 2 || init.ndim() != 1 || init.shape(0) != fb.shape(1))
    throw py::value_error("fb must be (S, R) and init (R,)");
  carray<double> out({fb.shape(0), fb.shape(1)});
  rb::ema_baseline(fb.data(), static_cast<std::size_t>(fb.shape(0)), static_cast<std::size_t>(fb.shape(1)), decay,
                   init.data(), out.mutable_data());
  return out;
}

// ARMS / DisARM (Bernoulli, logistic parameterization; categorical: DisARM, stick-breaking form):
// per-group estimates, mean, m2; or, with draws_only, the hard draws [S][n][R][E] (one-hot for
// categorical; for Python callbacks, evaluated before the estimate).
py::tuple arms(carray<double> alpha, std::uint64_t S, std::size_t n, bool pair, std::uint32_t k0, std::uint32_t k1,
               std::uint32_t stream, bool keep_samples, bool want_mean, bool draws_only, const std::string& obj_kind,
               std::vector<OptArr> obj_arrays, int nthreads, std::size_t row0, std::size_t rows_whole,
               bool categorical) {
  if (alpha.ndim() != 2) throw py::value_error("alpha must be 2-D (rows, coordinates)");
  rb::ArmsProblem P;
  P.alpha = alpha.data();
  P.R = static_cast<std::size_t>(alpha.shape(0));
  P.E = static_cast<std::size_t>(alpha.shape(1));
  P.S = S;
  P.n = n;
  P.pair = pair;
  P.categorical = categorical;
  P.key = {k0, k1};
  P.stream = stream;
  P.nthreads = nthreads;
  P.r0 = row0;
  P.R_whole = rows_whole;
  try {
    rb::check_arms(P);
  } catch (const std::invalid_argument& e) {
    throw py::value_error(e.what());
  }
  const std::size_t SRE = static_cast<std::size_t>(S) * P.R * P.E;
  carray<double> a_samples, a_mean, a_m2, a_draws;
  if (draws_only) {
    a_draws = carray<double>({static_cast<py::ssize_t>(SRE * n)});
    P.draws = a_draws.mutable_data();
    {
      py::gil_scoped_release release;
      rb::arms_estimate(P, obj::RowLinear{nullptr, nullptr});
    }
    return py::make_tuple(a_draws, py::none(), py::none());
  }
  if (keep_samples) {
    a_samples = carray<double>({static_cast<py::ssize_t>(SRE)});
    P.samples = a_samples.mutable_data();
  }
  if (want_mean) {
    a_mean = carray<double>({static_cast<py::ssize_t>(P.R * P.E)});
    a_m2 = carray<double>({static_cast<py::ssize_t>(P.R * P.E)});
    P.mean = a_mean.mutable_data();
    P.m2 = a_m2.mutable_data();
  }
  with_objective(obj_kind, obj_arrays, P.R, P.E, S * n, [&](const auto& o) {
    py::gil_scoped_release release;
    rb::arms_estimate(P, o);
  });
  py::object samples = py::none(), mean = py::none(), m2 = py::none();
  if (keep_samples) samples = a_samples;
  if (want_mean) mean = a_mean, m2 = a_m2;
  return py::make_tuple(samples, mean, m2);
}

}  // namespace

void register_rebar(py::module_& m) {
  m.def("rebar_estimate", &estimate, py::arg("kind"), py::arg("alpha").noconvert(), py::arg("n_samples"),
        py::arg("lam"), py::arg("coupled"), py::arg("k0"), py::arg("k1"), py::arg("stream"), py::arg("mode"),
        py::arg("eta"), py::arg("eta_scalar"), py::arg("baseline"), py::arg("keep_samples"), py::arg("want_mean"),
        py::arg("want_stats"), py::arg("obj_kind"), py::arg("obj_arrays"), py::arg("nthreads") = 0, py::arg("row0") = 0,
        py::arg("rows_whole") = 0,
        "Per-sample discrete gradient estimates; returns (samples, mean, m2, stats). row0, rows_whole: "
        "these rows are rows row0.. of a call on rows_whole rows (0: the whole call).");
  m.def("rebar_noise", &noise, py::arg("kind"), py::arg("alpha").noconvert(), py::arg("n_samples"), py::arg("lam"),
        py::arg("coupled"), py::arg("k0"), py::arg("k1"), py::arg("stream"), py::arg("nthreads") = 0,
        py::arg("row0") = 0, py::arg("rows_whole") = 0,
        "Noise transform: (z, b, z_tilde, dz_tilde (categorical: w), sigma(z/lam), sigma(z_tilde/lam)).");
  m.def("rebar_exact", &exact, py::arg("kind"), py::arg("alpha").noconvert(), py::arg("obj_kind"),
        py::arg("obj_arrays"), py::arg("nthreads") = 0, "Exact (E f_i, d E f_i / d alpha_i) by enumeration.");
  m.def("objective_evaluate", &evaluate, py::arg("obj_kind"), py::arg("obj_arrays"), py::arg("x").noconvert(),
        py::arg("R"), py::arg("gradient"), py::arg("nthreads") = 0,
        "Built-in objective values (n, R) or gradients (n, R, E) at x.");
  m.def("ema_baseline", &ema, py::arg("fb").noconvert(), py::arg("decay"), py::arg("init").noconvert(),
        "Moving-average baseline over samples (each sample sees only earlier ones).");
  m.def("gmm_component_table", &gmm_table, py::arg("x").noconvert(), py::arg("means").noconvert(),
        py::arg("scales").noconvert(), py::arg("log_normalizer").noconvert(), py::arg("nthreads") = 0,
        "p(x_i | component k) / normalizer_i for diagonal Gaussian components, shape (B, K).");
  m.def("arms_estimate", &arms, py::arg("alpha").noconvert(), py::arg("n_samples"), py::arg("n_draws"), py::arg("pair"),
        py::arg("k0"), py::arg("k1"), py::arg("stream"), py::arg("keep_samples"), py::arg("want_mean"),
        py::arg("draws_only"), py::arg("obj_kind"), py::arg("obj_arrays"), py::arg("nthreads") = 0, py::arg("row0") = 0,
        py::arg("rows_whole") = 0, py::arg("categorical") = false,
        "ARMS / DisARM per-group estimates (Bernoulli logits; categorical=True: rows of class logits, "
        "DisARM only); returns (samples or draws, mean, m2).");
}
