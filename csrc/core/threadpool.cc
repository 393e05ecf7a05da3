#include "threadpool.h"

#include "spin.h"

namespace sk {

namespace {

// How long parallel_for spins for its last worker before it sleeps.
constexpr auto kSpin = std::chrono::microseconds(50);
// How long a worker that finished a call waits, spinning politely, for the
// next one before it sleeps: waking a sleeping worker took 60-70 µs on the
// VMs we bench on, as long as a short op's whole share of the work.
constexpr auto kLinger = std::chrono::microseconds(100);

constexpr uint64_t kInside = 0xffff;  // workers inside the call
constexpr uint64_t kClosed = uint64_t(1) << 16;
constexpr int kGenerationShift = 17;
uint64_t generation_of(uint64_t state) { return state >> kGenerationShift; }

// Which pool this thread works for, and its slot there (thread_slot()).
thread_local const ThreadPool* tl_pool = nullptr;
thread_local int tl_slot = 0;

}  // namespace

ThreadPool::ThreadPool(int threads) {
  for (int i = 1; i < threads; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::run_tasks() {
  for (size_t i = next_.fetch_add(1); i < tasks_; i = next_.fetch_add(1)) (*task_)(i);
}

int ThreadPool::thread_slot() const { return tl_pool == this ? tl_slot : 0; }

void ThreadPool::worker_loop(int slot) {
  tl_pool = this, tl_slot = slot;
  uint64_t seen = 0;
  for (;;) {
    const auto go = [&] {
      return stop_.load(std::memory_order_acquire) || generation_of(state_.load(std::memory_order_acquire)) != seen;
    };
    if (!spin_until(go, kLinger, true)) {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait(lock, go);
    }
    if (stop_.load(std::memory_order_acquire)) return;
    uint64_t s = state_.load(std::memory_order_acquire);
    seen = generation_of(s);
    // Join unless the caller has closed the call (then task_ may be gone).
    bool joined = false;
    while (!(s & kClosed) && generation_of(s) == seen)
      if (state_.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel, std::memory_order_acquire)) {
        joined = true;
        break;
      }
    if (!joined) continue;
    run_tasks();
    const uint64_t before = state_.fetch_sub(1, std::memory_order_acq_rel);
    if ((before & kInside) == 1 && (before & kClosed)) {
      // Taking the lock orders this with a caller about to sleep on done_: it
      // either sees no worker inside or is already waiting when notified.
      { std::lock_guard<std::mutex> lock(mu_); }
      done_.notify_one();
    }
  }
}

void ThreadPool::parallel_for(size_t tasks, const std::function<void(size_t)>& task) {
  if (tasks == 0) return;
  if (workers_.empty() || tasks == 1) {
    for (size_t i = 0; i < tasks; ++i) task(i);
    return;
  }
  task_ = &task;
  tasks_ = tasks;
  next_.store(0, std::memory_order_relaxed);
  {
    std::lock_guard<std::mutex> lock(mu_);  // a worker between its check and its sleep sees the new generation
    const uint64_t next = generation_of(state_.load(std::memory_order_relaxed)) + 1;
    state_.store(next << kGenerationShift, std::memory_order_release);  // open, nobody inside
  }
  wake_.notify_all();
  run_tasks();
  // Every task is taken: close the call, then wait for the workers inside it.
  // A worker that had not joined by now never will, so none can still hold
  // this call's task pointer once no worker is inside.
  state_.fetch_or(kClosed, std::memory_order_acq_rel);
  const auto done = [&] { return (state_.load(std::memory_order_acquire) & kInside) == 0; };
  if (!spin_until(done, kSpin)) {
    std::unique_lock<std::mutex> lock(mu_);
    done_.wait(lock, done);
  }
  task_ = nullptr;
}

}  // namespace sk
