// A minimal test harness for the native core: CHECK records a failure and
// keeps going; main() prints "N passed, N failed".
#pragma once
#include <stdio.h>

#include <functional>
#include <vector>

namespace sktest {

struct Case {
  const char* name;
  std::function<void()> fn;
};
std::vector<Case>& cases();
extern int failures_in_case;

struct Register {
  Register(const char* name, std::function<void()> fn) { cases().push_back({name, fn}); }
};

}  // namespace sktest

#define SK_TEST(name)                                                                                                  \
  static void name();                                                                                                  \
  static sktest::Register register_##name(#name, name);                                                                \
  static void name()

#define CHECK(cond, ...)                                                                                               \
  do {                                                                                                                 \
    if (!(cond)) {                                                                                                     \
      if (sktest::failures_in_case++ < 10) {                                                                           \
        fprintf(stderr, "  %s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond);                                     \
        fprintf(stderr, __VA_ARGS__);                                                                                  \
        fprintf(stderr, "\n");                                                                                         \
      }                                                                                                                \
    }                                                                                                                  \
  } while (0)
