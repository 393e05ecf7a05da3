// The thread pool runs every task exactly once, for any task count, and can
// be reused across many calls (the executor calls it once per op).
#include <atomic>
#include <vector>

#include "../../csrc/core/threadpool.h"
#include "check.h"

SK_TEST(threadpool_runs_each_task_once) {
  for (int threads : {1, 2, 3, 8}) {
    sk::ThreadPool pool(threads);
    for (size_t tasks : {0, 1, 2, 7, 1000}) {
      std::vector<std::atomic<int>> hits(tasks);
      for (int round = 0; round < 50; ++round) pool.parallel_for(tasks, [&](size_t i) { hits[i]++; });
      for (size_t i = 0; i < tasks; ++i) CHECK(hits[i] == 50, "threads %d tasks %zu task %zu ran %d times", threads, tasks, i, hits[i].load());
    }
  }
}
