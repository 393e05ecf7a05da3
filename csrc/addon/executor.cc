#include "executor.h"

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

void Executor::job_loop() {
  for (;;) {
    std::unique_ptr<Job> job;
    int threads;
    {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (stop_) return;
      job = std::move(queue_.front());
      queue_.pop_front();
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
    // The work's captures may hold JS references: they must die on the JS
    // thread, with done, never here.
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
