#include "layout.h"

#include <string.h>

#include <algorithm>

#include "fragments.h"

namespace sk::sp24 {
namespace {

int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

// Sets the code of (row, group) in CPU-layout metadata: byte r/2 of the
// (panel, group) word, the low nibble for even r (docs/formats.md).
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

bool find_bad_group(const uint8_t* meta, int64_t n, int64_t k, int64_t* row, int64_t* group) {
  return sp24_panels_first_bad(meta, 0, sp24_panels(n), k / 4, row, group);
}

void to_cuda_layout(const uint16_t* values, const uint8_t* meta, int64_t n, int64_t k, uint16_t* values_out,
                    uint32_t* meta_out) {
  const CudaLayoutDims d = cuda_layout_dims(n, k);
  const int64_t groups = k / 4, half_pad = d.k_pad / 2, k_steps = d.k_pad / 32;
  memset(values_out, 0, d.values * sizeof(uint16_t));
  // Every nibble starts as the padding pattern, then the real groups overwrite theirs.
  uint32_t pad_word = 0;
  for (int i = 0; i < 8; ++i) pad_word |= uint32_t{kPadNibble} << (4 * i);
  for (size_t i = 0; i < d.meta_words; ++i) meta_out[i] = pad_word;
  for (int64_t r = 0; r < n; ++r)
    for (int64_t q = 0; q < groups; ++q) {
      for (int s = 0; s < 2; ++s) values_out[r * half_pad + 2 * q + s] = values[sp24_value_at(r, q, s, groups)];
      size_t word;
      unsigned bit;
      cuda_meta_slot(r, q, k_steps, &word, &bit);
      meta_out[word] = (meta_out[word] & ~(0xFu << bit)) | (sp24_code(meta, r, q, groups) << bit);
    }
}

void from_cuda_layout(const uint16_t* values_cuda, const uint32_t* meta_cuda, int64_t n, int64_t k,
                      uint16_t* values_out, uint8_t* meta_out) {
  const CudaLayoutDims d = cuda_layout_dims(n, k);
  const int64_t groups = k / 4, half_pad = d.k_pad / 2, k_steps = d.k_pad / 32;
  // Padding rows of the last panel: zero values and code 0x4 (every byte 0x44), as the CPU compressor writes them.
  // fill_n, not memset: an empty weight passes null pointers, which memset may not take even for 0 bytes.
  std::fill_n(values_out, sp24_value_count(n, k), uint16_t{0});
  std::fill_n(meta_out, sp24_meta_bytes(n, k), static_cast<uint8_t>(kPadNibble * 0x11));
  for (int64_t r = 0; r < n; ++r)
    for (int64_t q = 0; q < groups; ++q) {
      for (int s = 0; s < 2; ++s) values_out[sp24_value_at(r, q, s, groups)] = values_cuda[r * half_pad + 2 * q + s];
      size_t word;
      unsigned bit;
      cuda_meta_slot(r, q, k_steps, &word, &bit);
      sp24_set_code(meta_out, r, q, groups, (meta_cuda[word] >> bit) & 0xFu);
    }
}

void expand_dense(const uint16_t* values, const uint8_t* meta, int64_t n, int64_t k, uint16_t* dense_out) {
  const int64_t groups = k / 4;
  std::fill_n(dense_out, n * k, uint16_t{0});  // n · k may be 0 with dense_out null
  for (int64_t r = 0; r < n; ++r)
    for (int64_t q = 0; q < groups; ++q) {
      const unsigned code = sp24_code(meta, r, q, groups);
      dense_out[r * k + 4 * q + (code & 3u)] = values[sp24_value_at(r, q, 0, groups)];
      dense_out[r * k + 4 * q + ((code >> 2) & 3u)] = values[sp24_value_at(r, q, 1, groups)];
    }
}

}  // namespace sk::sp24
