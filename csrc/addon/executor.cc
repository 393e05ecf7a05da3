#include "executor.h"

#include "../core/spin.h"

namespace sk {

Executor::Executor(Napi::Env env, int threads) : env_(env), threads_wanted_(threads) {
  tsfn_ = Napi::ThreadSafeFunction::New(env, Napi::Function::New(env, [](const Napi::CallbackInfo&) {}),
                                        "sparsekit.cpu", 0, 1);
  // Idle, the executor must not keep Node alive; submit() refs it while work is pending.
  tsfn_.Unref(env);
  thread_ = std::thread([this] { job_loop(); });
}

Executor::~Executor() { shutdown(); }

void Executor::submit(Work work, Done done) {
  if (pending_++ == 0) tsfn_.Ref(env_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(std::make_unique<Job>(Job{std::move(work), std::move(done)}));
    queued_.store(queue_.size(), std::memory_order_release);
  }
  wake_.notify_one();
}

void Executor::set_threads(int threads) {
  std::lock_guard<std::mutex> lock(mu_);
  threads_wanted_ = threads;
}

void Executor::shutdown() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return;
    stop_ = true;
    queue_.clear();
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
  tsfn_.Abort();
}

// Between ops the job thread spins up to 50 µs for the next one before it
// sleeps: a program awaiting op after op submits the next within tens of µs,
// and waking a sleeping thread costs about as much on a VM (bench/results/tuning-notes.md).
// Only this thread spins (idle pool workers sleep, threadpool.h), so one core stays free for
// the JS thread.
void Executor::spin_for_job() {
  spin_until([this] { return queued_.load(std::memory_order_acquire) != 0; }, std::chrono::microseconds(50));
}

void Executor::job_loop() {
  for (;;) {
    std::unique_ptr<Job> job;
    int threads;
    spin_for_job();
    {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (stop_) return;
      job = std::move(queue_.front());
      queue_.pop_front();
      queued_.store(queue_.size(), std::memory_order_relaxed);
      threads = threads_wanted_;
    }
    if (!pool_ || pool_->threads() != threads) {
      pool_.reset();
      pool_ = std::make_unique<ThreadPool>(threads);
    }
    auto result = std::make_shared<JobResult>();
    try {
      *result = job->work(*pool_);
    } catch (const std::bad_alloc&) {
      *result = {SK_ERR_OUT_OF_MEMORY, "out of memory while running the op"};
    } catch (const std::exception& e) {
      *result = {SK_ERR_UNSUPPORTED, e.what()};
    }
    // Released here, on the job thread: whatever JS references the work's
    // captures share (an op's Holds, holds.h) are also owned by done, which
    // runs on the JS thread and lets go of them last.
    job->work = Work();
    auto done = std::make_shared<Done>(std::move(job->done));
    napi_status st = tsfn_.NonBlockingCall([this, done, result](Napi::Env env, Napi::Function) {
      --pending_;
      if (pending_ == 0) tsfn_.Unref(env);
      (*done)(env, *result);
    });
    if (st != napi_ok) return;  // the environment is closing
  }
}

}  // namespace sk
