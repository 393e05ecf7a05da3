// How the executor's launcher queues one job and fences it, free of CUDA
// types so the native tests check the order on any machine
// (test/native/launch_fence_test.cc).
//
// The rule: a job's holds (its device memory and, through the job, the host
// memory its copies read) are released only after everything the job put on
// the stream has finished. An enqueue can fail halfway: attention queues its
// mask upload before the kernel launch fails; the linear queues cuSPARSELt's
// matmul, then falls back to our kernel, whose launch can fail too. So the
// fence (an event recorded after the job's work) is recorded whether or not
// the enqueue threw, and when the fence itself cannot be recorded the stream
// is drained before the job moves on. The first failure is the one reported:
// later ones are usually its consequence.
#pragma once
#include <exception>
#include <new>
#include <string>
#include <utility>

#include "../csrc/core/status.h"
#include "failure.h"

namespace sk::cuda {

struct JobResult {
  sk_status status = SK_OK;
  std::string message;  // set when status != SK_OK
};

// Runs fn; what it throws becomes a failed result.
template <class Fn>
JobResult capture(int device, Fn&& fn) {
  try {
    fn();
    return {};
  } catch (const CudaFailure& e) {
    return {e.status(), e.what()};
  } catch (const std::bad_alloc&) {
    return {SK_ERR_OUT_OF_MEMORY, "out of host memory while queuing work on cuda:" + std::to_string(device)};
  } catch (const std::exception& e) {
    return {SK_ERR_UNSUPPORTED, e.what()};
  }
}

inline void keep_first(JobResult& result, JobResult later) {
  if (result.status == SK_OK) result = std::move(later);
}

// Launcher thread. enqueue() queues the job's work; fence() records an event
// after it and returns it (or throws, having released what it took); drain()
// waits for everything on the stream. Returns the event the waiter must see
// complete before the holds go, or Event{} when the stream was drained.
template <class Event, class Enqueue, class Fence, class Drain>
Event enqueue_fenced(int device, JobResult& result, Enqueue&& enqueue, Fence&& fence, Drain&& drain) {
  keep_first(result, capture(device, enqueue));
  Event event{};
  JobResult fenced = capture(device, [&] { event = fence(); });
  if (fenced.status == SK_OK) return event;
  drain();
  keep_first(result, std::move(fenced));
  return Event{};
}

// Waiter thread, before the holds are released: waits for the fence, if any
// (a failure while waiting is reported only when the job had none).
template <class Event, class Wait>
void await_fence(int device, JobResult& result, Event event, Wait&& wait) {
  if (event) keep_first(result, capture(device, [&] { wait(event); }));
}

}  // namespace sk::cuda
