// The job thread behind the CPU device's executor, without N-API: queued
// jobs run one at a time, in order (a stream), each spreading its work over
// sparsekit's own ThreadPool; a job's result is handed to its `deliver` on
// the job thread (the addon's Executor posts it to the JS thread). Split from
// csrc/addon/executor.h so the native tests can run it under ThreadSanitizer.
#pragma once
#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "status.h"
#include "threadpool.h"

namespace sk {

struct JobResult {
  sk_status status = SK_OK;
  std::string message;  // set when status != SK_OK
};

class JobRunner {
 public:
  using Work = std::function<JobResult(ThreadPool&)>;  // runs on the job thread
  // Gets the work's result on the job thread; returns false when it can no
  // longer be delivered (the environment is closing): the job thread then stops.
  using Deliver = std::function<bool(JobResult)>;

  explicit JobRunner(int threads);
  ~JobRunner();
  JobRunner(const JobRunner&) = delete;
  JobRunner& operator=(const JobRunner&) = delete;

  // Queues work. Called from one thread (the JS thread) at a time.
  void submit(Work work, Deliver deliver);
  // Takes effect before the next job starts, so a running job keeps its pool.
  void set_threads(int threads);
  int threads() const { return threads_wanted_.load(std::memory_order_relaxed); }
  // Stops the job thread after the running job; queued jobs are dropped.
  // Returns false if it had stopped already.
  bool shutdown();

 private:
  struct Job {
    Work work;
    Deliver deliver;
  };
  void loop();

  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::unique_ptr<Job>> queue_;
  std::atomic<size_t> queued_{0};     // queue_.size(), read without the lock by the idle spin
  std::unique_ptr<ThreadPool> pool_;  // job thread only
  std::atomic<int> threads_wanted_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace sk
