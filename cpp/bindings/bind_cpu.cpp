// Bindings for the instruction-set level of the kernels (cpu_dispatch.hpp): which copies the CPU
// can run, which one runs, and MIXGRAD_SIMD_LEVEL read once at import.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include "mixgrad/config.hpp"

namespace py = pybind11;
namespace cpu = mixgrad::cpu;

namespace {

const char* level_name(int level) {
  switch (level) {
    case cpu::x86_64_v4:
      return "x86-64-v4";
    case cpu::x86_64_v3:
      return "x86-64-v3";
    default:
      return "baseline";
  }
}

std::vector<std::string> supported_levels() {
  std::vector<std::string> names;
  for (int l = cpu::highest_supported_level(); l >= cpu::baseline; --l) names.emplace_back(level_name(l));
  return names;
}

std::string supported_list() {
  std::string s;
  for (const auto& n : supported_levels()) s += (s.empty() ? "" : ", ") + n;
  return s;
}

// "auto" (or empty) is the highest level the CPU supports; a level above it is an error, not a
// silent fallback, so that a benchmark never reports one copy under another's name.
int parse_level(const std::string& name, const char* origin) {
  int l = -1;
  if (name.empty() || name == "auto") return cpu::highest_supported_level();
  if (name == "x86-64-v4") l = cpu::x86_64_v4;
  if (name == "x86-64-v3") l = cpu::x86_64_v3;
  if (name == "baseline") l = cpu::baseline;
  if (l < 0)
    throw std::invalid_argument(std::string(origin) + " must be 'auto', 'x86-64-v4', 'x86-64-v3' or 'baseline', got '" +
                                name + "'");
  if (l > cpu::highest_supported_level())
    throw std::invalid_argument(std::string(origin) + "='" + name +
                                "' is not supported by this CPU or build; supported: " + supported_list());
  return l;
}

}  // namespace

void register_cpu(py::module_& m) {
  const char* env = std::getenv("MIXGRAD_SIMD_LEVEL");
  if (env != nullptr) {
    try {
      cpu::g_level.store(parse_level(env, "MIXGRAD_SIMD_LEVEL"));
    } catch (const std::invalid_argument& e) {
      throw py::import_error(e.what());
    }
  }
  m.def(
      "simd_level", [] { return std::string(level_name(cpu::level())); },
      "The instruction-set level the kernels run at: 'x86-64-v4', 'x86-64-v3' or 'baseline'.");
  m.def("supported_simd_levels", &supported_levels,
        "The levels this CPU and build can run, highest first ('baseline' only off x86-64 GCC builds).");
  m.def(
      "set_simd_level", [](const std::string& name) { cpu::g_level.store(parse_level(name, "level")); },
      py::arg("level"), "Run the kernels at `level` ('auto' for the highest supported) from the next call on.");
}
