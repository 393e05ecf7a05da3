#include "stream_executor.h"

#include "common.cuh"

namespace sk::cuda {

StreamExecutor::StreamExecutor(int device, Finished on_finished)
    : device_(device), on_finished_(std::move(on_finished)) {
  {
    DeviceGuard guard(device_);
    // Non-blocking: our stream must not serialize with the legacy default
    // stream that other libraries in the process may use.
    SK_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  }
  launcher_ = std::thread([this] { launch_loop(); });
  waiter_ = std::thread([this] { wait_loop(); });
}

StreamExecutor::~StreamExecutor() { shutdown(); }

void StreamExecutor::submit(std::unique_ptr<Job> job) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) {
      orphans_.push_back(std::move(job));
      return;
    }
    queued_.push_back(std::move(job));
  }
  launch_wake_.notify_one();
}

cudaEvent_t StreamExecutor::take_event() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!spare_events_.empty()) {
      cudaEvent_t e = spare_events_.back();
      spare_events_.pop_back();
      return e;
    }
  }
  cudaEvent_t e = nullptr;
  // Blocking sync: the waiter sleeps instead of spinning a CPU core while
  // the GPU works. Timing is off because nothing reads it.
  SK_CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming | cudaEventBlockingSync));
  return e;
}

cudaEvent_t StreamExecutor::record_event() {
  cudaEvent_t event = take_event();
  const cudaError_t e = cudaEventRecord(event, stream_);
  if (e != cudaSuccess) {
    recycle_event(event);
    throw_cuda_failure(e, "cudaEventRecord", __FILE__, __LINE__);
  }
  return event;
}

void StreamExecutor::recycle_event(cudaEvent_t event) {
  std::lock_guard<std::mutex> lock(mu_);
  spare_events_.push_back(event);
}

void StreamExecutor::launch_loop() {
  cudaSetDevice(device_);  // a failure here resurfaces in the first launch
  for (;;) {
    std::unique_ptr<Job> job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      launch_wake_.wait(lock, [&] { return stopping_ || !queued_.empty(); });
      if (stopping_) {
        for (auto& dropped : queued_) orphans_.push_back(std::move(dropped));
        queued_.clear();
        launcher_done_ = true;
        break;
      }
      job = std::move(queued_.front());
      queued_.pop_front();
    }
    // A failed enqueue may have queued part of its work: the event covers it.
    cudaEvent_t event = enqueue_fenced<cudaEvent_t>(
        device_, job->result, [&] { job->enqueue(stream_); }, [&] { return record_event(); },
        [&] {
          cudaStreamSynchronize(stream_);
          cudaGetLastError();  // the record's failure is the one reported
        });
    {
      std::lock_guard<std::mutex> lock(mu_);
      in_flight_.push_back({std::move(job), event});
    }
    wait_wake_.notify_one();
  }
  wait_wake_.notify_one();
}

void StreamExecutor::wait_loop() {
  cudaSetDevice(device_);
  for (;;) {
    InFlight next;
    {
      std::unique_lock<std::mutex> lock(mu_);
      wait_wake_.wait(lock, [&] { return !in_flight_.empty() || launcher_done_; });
      if (in_flight_.empty()) return;  // the launcher has stopped and everything launched has finished
      next = std::move(in_flight_.front());
      in_flight_.pop_front();
    }
    await_fence(device_, next.job->result, next.event, [&](cudaEvent_t event) {
      const cudaError_t e = cudaEventSynchronize(event);
      if (e == cudaSuccess) return;
      cudaGetLastError();
      throw CudaFailure(
          status_of(e),
          "work queued on cuda:" + std::to_string(device_) + " failed with " + describe(e) +
              (status_of(e) == SK_ERR_DEVICE ? "; the CUDA context may be unusable until the process restarts" : ""));
    });
    if (next.event) recycle_event(next.event);
    next.job->holds.clear();
    finish(std::move(next.job));
  }
}

void StreamExecutor::finish(std::unique_ptr<Job> job) {
  if (!job->settles) {
    if (job->result.status != SK_OK && unreported_.status == SK_OK) unreported_ = job->result;
    return;  // destroyed here: fire-and-forget jobs hold no JS state
  }
  if (job->result.status == SK_OK && unreported_.status != SK_OK) {
    job->result = {unreported_.status,
                   "an earlier zero() on cuda:" + std::to_string(device_) + " failed: " + unreported_.message};
    unreported_ = {};
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) {
      orphans_.push_back(std::move(job));
      return;
    }
  }
  on_finished_(std::move(job));
}

std::vector<std::unique_ptr<Job>> StreamExecutor::shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return {};
    stopping_ = true;
  }
  launch_wake_.notify_all();
  wait_wake_.notify_all();
  if (launcher_.joinable()) launcher_.join();
  if (waiter_.joinable()) waiter_.join();
  // Quiet from here on: at process exit the runtime may already be going away.
  int previous = -1;
  cudaGetDevice(&previous);
  cudaSetDevice(device_);
  cudaStreamSynchronize(stream_);
  for (cudaEvent_t e : spare_events_) cudaEventDestroy(e);
  spare_events_.clear();
  cudaStreamDestroy(stream_);
  cudaGetLastError();
  if (previous >= 0 && previous != device_) cudaSetDevice(previous);
  std::lock_guard<std::mutex> lock(mu_);
  return std::move(orphans_);
}

}  // namespace sk::cuda
