// Thread-count controls, fork safety and Ctrl-C for the parallel loops (mixgrad/parallel.hpp).
#include <pybind11/pybind11.h>

#include <atomic>
#include <exception>

#include "mixgrad/parallel.hpp"

namespace py = pybind11;
namespace par = mixgrad::parallel;

namespace {

// Python runs signal handlers in its main thread only, so only that thread polls.
std::atomic<unsigned long> g_main_thread{0};

// The exception a signal handler raised while a kernel ran, kept (per thread: the thread that
// polled is the one that called the kernel) until the translator below raises it.
struct PendingError {
#if PY_VERSION_HEX >= 0x030C0000
  PyObject* exc = nullptr;
#else
  PyObject *type = nullptr, *value = nullptr, *traceback = nullptr;
#endif
};
thread_local PendingError t_pending;

// Called with the GIL held.
void keep_current_error() {
#if PY_VERSION_HEX >= 0x030C0000
  Py_XDECREF(t_pending.exc);
  t_pending.exc = PyErr_GetRaisedException();
#else
  Py_XDECREF(t_pending.type);
  Py_XDECREF(t_pending.value);
  Py_XDECREF(t_pending.traceback);
  PyErr_Fetch(&t_pending.type, &t_pending.value, &t_pending.traceback);
#endif
}

// Called with the GIL held; false when there was none.
bool restore_kept_error() {
#if PY_VERSION_HEX >= 0x030C0000
  if (!t_pending.exc) return false;
  PyErr_SetRaisedException(t_pending.exc);
  t_pending.exc = nullptr;
#else
  if (!t_pending.type) return false;
  PyErr_Restore(t_pending.type, t_pending.value, t_pending.traceback);
  t_pending = PendingError{};
#endif
  return true;
}

// The interrupt check of parallel.hpp: run pending signal handlers (a default SIGINT handler
// raises KeyboardInterrupt). Reacquires the GIL briefly; a few microseconds every 50 ms of loop
// time when no other Python thread wants the GIL.
bool check_signals() noexcept {
  if (PyThread_get_thread_ident() != g_main_thread.load(std::memory_order_relaxed)) return false;
  const PyGILState_STATE state = PyGILState_Ensure();
  const bool stop = PyErr_CheckSignals() != 0;
  if (stop) keep_current_error();
  PyGILState_Release(state);
  return stop;
}

}  // namespace

void register_threads(py::module_& m) {
#ifdef MIXGRAD_HAVE_OPENMP
  m.attr("has_openmp") = true;
#else
  m.attr("has_openmp") = false;
#endif
  m.attr("MAX_THREADS") = par::kMaxThreads;

  par::install_fork_handler();
  g_main_thread.store(py::module_::import("threading").attr("main_thread")().attr("ident").cast<unsigned long>());
#ifdef MIXGRAD_HAVE_PTHREAD_ATFORK
  // After fork() the forking thread is the child's main thread (CPython makes it so too).
  pthread_atfork(nullptr, nullptr, [] { g_main_thread.store(PyThread_get_thread_ident()); });
#endif
  par::set_interrupt_check(&check_signals);
  py::register_local_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const par::Interrupted&) {
      if (!restore_kept_error()) PyErr_SetNone(PyExc_KeyboardInterrupt);
    }
  });

  m.def("get_num_threads", &par::num_threads,
        "The process-wide default thread count: set_num_threads' value, else OpenMP's default.");
  m.def("set_num_threads", &par::set_num_threads, py::arg("n"),
        "Set the process-wide default thread count; 0 restores the OpenMP default.");
  m.def(
      "_explicit_num_threads", [] { return par::g_num_threads.load(); },
      "The value set by set_num_threads (0 when unset); for restoring it.");
  m.def("openmp_default_threads", &par::max_threads_default,
        "omp_get_max_threads() (what threadpoolctl limits), or 1 without OpenMP.");
  m.def("thread_cap", &par::thread_cap,
        "Most threads one call starts: min(MAX_THREADS, 4 per processor), or 1 in a forked child.");
}
