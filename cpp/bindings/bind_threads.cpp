// Thread-count controls and fork safety for the parallel loops (mixgrad/parallel.hpp).
#include <pybind11/pybind11.h>

#include "mixgrad/parallel.hpp"

namespace py = pybind11;

void register_threads(py::module_& m) {
#ifdef MIXGRAD_HAVE_OPENMP
  m.attr("has_openmp") = true;
#else
  m.attr("has_openmp") = false;
#endif
  m.attr("MAX_THREADS") = mixgrad::parallel::kMaxThreads;
  mixgrad::parallel::install_fork_handler();
  m.def("get_num_threads", &mixgrad::parallel::num_threads, "Threads used by kernels called with nthreads=None.");
  m.def("set_num_threads", &mixgrad::parallel::set_num_threads, py::arg("n"),
        "Set the default thread count; 0 restores the OpenMP default.");
  m.def(
      "_explicit_num_threads", [] { return mixgrad::parallel::g_num_threads.load(); },
      "The value set by set_num_threads (0 when unset); for restoring it.");
  m.def("openmp_default_threads", &mixgrad::parallel::max_threads_default,
        "omp_get_max_threads() (what threadpoolctl limits), or 1 without OpenMP.");
  m.def("thread_cap", &mixgrad::parallel::thread_cap,
        "Most threads one call starts: min(MAX_THREADS, 4 per processor), or 1 in a forked child.");
}
