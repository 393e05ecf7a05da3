#include "layout.h"

#include <string.h>

#include "fragments.h"

namespace sk::sparse24 {
namespace {

int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

unsigned cpu_nibble(const uint8_t* meta, int64_t bytes_per_row, int64_t row, int64_t group) {
  const uint8_t b = meta[row * bytes_per_row + group / 2];
  return (group & 1) ? (b >> 4) : (b & 0xFu);
}

// Position of metadata for (row, 4-group) in the CUDA words: word index and bit.
void cuda_meta_slot(int64_t row, int64_t group, int64_t k_steps, size_t* word, unsigned* bit) {
  const int64_t tile = row / 16, r = row % 16, step = group / 8, in_step = group % 8;
  const int t = static_cast<int>(in_step / 4), j = static_cast<int>(in_step % 4);
  const int g = static_cast<int>(r % 8);
  *word = static_cast<size_t>((tile * k_steps + step) * kMetaWordsPerStep + meta_word_in_step(g, t));
  *bit = (r < 8 ? 0u : 16u) + 4u * static_cast<unsigned>(j);
}

}  // namespace

CudaLayoutDims cuda_layout_dims(int64_t n, int64_t k) {
  CudaLayoutDims d{n, k, round_up(n > 0 ? n : 1, kNPad), round_up(k > 0 ? k : 1, kKPad), 0, 0};
  d.values = static_cast<size_t>(d.n_pad) * static_cast<size_t>(d.k_pad / 2);
  d.meta_words = static_cast<size_t>(d.n_pad / 16) * static_cast<size_t>(d.k_pad / 32) * kMetaWordsPerStep;
  return d;
}

size_t cpu_meta_bytes(int64_t n, int64_t k) { return static_cast<size_t>(n) * static_cast<size_t>((k + 7) / 8); }

int64_t find_bad_group(const uint8_t* meta, int64_t n, int64_t k) {
  const int64_t groups = k / 4, bytes = (k + 7) / 8;
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t q = 0; q < groups; ++q)
      if (!valid_nibble(cpu_nibble(meta, bytes, r, q))) return r * groups + q;
    if (groups % 2 == 1 && cpu_nibble(meta, bytes, r, groups) != 0) return r * groups + groups;
  }
  return -1;
}

void to_cuda_layout(const uint16_t* values, const uint8_t* meta, int64_t n, int64_t k, uint16_t* values_out,
                    uint32_t* meta_out) {
  const CudaLayoutDims d = cuda_layout_dims(n, k);
  const int64_t half = k / 2, half_pad = d.k_pad / 2, k_steps = d.k_pad / 32, bytes = (k + 7) / 8;
  memset(values_out, 0, d.values * sizeof(uint16_t));
  for (int64_t r = 0; r < n; ++r) memcpy(values_out + r * half_pad, values + r * half, half * sizeof(uint16_t));
  // Every nibble starts as the padding pattern, then the real groups overwrite theirs.
  uint32_t pad_word = 0;
  for (int i = 0; i < 8; ++i) pad_word |= uint32_t{kPadNibble} << (4 * i);
  for (size_t i = 0; i < d.meta_words; ++i) meta_out[i] = pad_word;
  for (int64_t r = 0; r < n; ++r)
    for (int64_t q = 0; q < k / 4; ++q) {
      size_t word;
      unsigned bit;
      cuda_meta_slot(r, q, k_steps, &word, &bit);
      meta_out[word] = (meta_out[word] & ~(0xFu << bit)) | (cpu_nibble(meta, bytes, r, q) << bit);
    }
}

void from_cuda_layout(const uint16_t* values_cuda, const uint32_t* meta_cuda, int64_t n, int64_t k,
                      uint16_t* values_out, uint8_t* meta_out) {
  const CudaLayoutDims d = cuda_layout_dims(n, k);
  const int64_t half = k / 2, half_pad = d.k_pad / 2, k_steps = d.k_pad / 32, bytes = (k + 7) / 8;
  for (int64_t r = 0; r < n; ++r) memcpy(values_out + r * half, values_cuda + r * half_pad, half * sizeof(uint16_t));
  memset(meta_out, 0, cpu_meta_bytes(n, k));
  for (int64_t r = 0; r < n; ++r)
    for (int64_t q = 0; q < k / 4; ++q) {
      size_t word;
      unsigned bit;
      cuda_meta_slot(r, q, k_steps, &word, &bit);
      const unsigned nibble = (meta_cuda[word] >> bit) & 0xFu;
      meta_out[r * bytes + q / 2] |= static_cast<uint8_t>(nibble << ((q & 1) ? 4 : 0));
    }
}

void expand_dense(const uint16_t* values, const uint8_t* meta, int64_t n, int64_t k, uint16_t* dense_out) {
  const int64_t bytes = (k + 7) / 8;
  memset(dense_out, 0, static_cast<size_t>(n) * static_cast<size_t>(k) * sizeof(uint16_t));
  for (int64_t r = 0; r < n; ++r)
    for (int64_t q = 0; q < k / 4; ++q) {
      const unsigned nibble = cpu_nibble(meta, bytes, r, q);
      dense_out[r * k + 4 * q + (nibble & 3u)] = values[r * (k / 2) + 2 * q];
      dense_out[r * k + 4 * q + ((nibble >> 2) & 3u)] = values[r * (k / 2) + 2 * q + 1];
    }
}

}  // namespace sk::sparse24
