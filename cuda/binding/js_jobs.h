// The JS side of executor jobs. A JsJob carries the Promise to settle and
// the JS objects to keep alive (the host ArrayBuffer a copy reads or writes)
// until its work has finished. JsJobs are created and destroyed on the JS
// thread only; the executor's threads just move them, and JsCompletion
// brings them back through one thread-safe function per environment.
#pragma once
#include <napi.h>

#include <memory>
#include <mutex>
#include <vector>

#include "../stream_executor.h"

namespace sk::cuda {

class JsJob : public Job {
 public:
  JsJob(Napi::Env env, Launch launch) : Job(std::move(launch)), deferred(Napi::Promise::Deferred::New(env)) {}
  void keep_alive(Napi::Object object) { kept_.push_back(Napi::Persistent(object)); }

  Napi::Promise::Deferred deferred;

 private:
  std::vector<Napi::ObjectReference> kept_;
};

class JsCompletion {
 public:
  explicit JsCompletion(Napi::Env env);
  // JS thread, once per JsJob before it is submitted: while any is pending
  // the thread-safe function is ref'd, so Node stays alive until it settles.
  void will_settle(Napi::Env env);
  // Any thread: settles the job's Promise on the JS thread, then destroys it.
  void post(std::unique_ptr<Job> job);
  // JS thread, at environment cleanup after every executor has stopped.
  void close();

 private:
  static void call_js(Napi::Env env, Napi::Function, JsCompletion* self, Job* job);
  using Tsfn = Napi::TypedThreadSafeFunction<JsCompletion, Job, &JsCompletion::call_js>;

  Tsfn tsfn_;
  int pending_ = 0;  // JS thread only
  std::mutex mu_;
  std::vector<std::unique_ptr<Job>> undelivered_;  // posted while closing: destroyed by close()
  bool closed_ = false;
};

}  // namespace sk::cuda
