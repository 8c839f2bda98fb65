// Thread-count policy and a blocked parallel loop that is deterministic by construction, safe
// after fork() and interruptible between blocks.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <exception>
#include <mutex>

#if defined(__unix__) || defined(__APPLE__)
#include <pthread.h>
#define MIXGRAD_HAVE_PTHREAD_ATFORK 1
#endif

#ifdef MIXGRAD_HAVE_OPENMP
#include <omp.h>
#endif

namespace mixgrad::parallel {

// ---------------------------------------------------------------------------------------------
// Thread counts.
//
// kMaxThreads is the largest count anyone may ask for (the Python layer raises ValueError above
// it). A loop starts at most thread_cap() threads whatever was asked: 4 per processor this
// process may run on (oversubscribing further only adds switching, and results never depend on
// the count), and one in a child forked from a process that had loaded this code (libgomp's
// thread pool does not survive fork(): the child would wait forever for the parent's workers).

inline constexpr int kMaxThreads = 1024;
inline constexpr int kThreadsPerProcessor = 4;

// 0 means "not set": follow OpenMP's current default (which threadpoolctl can change).
inline std::atomic<int> g_num_threads{0};
inline std::atomic<bool> g_forked_child{false};

inline int max_threads_default() {
#ifdef MIXGRAD_HAVE_OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

// Processors this process may run on (its CPU affinity), read once.
inline int num_processors() {
#ifdef MIXGRAD_HAVE_OPENMP
  static const int n = std::max(1, omp_get_num_procs());
#else
  static const int n = 1;
#endif
  return n;
}

inline int thread_cap() {
  if (g_forked_child.load(std::memory_order_relaxed)) return 1;
  return std::min(kMaxThreads, kThreadsPerProcessor * num_processors());
}

inline int num_threads() {
  const int n = g_num_threads.load(std::memory_order_relaxed);
  return n > 0 ? n : max_threads_default();
}

inline void set_num_threads(int n) {
  g_num_threads.store(n > 0 ? std::min(n, kMaxThreads) : 0, std::memory_order_relaxed);
}

// nthreads <= 0 asks for the default.
inline int resolve(int nthreads) {
  return nthreads > 0 ? nthreads : num_threads();
}

// Call once, early (the module does so when it is imported): from then on, a forked child runs
// every loop on its calling thread.
inline void install_fork_handler() {
#ifdef MIXGRAD_HAVE_PTHREAD_ATFORK
  static std::once_flag once;
  std::call_once(
      once, [] { pthread_atfork(nullptr, nullptr, [] { g_forked_child.store(true, std::memory_order_relaxed); }); });
#endif
}

// ---------------------------------------------------------------------------------------------
// Interruption.
//
// The host (the Python bindings) may install a check, called between blocks by the thread that
// called for_blocks, after every kPollInterval of time spent in loops on that thread (summed
// over consecutive loops, so a kernel made of many short loops is checked too; the interval
// grows while checks are slow). When it returns
// true, no further blocks are started and for_blocks throws Interrupted once the running ones
// end. The check must not throw; it is called with whatever locks the caller holds.

using InterruptCheck = bool (*)() noexcept;

inline std::atomic<InterruptCheck> g_interrupt_check{nullptr};
inline constexpr std::chrono::milliseconds kPollInterval{50};

inline void set_interrupt_check(InterruptCheck check) {
  g_interrupt_check.store(check, std::memory_order_release);
}

struct Interrupted : std::exception {
  const char* what() const noexcept override { return "interrupted"; }
};

namespace detail {

using Clock = std::chrono::steady_clock;

// Loop time on this thread since its last check, and the time between checks: kPollInterval,
// or up to 1 s when a check itself takes long (waiting for the GIL held by another thread), so
// that checks cost at most about 5% of this thread's time.
inline thread_local Clock::duration t_since_check{};
inline thread_local Clock::duration t_check_interval{kPollInterval};

// Between blocks on the calling thread. Reads the clock at most about once per millisecond: the
// stride (blocks between clock reads) grows while blocks are short.
class Poll {
 public:
  Poll() : check_(g_interrupt_check.load(std::memory_order_acquire)) {
    if (check_) mark_ = Clock::now();
  }
  // True: stop.
  bool operator()() {
    if (!check_ || --countdown_ > 0) return false;
    const Clock::time_point now = Clock::now();
    const Clock::duration dt = now - mark_;
    mark_ = now;
    if (dt < std::chrono::microseconds(500) && stride_ < (1u << 20))
      stride_ *= 2;
    else if (dt > std::chrono::milliseconds(5) && stride_ > 1)
      stride_ /= 2;
    countdown_ = stride_;
    t_since_check += dt;
    if (t_since_check < t_check_interval) return false;
    t_since_check = Clock::duration::zero();
    const bool stop = check_();
    mark_ = Clock::now();
    t_check_interval = std::clamp<Clock::duration>(20 * (mark_ - now), kPollInterval, std::chrono::seconds(1));
    return stop;
  }

 private:
  InterruptCheck check_;
  Clock::time_point mark_{};
  unsigned stride_ = 1, countdown_ = 1;
};

}  // namespace detail

// ---------------------------------------------------------------------------------------------

enum class Schedule { Static, Dynamic };

// Runs body(begin, end) over [0, n) in blocks of `block` elements. Block boundaries depend on n
// and block only, never on the thread count, so any per-element result is identical for any
// number of threads (vector body vs scalar tail included). Small n stays on the calling thread.
// Schedule::Dynamic hands blocks out on demand (threads slowed down by other processes take
// fewer), for bodies whose per-block result does not depend on which thread runs them.
// The first exception thrown by any block is rethrown after the parallel region; Interrupted is
// thrown when the interrupt check asked to stop (outputs are then partly written).
template <Schedule S = Schedule::Static, class Body>
void for_blocks(std::size_t n, std::size_t block, int nthreads, std::size_t min_parallel, Body&& body) {
  if (n == 0) return;
  block = std::max<std::size_t>(block, 1);
  const std::size_t nblocks = (n + block - 1) / block;
  const int wanted = std::min(resolve(nthreads), thread_cap());
  const int threads = static_cast<int>(std::min<std::size_t>(static_cast<std::size_t>(wanted), nblocks));
  detail::Poll poll;
#ifdef MIXGRAD_HAVE_OPENMP
  if (threads > 1 && n >= min_parallel) {
    std::exception_ptr error;
    std::once_flag once;
    std::atomic<bool> failed{false}, interrupted{false};
    auto run = [&](std::ptrdiff_t b) {
      if (failed.load(std::memory_order_relaxed)) return;
      try {
        const std::size_t begin = static_cast<std::size_t>(b) * block;
        body(begin, std::min(n, begin + block));
      } catch (...) {
        std::call_once(once, [&] { error = std::current_exception(); });
        failed.store(true, std::memory_order_relaxed);
      }
      if (omp_get_thread_num() == 0 && poll()) {
        interrupted.store(true, std::memory_order_relaxed);
        failed.store(true, std::memory_order_relaxed);
      }
    };
    const auto nb = static_cast<std::ptrdiff_t>(nblocks);
    if constexpr (S == Schedule::Dynamic) {
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
      for (std::ptrdiff_t b = 0; b < nb; ++b) run(b);
    } else {
#pragma omp parallel for schedule(static) num_threads(threads)
      for (std::ptrdiff_t b = 0; b < nb; ++b) run(b);
    }
    if (error) std::rethrow_exception(error);
    if (interrupted.load(std::memory_order_relaxed)) throw Interrupted{};
    return;
  }
#else
  (void)threads;
  (void)min_parallel;
#endif
  for (std::size_t b = 0; b < nblocks; ++b) {
    body(b * block, std::min(n, (b + 1) * block));
    if (poll()) throw Interrupted{};
  }
}

}  // namespace mixgrad::parallel
