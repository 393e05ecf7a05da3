// A fixed set of worker threads owned by sparsekit (never libuv's pool).
// parallel_for() is called from one thread at a time (the executor's job
// thread), which works on the tasks too and returns when all are done.
//
// The caller spins briefly for the last worker before it sleeps (a futex
// wake costs tens of µs on a VM, and the last worker is usually that close).
// It waits only for workers that joined the call: once every task has been
// taken the call closes, and a worker that wakes later (its core taken by
// another library's spinning pool) skips it, so a busy neighbour costs us
// at most the share of the work we lose, never a scheduler time slice of
// waiting for a thread that has nothing left to do.
// A worker that finished a call lingers about 100 µs for the next one,
// spinning politely (it yields its core between checks), then sleeps: ops
// awaited back to back open their calls within that, and waking a sleeping
// worker costs about as long as a short op's share of the work on a VM.
// Idle workers do not spin longer, as XNNPACK's and ORT's pools do, nor
// greedily: on a machine with as many threads as cores that took the core
// the JS thread needed between ops (bench/results/tuning-notes.md).
#pragma once
#include <stddef.h>

#include <stdint.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace sk {

class ThreadPool {
 public:
  explicit ThreadPool(int threads);  // total threads, caller included (>= 1)
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int threads() const { return static_cast<int>(workers_.size()) + 1; }
  // Runs task(i) for i in [0, tasks), spread over the threads.
  void parallel_for(size_t tasks, const std::function<void(size_t)>& task);
  // The running thread's slot in [0, threads()): a worker's own index, 0 for
  // any other thread (the caller), so a task can keep per-thread scratch.
  int thread_slot() const;

 private:
  void worker_loop(int slot);
  void run_tasks();

  std::vector<std::thread> workers_;
  std::mutex mu_;  // orders the sleeps on wake_ and done_ with their wake-ups
  std::condition_variable wake_, done_;
  const std::function<void(size_t)>* task_ = nullptr;
  size_t tasks_ = 0;
  std::atomic<size_t> next_{0};
  // One word, so joining and closing are ordered: bits 0-15 count the workers
  // inside the call, bit 16 marks it closed (no worker may join), the rest is
  // the call's generation, bumped (release) once task_ and tasks_ are set.
  std::atomic<uint64_t> state_{0};
  std::atomic<bool> stop_{false};
};

}  // namespace sk
