// Keeps an op's buffers alive until its Promise settles: JS references for the
// ArrayBuffers, and a host-block reference for memory sparsekit owns (so
// dispose() during the op cannot free it under the kernel). Created and
// destroyed on the JS thread; release_blocks() may run on the job thread.
#pragma once
#include <napi.h>

#include <vector>

#include "../core/host_alloc.h"
#include "convert.h"

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

}  // namespace sk
