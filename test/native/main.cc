// Runs every SK_TEST and prints the closing line test runners read.
#include <string.h>

#include "check.h"

namespace sktest {
std::vector<Case>& cases() {
  static std::vector<Case> all;
  return all;
}
int failures_in_case = 0;
}  // namespace sktest

int main(int argc, char** argv) {
  int passed = 0, failed = 0;
  for (const auto& c : sktest::cases()) {
    if (argc > 1 && !strstr(c.name, argv[1])) continue;
    sktest::failures_in_case = 0;
    c.fn();
    if (sktest::failures_in_case == 0) {
      ++passed;
      printf("ok   %s\n", c.name);
    } else {
      ++failed;
      printf("FAIL %s (%d checks)\n", c.name, sktest::failures_in_case);
    }
  }
  printf("native: %d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
