#include "executor.h"

#include <memory>

namespace sk {

Executor::Executor(Napi::Env env, int threads) : env_(env), runner_(threads) {
  tsfn_ = Napi::ThreadSafeFunction::New(env, Napi::Function::New(env, [](const Napi::CallbackInfo&) {}),
                                        "sparsekit.cpu", 0, 1);
  // Idle, the executor must not keep Node alive; submit() refs it while work is pending.
  tsfn_.Unref(env);
}

Executor::~Executor() { shutdown(); }

void Executor::submit(Work work, Done done) {
  if (pending_++ == 0) tsfn_.Ref(env_);
  auto settle = std::make_shared<Done>(std::move(done));
  runner_.submit(std::move(work), [this, settle](JobResult r) {
    auto result = std::make_shared<JobResult>(std::move(r));
    return tsfn_.NonBlockingCall([this, settle, result](Napi::Env env, Napi::Function) {
      if (--pending_ == 0) tsfn_.Unref(env);
      (*settle)(env, *result);
    }) == napi_ok;
  });
}

void Executor::shutdown() {
  if (runner_.shutdown()) tsfn_.Abort();
}

}  // namespace sk
