// A fixed set of worker threads owned by sparsekit (never libuv's pool).
// parallel_for() is called from one thread at a time (the executor's job
// thread), which works on the tasks too and returns when all are done.
#pragma once
#include <stddef.h>

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

 private:
  void worker_loop();
  void run_tasks();

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable wake_, done_;
  const std::function<void(size_t)>* task_ = nullptr;
  size_t tasks_ = 0;
  std::atomic<size_t> next_{0};
  size_t generation_ = 0;
  size_t pending_ = 0;  // workers yet to finish this generation
  bool stop_ = false;
};

}  // namespace sk
