// The paged KV cache's bookkeeping, shared by the CPU and CUDA bindings (no
// N-API, no CUDA types): a pool of page blocks that grows by slabs (memory the
// binding provides: host or device), each sequence's page table and length.
// It lives on the JS thread. Jobs get copies of what they read (a table of
// page pointers, the lengths), and keep the slabs alive through shared ownership,
// so a cache disposed while its work is queued frees its memory after that work.
#pragma once
#include <stdint.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "decode.h"
#include "dtype.h"
#include "params.h"
#include "status.h"

namespace sk {

struct KvConfig {
  sk_dtype type;
  int64_t batch, kv_heads, head_dim, page_size;
  int64_t max_pages;  // the pool's limit, in pages
};

class KvPages {
 public:
  // `bytes` of zeroed memory, or null; freeing it is the pointer's deleter's job.
  using Slab = std::shared_ptr<uint8_t>;
  using SlabAlloc = std::function<Slab(size_t bytes)>;

  KvPages(const KvConfig& c, SlabAlloc alloc)
      : c_(c), layout_(kv_page_layout(static_cast<int64_t>(sk_dtype_size(c.type)), c.kv_heads, c.head_dim, c.page_size)),
        alloc_(std::move(alloc)), tables_(static_cast<size_t>(c.batch)), lengths_(static_cast<size_t>(c.batch), 0) {}

  const KvConfig& config() const { return c_; }
  const KvPageLayout& layout() const { return layout_; }
  const std::vector<int64_t>& lengths() const { return lengths_; }
  int64_t pages_used() const { return static_cast<int64_t>(page_ptr_.size()) - free_; }
  int64_t pages_pooled() const { return static_cast<int64_t>(page_ptr_.size()); }
  int64_t bytes_pooled() const { return pages_pooled() * layout_.bytes; }
  int64_t most_pages() const {
    int64_t n = 0;
    for (const auto& t : tables_) n = std::max(n, static_cast<int64_t>(t.size()));
    return n;
  }

  // Adds count[b] tokens to each sequence b, taking the pages that needs from
  // the pool (grown by a slab when short): all or nothing. Returns
  // SK_ERR_OUT_OF_MEMORY, with `why`, past max_pages or when no slab can be had.
  sk_status append(const int64_t* count, std::string* why) {
    int64_t need = 0;
    for (int64_t b = 0; b < c_.batch; ++b)
      need += kv_pages_for(lengths_[b] + count[b], c_.page_size) - static_cast<int64_t>(tables_[b].size());
    if (pages_used() + need > c_.max_pages) {
      *why = "Expected at most " + std::to_string(c_.max_pages) + " pages in the cache (maxPages) but this append needs " +
             std::to_string(pages_used() + need);
      return SK_ERR_OUT_OF_MEMORY;
    }
    if (need > free_) {
      // Doubling the pool keeps the number of slabs logarithmic in its size.
      const int64_t want = std::min(std::max({need - free_, pages_pooled(), kMinSlabPages}), c_.max_pages - pages_pooled());
      const int64_t grow = std::max(want, need - free_);
      Slab slab = alloc_(static_cast<size_t>(grow * layout_.bytes));
      if (!slab) {
        *why = "Could not allocate " + std::to_string(grow * layout_.bytes) + " bytes for " + std::to_string(grow) +
               " more KV cache pages";
        return SK_ERR_OUT_OF_MEMORY;
      }
      for (int64_t i = 0; i < grow; ++i) page_ptr_.push_back(slab.get() + i * layout_.bytes);
      slabs_.push_back(std::move(slab));
      free_ += grow;
    }
    for (int64_t b = 0; b < c_.batch; ++b) {
      lengths_[b] += count[b];
      while (static_cast<int64_t>(tables_[b].size()) < kv_pages_for(lengths_[b], c_.page_size))
        tables_[b].push_back(page_ptr_[static_cast<size_t>(pages_pooled() - free_--)]);
    }
    return SK_OK;
  }

  // The pages as a kernel reads them, over a table from table().
  sk_kv_pages view(uint8_t* const* table, int64_t stride) const {
    return sk_kv_pages{c_.type, static_cast<int32_t>(c_.kv_heads), static_cast<int32_t>(c_.head_dim),
                       static_cast<int32_t>(c_.page_size), table, stride};
  }

  // [batch][stride] the page blocks of every sequence (null past its pages), stride ≥ 1.
  std::vector<uint8_t*> table(int64_t* stride) const {
    *stride = std::max<int64_t>(most_pages(), 1);
    std::vector<uint8_t*> out(static_cast<size_t>(c_.batch * *stride), nullptr);
    for (int64_t b = 0; b < c_.batch; ++b) std::copy(tables_[b].begin(), tables_[b].end(), out.begin() + b * *stride);
    return out;
  }

 private:
  static constexpr int64_t kMinSlabPages = 16;

  KvConfig c_;
  KvPageLayout layout_;
  SlabAlloc alloc_;
  std::vector<Slab> slabs_;
  std::vector<uint8_t*> page_ptr_;           // every pooled page, in pool order
  int64_t free_ = 0;                          // the last `free_` of page_ptr_ are unused
  std::vector<std::vector<uint8_t*>> tables_;  // [batch] the page of each logical page
  std::vector<int64_t> lengths_;
};

}  // namespace sk
