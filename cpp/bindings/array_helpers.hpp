// Small helpers shared by the bind_*.cpp files: typed contiguous arrays and GIL-free calls.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>

namespace mixgrad::bind {

namespace py = pybind11;

template <class T>
using carray = py::array_t<T, py::array::c_style>;

// "(2, 3)" for error messages.
inline std::string shape_str(const py::array& a) {
  std::string s = "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) s += (i ? ", " : "") + std::to_string(a.shape(i));
  return s + (a.ndim() == 1 ? ",)" : ")");
}

// An output array: the caller's (checked for size) or a fresh one shaped like `like`.
template <class T>
carray<T> output_like(const py::array& like, std::optional<carray<T>>& out, const char* name = "out") {
  if (out) {
    if (out->size() != like.size())
      throw py::value_error(std::string(name) + ": expected " + std::to_string(like.size()) + " elements, got " +
                            std::to_string(out->size()));
    if (!out->writeable()) throw py::value_error(std::string(name) + " is read-only");
    return *out;
  }
  std::vector<py::ssize_t> shape(like.shape(), like.shape() + like.ndim());
  return carray<T>(shape);
}

}  // namespace mixgrad::bind
