// Keeps an op's buffers alive until its Promise settles: JS references for the
// ArrayBuffers, and a host-block reference for memory sparsekit owns (so
// dispose() during the op cannot free it under the kernel). Created and
// destroyed on the JS thread; release_blocks() may run on the job thread.
#pragma once
#include <napi.h>

#include <memory>
#include <utility>
#include <vector>

#include "../core/host_alloc.h"
#include "convert.h"
#include "errors.h"
#include "executor.h"

namespace sk {

struct Holds {
  std::vector<Napi::Reference<Napi::ArrayBuffer>> buffers;
  std::vector<void*> blocks;

  void hold(const HostView& v) {
    buffers.push_back(Napi::Persistent(v.buffer));
    void* start = Napi::ArrayBuffer(v.buffer).Data();
    if (host_retain(start)) blocks.push_back(start);
  }
  void release_blocks() {
    for (void* b : blocks) host_release(b);
    blocks.clear();
  }
  // A job dropped unrun (its environment is shutting down) still lets go.
  ~Holds() { release_blocks(); }
};

// Queues an op's work (run on the job thread, returns a JobResult) and returns
// the Promise it settles. The holds keep the op's buffers alive until then;
// their JS references are dropped on the JS thread, after settling.
template <class Work>
Napi::Promise submit_op(Executor& executor, Napi::Env env, std::shared_ptr<Holds> holds, Work work) {
  auto deferred = std::make_shared<Napi::Promise::Deferred>(env);
  executor.submit(
      [holds, work = std::move(work)](ThreadPool& pool) {
        JobResult r = work(pool);
        holds->release_blocks();
        return r;
      },
      [deferred, holds](Napi::Env env, const JobResult& r) {
        if (r.status == SK_OK)
          deferred->Resolve(env.Undefined());
        else
          deferred->Reject(make_error(env, r.status, r.message).Value());
        holds->buffers.clear();
      });
  return deferred->Promise();
}

}  // namespace sk
