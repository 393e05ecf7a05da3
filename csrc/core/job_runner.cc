#include "job_runner.h"

#include <new>

#include "spin.h"

namespace sk {

JobRunner::JobRunner(int threads) : threads_wanted_(threads) {
  thread_ = std::thread([this] { loop(); });
}

JobRunner::~JobRunner() { shutdown(); }

void JobRunner::submit(Work work, Deliver deliver) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(std::make_unique<Job>(Job{std::move(work), std::move(deliver)}));
    queued_.store(queue_.size(), std::memory_order_release);
  }
  wake_.notify_one();
}

void JobRunner::set_threads(int threads) { threads_wanted_.store(threads, std::memory_order_relaxed); }

bool JobRunner::shutdown() {
  std::deque<std::unique_ptr<Job>> dropped;  // destroyed outside the lock
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return false;
    stop_ = true;
    dropped.swap(queue_);
    queued_.store(0, std::memory_order_relaxed);
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
  return true;
}

// Between jobs the job thread spins up to 50 µs for the next one before it
// sleeps: a program awaiting op after op submits the next within tens of µs,
// and waking a sleeping thread costs about as much on a VM
// (bench/results/tuning-notes.md). The spin yields its core between checks,
// as the pool's lingering workers do (threadpool.h), so the JS thread, which
// has the result to take and the next op to submit, never waits for a core.
void JobRunner::loop() {
  for (;;) {
    spin_until([this] { return queued_.load(std::memory_order_acquire) != 0; }, std::chrono::microseconds(50), true);
    std::unique_ptr<Job> job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (stop_) return;
      job = std::move(queue_.front());
      queue_.pop_front();
      queued_.store(queue_.size(), std::memory_order_relaxed);
    }
    const int threads = threads_wanted_.load(std::memory_order_relaxed);
    if (!pool_ || pool_->threads() != threads) {
      pool_.reset();
      pool_ = std::make_unique<ThreadPool>(threads);
    }
    JobResult result;
    try {
      result = job->work(*pool_);
    } catch (const std::bad_alloc&) {
      result = {SK_ERR_OUT_OF_MEMORY, "out of memory while running the op"};
    } catch (const std::exception& e) {
      result = {SK_ERR_UNSUPPORTED, e.what()};
    }
    // The work's captures go now; what its result needs travels with deliver.
    job->work = Work();
    if (!job->deliver(std::move(result))) return;  // the environment is closing
  }
}

}  // namespace sk
