// One stream per device, and two threads that keep every CUDA wait off the
// JS thread. The launcher takes jobs in order, enqueues each one's work on
// the stream (a cudaMemcpyAsync from pageable host memory may block it until
// the copy is staged or done, which is why it is not the JS thread), records
// an event, also when the enqueue failed halfway (launch_fence.h), and passes
// the job on. The waiter blocks on that event, drops the job's device-memory
// holds and hands the job to `on_finished`, which the binding uses to settle
// its Promise on the JS thread. Jobs finish in the order they were submitted.
// No N-API here.
#pragma once
#include <cuda_runtime_api.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "../csrc/core/status.h"
#include "allocator.h"
#include "launch_fence.h"

namespace sk::cuda {

class Job {
 public:
  using Launch = std::function<void(cudaStream_t)>;
  explicit Job(Launch launch) : launch_(std::move(launch)) {}
  virtual ~Job() = default;

  // Launcher thread: enqueue the work on the stream. Throws CudaFailure.
  void enqueue(cudaStream_t stream) { launch_(stream); }

  // Device memory the work touches: released on the waiter thread as soon
  // as the work has finished, before the job is handed on.
  std::vector<DeviceMemoryRef> holds;
  JobResult result;
  // Fire-and-forget work (zero()) does not settle anything: it is dropped on
  // the waiter thread, and a failure is reported by the next job that settles.
  bool settles = true;

 private:
  Launch launch_;
};

class StreamExecutor {
 public:
  using Finished = std::function<void(std::unique_ptr<Job>)>;  // waiter thread

  // Creates the device's stream. Call from the JS thread; throws CudaFailure.
  StreamExecutor(int device, Finished on_finished);
  ~StreamExecutor();
  StreamExecutor(const StreamExecutor&) = delete;
  StreamExecutor& operator=(const StreamExecutor&) = delete;

  void submit(std::unique_ptr<Job> job);
  // Stops both threads once the work already on the stream has finished and
  // drops the work not yet launched. Returns the jobs that will never reach
  // on_finished, for the caller to destroy on the JS thread (they may hold
  // JS references).
  std::vector<std::unique_ptr<Job>> shutdown();
  int device() const { return device_; }

 private:
  struct InFlight {
    std::unique_ptr<Job> job;
    cudaEvent_t event = nullptr;  // null when no event could be recorded (the stream was drained instead)
  };
  void launch_loop();
  void wait_loop();
  void finish(std::unique_ptr<Job> job);
  cudaEvent_t take_event();
  cudaEvent_t record_event();  // throws CudaFailure
  void recycle_event(cudaEvent_t event);

  const int device_;
  Finished on_finished_;
  cudaStream_t stream_ = nullptr;

  std::mutex mu_;
  std::condition_variable launch_wake_;
  std::condition_variable wait_wake_;
  std::deque<std::unique_ptr<Job>> queued_;
  std::deque<InFlight> in_flight_;
  std::vector<cudaEvent_t> spare_events_;
  std::vector<std::unique_ptr<Job>> orphans_;
  bool stopping_ = false;
  bool launcher_done_ = false;
  JobResult unreported_;  // waiter thread only: a fire-and-forget failure

  std::thread launcher_;
  std::thread waiter_;
};

}  // namespace sk::cuda
