// The CUDA executor's launch order (cuda/launch_fence.h) on a simulated
// stream: whatever an enqueue queued before it failed is covered by the
// job's fence, a fence that cannot be recorded drains the stream, and the
// first failure is the one reported.
#include <new>
#include <string>
#include <vector>

#include "../../cuda/launch_fence.h"
#include "check.h"

namespace {

using sk::cuda::CudaFailure;
using sk::cuda::JobResult;

// A stream as the list of what was queued on it, in order; an event is the
// 1-based position of its record, 0 for none.
struct Stream {
  std::vector<std::string> ops;
  int drains = 0;
  bool record_fails = false;

  int record() {
    if (record_fails) throw CudaFailure(SK_ERR_DEVICE, "cudaEventRecord failed");
    ops.push_back("event");
    return static_cast<int>(ops.size());
  }
  int launch(JobResult& result, void (*enqueue)(Stream&)) {
    return sk::cuda::enqueue_fenced<int>(
        0, result, [&] { enqueue(*this); }, [&] { return record(); }, [&] { ++drains; });
  }
};

void upload_then_launch(Stream& s) {
  s.ops.push_back("mask upload");
  s.ops.push_back("kernel");
}
void upload_then_failed_launch(Stream& s) {
  s.ops.push_back("mask upload");
  throw CudaFailure(SK_ERR_UNSUPPORTED, "launch failed");
}
void lt_then_failed_fallback(Stream& s) {
  s.ops.push_back("cusparseLtMatmul");
  throw CudaFailure(SK_ERR_DEVICE, "fallback launch failed");
}
void out_of_host_memory(Stream& s) {
  s.ops.push_back("mask upload");
  throw std::bad_alloc();
}

}  // namespace

SK_TEST(launch_fence_covers_the_work_of_a_successful_enqueue) {
  Stream s;
  JobResult r;
  const int event = s.launch(r, upload_then_launch);
  CHECK(r.status == SK_OK, "status %d", r.status);
  CHECK(event == 3 && s.ops.size() == 3, "event at %d of %zu ops", event, s.ops.size());
  CHECK(s.drains == 0, "drained %d times", s.drains);
}

SK_TEST(launch_fence_is_recorded_after_a_half_queued_failed_enqueue) {
  for (auto enqueue : {upload_then_failed_launch, lt_then_failed_fallback}) {
    Stream s;
    JobResult r;
    const int event = s.launch(r, enqueue);
    CHECK(r.status != SK_OK, "the failure was lost");
    CHECK(r.message.find("launch failed") != std::string::npos, "message '%s'", r.message.c_str());
    // The event comes after the work already queued, so the waiter holds the buffers until it is done.
    CHECK(event == 2 && s.ops.size() == 2 && s.ops[1] == "event", "event at %d of %zu ops", event, s.ops.size());
    CHECK(s.drains == 0, "drained %d times", s.drains);
  }
}

SK_TEST(launch_fence_maps_host_out_of_memory_and_still_fences) {
  Stream s;
  JobResult r;
  const int event = s.launch(r, out_of_host_memory);
  CHECK(r.status == SK_ERR_OUT_OF_MEMORY, "status %d", r.status);
  CHECK(r.message == "out of host memory while queuing work on cuda:0", "message '%s'", r.message.c_str());
  CHECK(event == 2, "event %d", event);
}

SK_TEST(launch_fence_that_cannot_be_recorded_drains_the_stream) {
  {
    Stream s;
    s.record_fails = true;
    JobResult r;
    const int event = s.launch(r, upload_then_launch);
    CHECK(event == 0 && s.drains == 1, "event %d, drains %d", event, s.drains);
    CHECK(r.status == SK_ERR_DEVICE && r.message == "cudaEventRecord failed", "'%s'", r.message.c_str());
  }
  {
    Stream s;
    s.record_fails = true;
    JobResult r;
    const int event = s.launch(r, upload_then_failed_launch);
    CHECK(event == 0 && s.drains == 1, "event %d, drains %d", event, s.drains);
    CHECK(r.status == SK_ERR_UNSUPPORTED && r.message == "launch failed", "the first failure was replaced: '%s'",
          r.message.c_str());
  }
}

SK_TEST(launch_fence_wait_keeps_the_first_failure) {
  auto failing_wait = [](int) { throw CudaFailure(SK_ERR_DEVICE, "work failed"); };
  {
    JobResult r;
    sk::cuda::await_fence(0, r, 5, failing_wait);
    CHECK(r.status == SK_ERR_DEVICE && r.message == "work failed", "'%s'", r.message.c_str());
  }
  {
    JobResult r{SK_ERR_UNSUPPORTED, "launch failed"};
    sk::cuda::await_fence(0, r, 5, failing_wait);
    CHECK(r.status == SK_ERR_UNSUPPORTED && r.message == "launch failed", "'%s'", r.message.c_str());
  }
  {
    int waited = 0;
    JobResult r;
    sk::cuda::await_fence(0, r, 0, [&](int) { ++waited; });
    sk::cuda::await_fence(0, r, 3, [&](int e) { waited += e; });
    CHECK(waited == 3 && r.status == SK_OK, "waited %d", waited);
  }
}
