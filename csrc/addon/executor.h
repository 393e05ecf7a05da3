// The CPU device's executor: a JobRunner (csrc/core/job_runner.h: one job
// thread that runs queued ops in order, each spreading its work over
// sparsekit's own ThreadPool) and a thread-safe function that settles each
// op's Promise on the JS thread. Kernels never run on the JS thread nor on
// libuv's pool.
#pragma once
#include <napi.h>

#include <functional>

#include "../core/job_runner.h"

namespace sk {

class Executor {
 public:
  using Work = JobRunner::Work;                                   // job thread
  using Done = std::function<void(Napi::Env, const JobResult&)>;  // JS thread

  Executor(Napi::Env env, int threads);
  ~Executor();

  // Queues work; done runs later on the JS thread. Call from the JS thread.
  void submit(Work work, Done done);
  void set_threads(int threads) { runner_.set_threads(threads); }
  int threads() const { return runner_.threads(); }
  // Stops the job thread after the running job; queued jobs are dropped.
  // Called from the environment's cleanup hook; idempotent.
  void shutdown();

 private:
  Napi::Env env_;
  Napi::ThreadSafeFunction tsfn_;
  int pending_ = 0;  // JS thread only: jobs whose done has not run yet
  JobRunner runner_;
};

}  // namespace sk
