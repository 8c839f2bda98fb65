// The compiled core, mixgrad._core: one register_* function per area.
#include <pybind11/pybind11.h>

namespace py = pybind11;

void register_cpu(py::module_& m);
void register_special(py::module_& m);
void register_random(py::module_& m);
void register_threads(py::module_& m);
void register_mixture(py::module_& m);
void register_mixture_full(py::module_& m);
void register_rebar(py::module_& m);

#define MIXGRAD_STR_(x) #x
#define MIXGRAD_STR(x) MIXGRAD_STR_(x)

PYBIND11_MODULE(_core, m) {
  m.doc() = "mixgrad compiled core (C++17/OpenMP). Use the mixgrad package, not this module.";
#ifdef MIXGRAD_VERSION_INFO
  m.attr("__version__") = MIXGRAD_STR(MIXGRAD_VERSION_INFO);
#else
  m.attr("__version__") = "dev";
#endif
  register_cpu(m);
  register_threads(m);
  register_special(m);
  register_random(m);
  register_mixture(m);
  register_mixture_full(m);
  register_rebar(m);
}
