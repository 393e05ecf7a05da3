// The paged KV cache's bookkeeping, shared by the CPU and CUDA bindings (no
// N-API, no CUDA types): a pool of pages that grows by slabs (memory the
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
      : c_(c),
        layout_(kv_page_layout(static_cast<int64_t>(sk_dtype_size(c.type)), c.kv_heads, c.head_dim, c.page_size)),
        slab_pages_(std::min(slab_pages(layout_, c.kv_heads), c.max_pages)),
        alloc_(std::move(alloc)),
        tables_(static_cast<size_t>(c.batch)),
        lengths_(static_cast<size_t>(c.batch), 0) {}

  const KvConfig& config() const { return c_; }
  const KvPageLayout& layout() const { return layout_; }
  const std::vector<int64_t>& lengths() const { return lengths_; }
  int64_t pages_used() const { return static_cast<int64_t>(pages_.size()) - free_; }
  int64_t pages_pooled() const { return static_cast<int64_t>(pages_.size()); }
  int64_t page_bytes() const { return c_.kv_heads * layout_.kv_bytes + layout_.meta_bytes; }
  int64_t bytes_pooled() const { return pages_pooled() * page_bytes(); }
  int64_t head_stride() const { return slab_pages_ * layout_.kv_bytes; }
  int64_t most_pages() const {
    int64_t n = 0;
    for (const auto& t : tables_) n = std::max(n, static_cast<int64_t>(t.size()));
    return n;
  }

  // Adds count[b] tokens to each sequence b, taking the pages that needs from
  // the pool (grown when short): all or nothing. Returns SK_ERR_OUT_OF_MEMORY,
  // with `why`, past max_pages or when no memory can be had.
  sk_status append(const int64_t* count, std::string* why) {
    int64_t need = 0;
    for (int64_t b = 0; b < c_.batch; ++b)
      need += kv_pages_for(lengths_[b] + count[b], c_.page_size) - static_cast<int64_t>(tables_[b].size());
    if (pages_used() + need > c_.max_pages) {
      *why = "Expected at most " + std::to_string(c_.max_pages) +
             " pages in the cache (maxPages) but this append needs " + std::to_string(pages_used() + need);
      return SK_ERR_OUT_OF_MEMORY;
    }
    if (need > free_ && !grow(need - free_, why)) return SK_ERR_OUT_OF_MEMORY;
    for (int64_t b = 0; b < c_.batch; ++b) {
      lengths_[b] += count[b];
      while (static_cast<int64_t>(tables_[b].size()) < kv_pages_for(lengths_[b], c_.page_size))
        tables_[b].push_back(pages_[static_cast<size_t>(pages_pooled() - free_--)]);
    }
    return SK_OK;
  }

  // The (page, KV head 0) blocks and the metadata blocks of every sequence's
  // pages, each [batch][stride] (null past a sequence's pages), stride ≥ 1.
  void tables(std::vector<uint8_t*>* kv, std::vector<uint8_t*>* meta, int64_t* stride) const {
    *stride = std::max<int64_t>(most_pages(), 1);
    kv->assign(static_cast<size_t>(c_.batch * *stride), nullptr);
    meta->assign(kv->size(), nullptr);
    for (int64_t b = 0; b < c_.batch; ++b)
      for (size_t i = 0; i < tables_[b].size(); ++i) {
        (*kv)[b * *stride + i] = tables_[b][i].kv;
        (*meta)[b * *stride + i] = tables_[b][i].meta;
      }
  }

  // The pages as a kernel reads them, over tables from tables().
  sk_kv_pages view(const std::vector<uint8_t*>& kv, const std::vector<uint8_t*>& meta, int64_t stride) const {
    return view(kv.data(), meta.data(), stride);
  }
  sk_kv_pages view(uint8_t* const* kv, uint8_t* const* meta, int64_t stride) const {
    return sk_kv_pages{c_.type,
                       static_cast<int32_t>(c_.kv_heads),
                       static_cast<int32_t>(c_.head_dim),
                       static_cast<int32_t>(c_.page_size),
                       kv,
                       meta,
                       stride,
                       head_stride()};
  }

 private:
  struct Page {
    uint8_t* kv;    // the (page, KV head 0) block
    uint8_t* meta;  // the metadata block
  };

  // Pages per slab: a slab of about 2 MiB keeps each KV head's run of blocks
  // long enough to stream, without committing much memory to a small cache.
  static int64_t slab_pages(const KvPageLayout& l, int64_t heads) {
    const int64_t per_page = heads * l.kv_bytes + l.meta_bytes;
    return std::max<int64_t>(1, std::min<int64_t>(64, (int64_t{2} << 20) / per_page));
  }

  // Adds at least `pages` pages in whole slabs (so the pool may hold up to a
  // slab more than max_pages; pages in use never exceed it); doubling the pool
  // keeps the number of allocations logarithmic in its size. A slab is laid
  // out as [KV head][page] (page, KV head) blocks, then [page] metadata blocks.
  bool grow(int64_t pages, std::string* why) {
    const int64_t limit = c_.max_pages - pages_pooled();
    const int64_t want = std::min(std::max({pages, pages_pooled(), slab_pages_}), limit);
    const int64_t slabs = (std::max(want, pages) + slab_pages_ - 1) / slab_pages_;
    const int64_t slab_bytes = slab_pages_ * page_bytes();
    Slab mem = alloc_(static_cast<size_t>(slabs * slab_bytes));
    if (!mem) {
      *why = "Could not allocate " + std::to_string(slabs * slab_bytes) + " bytes for " +
             std::to_string(slabs * slab_pages_) + " more KV cache pages";
      return false;
    }
    for (int64_t s = 0; s < slabs; ++s) {
      uint8_t* base = mem.get() + s * slab_bytes;
      for (int64_t i = 0; i < slab_pages_; ++i)
        pages_.push_back(
            Page{base + i * layout_.kv_bytes, base + c_.kv_heads * head_stride() + i * layout_.meta_bytes});
    }
    memory_.push_back(std::move(mem));
    free_ += slabs * slab_pages_;
    return true;
  }

  KvConfig c_;
  KvPageLayout layout_;
  int64_t slab_pages_;
  SlabAlloc alloc_;
  std::vector<Slab> memory_;
  std::vector<Page> pages_;                // every pooled page, in pool order
  int64_t free_ = 0;                       // the last `free_` of pages_ are unused
  std::vector<std::vector<Page>> tables_;  // [batch] the page of each logical page
  std::vector<int64_t> lengths_;
};

}  // namespace sk
