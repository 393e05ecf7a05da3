// The executor's job thread, the thread pool, the host-block allocator and
// the LRU cache under concurrent use: stress runs written for
// ThreadSanitizer (scripts/test-sanitizers.sh), which must report no race;
// without it they check order, counts and clean shutdown.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "../../csrc/core/host_alloc.h"
#include "../../csrc/core/job_runner.h"
#include "../../csrc/core/lru_cache.h"
#include "check.h"

namespace {

// Stands in for the JS thread: results posted from the job thread, run here in order.
class FakeJsThread {
 public:
  void post(std::function<void()> f) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      q_.push_back(std::move(f));
    }
    cv_.notify_one();
  }
  // Runs posted callbacks until `n` have run.
  void run(size_t n) {
    for (size_t done = 0; done < n; ++done) {
      std::function<void()> f;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return !q_.empty(); });
        f = std::move(q_.front());
        q_.pop_front();
      }
      f();
    }
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> q_;
};

}  // namespace

SK_TEST(job_runner_runs_jobs_in_order_while_the_thread_count_changes) {
  FakeJsThread js;
  sk::JobRunner runner(2);
  constexpr int kJobs = 600;
  std::vector<int> order;  // the JS thread's only
  std::atomic<int64_t> work_done{0};
  std::mt19937 rng(7);
  for (int j = 0; j < kJobs; ++j) {
    if (j % 37 == 0) runner.set_threads(1 + static_cast<int>(rng() % 4));
    const size_t tasks = rng() % 64;
    runner.submit(
        [tasks, &work_done](sk::ThreadPool& pool) {
          std::vector<int> hit(tasks, 0);  // each task writes its own slot: a race would be two writers
          pool.parallel_for(tasks, [&](size_t i) { hit[i] += 1; });
          int64_t sum = 0;
          for (int h : hit) sum += h;
          work_done += sum;
          return sk::JobResult{sum == static_cast<int64_t>(tasks) ? SK_OK : SK_ERR_UNSUPPORTED, ""};
        },
        [&js, &order, j](sk::JobResult r) {
          const bool ok = r.status == SK_OK;
          js.post([&order, j, ok] { order.push_back(ok ? j : -1 - j); });
          return true;
        });
  }
  js.run(kJobs);
  for (int j = 0; j < kJobs; ++j) CHECK(order[j] == j, "result %d came as %d", j, order[j]);
  CHECK(work_done.load() > 0, "no task ran");
}

SK_TEST(job_runner_shutdown_with_jobs_running_and_queued_drops_the_rest) {
  for (int round = 0; round < 20; ++round) {
    std::atomic<int> ran{0}, delivered{0};
    auto runner = std::make_unique<sk::JobRunner>(1 + round % 3);
    for (int j = 0; j < 50; ++j)
      runner->submit(
          [&ran](sk::ThreadPool& pool) {
            pool.parallel_for(8, [](size_t) { std::this_thread::sleep_for(std::chrono::microseconds(50)); });
            ++ran;
            return sk::JobResult{};
          },
          [&delivered](sk::JobResult) { return ++delivered, true; });
    std::this_thread::sleep_for(std::chrono::microseconds(200 * (round % 4)));
    CHECK(runner->shutdown(), "round %d: the first shutdown must stop the thread", round);
    CHECK(!runner->shutdown(), "round %d: a second shutdown must do nothing", round);
    const int after = ran.load();
    runner.reset();
    CHECK(ran.load() == after && delivered.load() == after, "round %d: %d ran, %d delivered", round, ran.load(),
          delivered.load());
  }
}

SK_TEST(job_runner_stops_when_a_result_cannot_be_delivered_and_a_throwing_job_is_an_error) {
  sk::JobRunner runner(2);
  std::atomic<int> delivered{0};
  std::atomic<int> status{-1};
  runner.submit([](sk::ThreadPool&) -> sk::JobResult { throw std::bad_alloc(); },
                [&](sk::JobResult r) { return status = r.status, ++delivered, true; });
  for (int j = 0; j < 10; ++j)
    runner.submit([](sk::ThreadPool&) { return sk::JobResult{}; }, [&](sk::JobResult) { return ++delivered, false; });
  while (delivered.load() < 2) std::this_thread::yield();
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  CHECK(status.load() == SK_ERR_OUT_OF_MEMORY, "a job throwing bad_alloc gave status %d", status.load());
  CHECK(delivered.load() == 2, "the thread kept running after a refused delivery: %d delivered", delivered.load());
}

SK_TEST(host_blocks_retained_and_released_from_several_threads) {
  constexpr int kThreads = 4, kRounds = 300;
  std::vector<std::thread> threads;
  std::atomic<int> bad{0};
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([t, &bad] {
      std::mt19937 rng(t);
      for (int r = 0; r < kRounds; ++r) {
        const size_t bytes = (rng() % 2 ? 64 << 10 : 256) + rng() % 512;  // cached sizes and small ones
        auto* p = static_cast<unsigned char*>(sk::host_alloc(bytes));
        if (!p) continue;
        p[0] = static_cast<unsigned char>(t), p[bytes - 1] = static_cast<unsigned char>(r);
        // A second holder on another thread, as a queued job holds a tensor's block.
        std::thread holder([p] {
          if (sk::host_retain(p)) sk::host_release(p);
        });
        if (!sk::host_retain(p)) ++bad;
        sk::host_release(p);
        holder.join();
        sk::host_release(p);
        (void)sk::host_stats();
      }
    });
  for (auto& th : threads) th.join();
  CHECK(bad.load() == 0, "%d live blocks were not found", bad.load());
  sk::host_empty_cache();
}

SK_TEST(lru_cache_shared_by_threads_under_a_lock_keeps_evicted_values_alive_for_their_holders) {
  struct Plan {
    explicit Plan(int k) : key(k), data(256, k) {}
    int key;
    std::vector<int> data;
  };
  sk::LruCache<int, Plan> cache(4);
  std::mutex mu;  // the callers' lock, as cusparselt/matmul.cc holds it
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      std::mt19937 rng(t);
      for (int i = 0; i < 2000; ++i) {
        const int key = static_cast<int>(rng() % 9);
        std::shared_ptr<Plan> plan;
        {
          std::lock_guard<std::mutex> lock(mu);
          plan = cache.get(key, [key] { return std::make_shared<Plan>(key); });
        }
        // Used outside the lock, possibly after another thread evicted it.
        for (int v : plan->data)
          if (v != key) ++wrong;
      }
    });
  for (auto& th : threads) th.join();
  CHECK(wrong.load() == 0, "%d values read wrong", wrong.load());
  CHECK(cache.size() <= 4, "cache holds %zu", cache.size());
}
