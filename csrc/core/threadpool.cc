#include "threadpool.h"

#include "spin.h"

namespace sk {

namespace {

// How long parallel_for spins for its last worker before it sleeps.
constexpr auto kSpin = std::chrono::microseconds(50);

}  // namespace

ThreadPool::ThreadPool(int threads) {
  for (int i = 1; i < threads; ++i) workers_.emplace_back([this] { worker_loop(); });
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

void ThreadPool::worker_loop() {
  size_t seen = 0;
  for (;;) {
    const auto go = [&] { return stop_.load(std::memory_order_acquire) || generation_.load(std::memory_order_acquire) != seen; };
    {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait(lock, go);
    }
    if (stop_.load(std::memory_order_acquire)) return;
    seen = generation_.load(std::memory_order_acquire);
    run_tasks();
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      // Taking the lock orders this with a caller about to sleep on done_: it
      // either sees pending_ at zero or is already waiting when notified.
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
  pending_.store(workers_.size(), std::memory_order_relaxed);
  {
    std::lock_guard<std::mutex> lock(mu_);  // a worker between its check and its sleep sees the new generation
    generation_.fetch_add(1, std::memory_order_release);
  }
  wake_.notify_all();
  run_tasks();
  // Every worker takes part in every generation, so none can still hold this
  // call's task pointer once pending_ is zero.
  const auto done = [&] { return pending_.load(std::memory_order_acquire) == 0; };
  if (!spin_until(done, kSpin)) {
    std::unique_lock<std::mutex> lock(mu_);
    done_.wait(lock, done);
  }
  task_ = nullptr;
}

}  // namespace sk
