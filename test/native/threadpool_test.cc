// The thread pool runs every task exactly once, for any task count, and can
// be reused across many calls (the executor calls it once per op).
#include <stdint.h>

#include <atomic>
#include <functional>
#include <thread>
#include <vector>

#include "../../csrc/core/threadpool.h"
#include "check.h"

SK_TEST(threadpool_runs_each_task_once) {
  for (int threads : {1, 2, 3, 8}) {
    sk::ThreadPool pool(threads);
    for (size_t tasks : {0, 1, 2, 7, 1000}) {
      std::vector<std::atomic<int>> hits(tasks);
      for (int round = 0; round < 50; ++round) pool.parallel_for(tasks, [&](size_t i) { hits[i]++; });
      for (size_t i = 0; i < tasks; ++i)
        CHECK(hits[i] == 50, "threads %d tasks %zu task %zu ran %d times", threads, tasks, i, hits[i].load());
    }
  }
}

// Calls with fewer tasks than threads and next to extra busy threads (a
// neighbour's spinning pool): a worker often wakes after the caller has taken
// every task and closed the call; it must skip that call, never run a task of
// it (or of the next call) twice, and never make the caller miss a task.
SK_TEST(threadpool_late_workers_skip_closed_calls) {
  std::atomic<bool> stop{false};
  std::vector<std::thread> neighbours;
  for (int i = 0; i < 2; ++i)
    neighbours.emplace_back([&] {
      while (!stop.load(std::memory_order_relaxed)) {}
    });
  for (int threads : {2, 4}) {
    sk::ThreadPool pool(threads);
    for (size_t tasks : {2, 3, 64}) {
      std::vector<std::atomic<int>> hits(tasks);
      for (int round = 0; round < 2000; ++round) pool.parallel_for(tasks, [&](size_t i) { hits[i]++; });
      for (size_t i = 0; i < tasks; ++i)
        CHECK(hits[i] == 2000, "threads %d tasks %zu task %zu ran %d times", threads, tasks, i, hits[i].load());
    }
  }
  stop = true;
  for (auto& t : neighbours) t.join();
}

// thread_slot() names each thread of a call by a distinct slot in
// [0, threads()): the SpMM driver keeps per-thread copies of x by it. The
// calling thread is slot 0, and a thread outside the pool reads 0 as well.
SK_TEST(threadpool_thread_slots_are_distinct_per_thread) {
  for (int threads : {1, 2, 3, 8}) {
    sk::ThreadPool pool(threads);
    CHECK(pool.thread_slot() == 0, "caller outside a call: slot %d", pool.thread_slot());
    for (int round = 0; round < 50; ++round) {
      std::vector<std::atomic<uint64_t>> owner(static_cast<size_t>(threads));
      std::atomic<int> bad{0};
      pool.parallel_for(64, [&](size_t) {
        const int slot = pool.thread_slot();
        if (slot < 0 || slot >= threads) return void(++bad);
        const uint64_t me = std::hash<std::thread::id>{}(std::this_thread::get_id()) | 1;
        uint64_t seen = 0;
        // Every task of a slot comes from one thread.
        if (!owner[static_cast<size_t>(slot)].compare_exchange_strong(seen, me) && seen != me) ++bad;
      });
      CHECK(bad == 0, "threads %d: %d tasks saw a slot out of range or shared", threads, bad.load());
    }
    sk::ThreadPool other(2);
    std::atomic<int> foreign{0};
    other.parallel_for(8, [&](size_t) { foreign += pool.thread_slot() != 0; });
    CHECK(foreign == 0, "threads %d: another pool's threads read a slot of this one", threads);
  }
}
