#include "js_jobs.h"

#include "../../csrc/addon/errors.h"

namespace sk::cuda {

JsCompletion::JsCompletion(Napi::Env env) {
  tsfn_ = Tsfn::New(env, "sparsekit.cuda", 0, 1, this);
  // Idle, the addon must not keep Node alive; will_settle() refs it.
  tsfn_.Unref(env);
}

void JsCompletion::will_settle(Napi::Env env) {
  if (pending_++ == 0) tsfn_.Ref(env);
}

void JsCompletion::post(std::unique_ptr<Job> job) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!closed_ && tsfn_.NonBlockingCall(job.get()) == napi_ok) {
      job.release();  // call_js owns it now
      return;
    }
    // The environment is closing: the job may hold JS references, which only
    // the JS thread may drop.
    undelivered_.push_back(std::move(job));
  }
}

void JsCompletion::call_js(Napi::Env env, Napi::Function, JsCompletion* self, Job* raw) {
  std::unique_ptr<Job> job(raw);
  if (env == nullptr) return;  // the function is being torn down; just free the job
  if (--self->pending_ == 0) self->tsfn_.Unref(env);
  // Only JsJobs settle (Job::settles), so only they are posted here.
  auto* js = static_cast<JsJob*>(job.get());
  if (job->result.status == SK_OK)
    js->deferred.Resolve(env.Undefined());
  else
    js->deferred.Reject(make_error(env, job->result.status, job->result.message).Value());
}

void JsCompletion::close() {
  std::vector<std::unique_ptr<Job>> undelivered;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return;
    closed_ = true;
    undelivered.swap(undelivered_);
  }
  tsfn_.Abort();
}

}  // namespace sk::cuda
