// The CPU device's executor: one job thread that runs queued ops in order
// (a stream), each spreading its work over sparsekit's own ThreadPool, and a
// thread-safe function that settles each op's Promise on the JS thread.
// Kernels never run on the JS thread nor on libuv's pool.
#pragma once
#include <napi.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "../core/status.h"
#include "../core/threadpool.h"

namespace sk {

struct JobResult {
  sk_status status = SK_OK;
  std::string message;  // set when status != SK_OK
};

class Executor {
 public:
  using Work = std::function<JobResult(ThreadPool&)>;       // job thread
  using Done = std::function<void(Napi::Env, const JobResult&)>;  // JS thread

  Executor(Napi::Env env, int threads);
  ~Executor();

  // Queues work; done runs later on the JS thread. Call from the JS thread.
  void submit(Work work, Done done);
  // Takes effect before the next job starts, so a running op keeps its pool.
  void set_threads(int threads);
  int threads() const { return threads_wanted_; }
  // Stops the job thread after the running job; queued jobs are dropped.
  // Called from the environment's cleanup hook.
  void shutdown();

 private:
  struct Job {
    Work work;
    Done done;
  };
  void job_loop();
  void spin_for_job();

  Napi::Env env_;
  Napi::ThreadSafeFunction tsfn_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::unique_ptr<Job>> queue_;
  std::atomic<size_t> queued_{0};  // queue_.size(), read without the lock by the idle spin
  std::unique_ptr<ThreadPool> pool_;
  int threads_wanted_;
  int pending_ = 0;  // JS thread only: jobs whose done has not run yet
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace sk
