// A small stand-in for libFuzzer's driver, for g++ builds: a seeded mutator
// (bit flips, bytes, interesting integers, inserts, erases, splices) over a
// corpus of inputs that made a check accept more calls, run for a number of
// runs or seconds. On a sanitizer report the input is written to a file and
// the seed and run printed, so either replays it:
//   sk_parsers_fuzz --seed 7 --seconds 60     # fuzz
//   sk_parsers_fuzz fuzz-crash-7-1234.bin     # replay one input
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <chrono>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
extern int64_t sk_fuzz_accepted[4];
// From the sanitizer runtime, when one is linked: called before it ends the process.
extern "C" void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));

namespace {

constexpr size_t kCorpus = 512;
std::vector<uint8_t> g_current;
uint64_t g_seed = 0, g_run = 0;

void save_current() {
  char name[96];
  snprintf(name, sizeof name, "fuzz-crash-%llu-%llu.bin", static_cast<unsigned long long>(g_seed),
           static_cast<unsigned long long>(g_run));
  if (FILE* f = fopen(name, "wb")) {
    fwrite(g_current.data(), 1, g_current.size(), f);
    fclose(f);
  }
  fprintf(stderr, "sk_parsers_fuzz: failed at seed %llu run %llu; input saved as %s (replay: sk_parsers_fuzz %s)\n",
          static_cast<unsigned long long>(g_seed), static_cast<unsigned long long>(g_run), name, name);
}

std::vector<uint8_t> read_file(const char* path) {
  std::vector<uint8_t> out;
  if (FILE* f = fopen(path, "rb")) {
    for (int c; (c = fgetc(f)) != EOF;) out.push_back(static_cast<uint8_t>(c));
    fclose(f);
  }
  return out;
}

void mutate(std::mt19937_64& rng, std::vector<uint8_t>& d, const std::vector<std::vector<uint8_t>>& corpus) {
  static const uint32_t kInteresting[] = {0,   1,     2,     15,         16,          17,         255,
                                          256, 65535, 65536, 0x7fffffff, 0x80000000u, 0xffffffffu};
  for (int n = 1 + static_cast<int>(rng() % 4); n > 0; --n) {
    const size_t at = d.empty() ? 0 : rng() % d.size();
    switch (rng() % 7) {
      case 0:
        if (!d.empty()) d[at] ^= static_cast<uint8_t>(1u << (rng() % 8));
        break;
      case 1:
        if (!d.empty()) d[at] = static_cast<uint8_t>(rng());
        break;
      case 2: {
        const uint32_t v = kInteresting[rng() % (sizeof kInteresting / sizeof *kInteresting)];
        for (int b = 0; b < 4 && at + b < d.size(); ++b) d[at + b] = static_cast<uint8_t>(v >> (8 * b));
        break;
      }
      case 3: d.insert(d.begin() + at, 1 + rng() % 8, static_cast<uint8_t>(rng())); break;
      case 4:
        if (!d.empty()) d.erase(d.begin() + at, d.begin() + std::min(d.size(), at + 1 + rng() % 8));
        break;
      case 5:
        if (!corpus.empty()) {  // splice in a piece of another input
          const auto& o = corpus[rng() % corpus.size()];
          const size_t from = o.empty() ? 0 : rng() % o.size(), len = std::min<size_t>(o.size() - from, 1 + rng() % 32);
          d.insert(d.begin() + at, o.begin() + from, o.begin() + from + len);
        }
        break;
      default:
        if (!d.empty()) d[0] = static_cast<uint8_t>(rng());
        break;  // another section
    }
  }
  if (d.size() > 4096) d.resize(4096);
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 10;
  uint64_t runs = UINT64_MAX;
  std::vector<const char*> files;
  for (int i = 1; i < argc; ++i) {
    if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
      seconds = atof(argv[++i]);
    else if (!strcmp(argv[i], "--runs") && i + 1 < argc)
      runs = strtoull(argv[++i], nullptr, 10);
    else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
      g_seed = strtoull(argv[++i], nullptr, 10);
    else
      files.push_back(argv[i]);
  }
  if (__sanitizer_set_death_callback) __sanitizer_set_death_callback(save_current);
  for (const char* f : files) {
    g_current = read_file(f);
    LLVMFuzzerTestOneInput(g_current.data(), g_current.size());
    printf("sk_parsers_fuzz: %s ran\n", f);
  }
  if (!files.empty()) return 0;

  std::mt19937_64 rng(g_seed);
  std::vector<std::vector<uint8_t>> corpus;
  const auto t0 = std::chrono::steady_clock::now();
  const auto elapsed = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
  for (g_run = 0; g_run < runs && (g_run % 64 || elapsed() < seconds); ++g_run) {
    if (corpus.empty() || rng() % 8 == 0) {
      g_current.assign(16 + rng() % 512, 0);
      for (uint8_t& b : g_current) b = static_cast<uint8_t>(rng());
    } else {
      g_current = corpus[rng() % corpus.size()];
      mutate(rng, g_current, corpus);
    }
    int64_t before[4];
    memcpy(before, sk_fuzz_accepted, sizeof before);
    LLVMFuzzerTestOneInput(g_current.data(), g_current.size());
    // An input a check accepted reached the kernels: keep it to mutate (replacing a random one once full).
    if (memcmp(before, sk_fuzz_accepted, sizeof before) != 0) {
      if (corpus.size() < kCorpus)
        corpus.push_back(g_current);
      else
        corpus[rng() % kCorpus] = g_current;
    }
  }
  printf(
      "sk_parsers_fuzz: seed %llu, %llu runs in %.1f s; accepted: masks %lld, csr %lld, 2:4 %lld, permutations %lld; "
      "corpus %zu\n",
      static_cast<unsigned long long>(g_seed), static_cast<unsigned long long>(g_run), elapsed(),
      static_cast<long long>(sk_fuzz_accepted[0]), static_cast<long long>(sk_fuzz_accepted[1]),
      static_cast<long long>(sk_fuzz_accepted[2]), static_cast<long long>(sk_fuzz_accepted[3]), corpus.size());
  return 0;
}
