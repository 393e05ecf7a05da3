#include "host_slabs.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>

namespace sk {

constexpr size_t kSlabAlign = kHugeAlign;
constexpr size_t kSlotsAtLeast = 4;  // so a huge page's fault serves several outputs
// Smaller blocks get huge pages from their class's second slab on: a stream
// of them (outputs kept until a GC) then takes one fault per 2 MiB, while a
// size used a few times does not pin a 2 MiB page of resident memory.
constexpr size_t kHugeSlotMin = size_t(64) << 10;

struct Slab {
  char* base;
  size_t bytes;       // of the mapping
  size_t slot_bytes;  // the class
  size_t slots;
  std::vector<uint32_t> warm;   // freed slots, pages resident: the cache
  std::vector<uint32_t> fresh;  // never written, or pages dropped; lowest index last
  unsigned long long last_free = 0;
  bool idle() const { return warm.size() + fresh.size() == slots; }
};

// Advice only: where THP is off, memory works with small pages. With
// SPARSEKIT_HUGEPAGES=0 (read once: host memory is the process's, whichever
// thread maps it) every block asks for small pages, even where THP is
// `always`: for a process that counts its resident memory tightly.
void advise_pages(void* base, size_t bytes, bool huge) {
  static const bool allowed = [] {
    const char* v = getenv("SPARSEKIT_HUGEPAGES");
    return !(v && strcmp(v, "0") == 0);
  }();
#ifdef MADV_HUGEPAGE
  if (!allowed)
    madvise(base, bytes, MADV_NOHUGEPAGE);
  else if (huge)
    madvise(base, bytes, MADV_HUGEPAGE);
#else
  (void)base, (void)bytes, (void)huge, (void)allowed;
#endif
}

namespace {

Slab* map_slab(size_t slot_bytes, bool huge) {
  const size_t bytes = (kSlotsAtLeast * slot_bytes + kSlabAlign - 1) / kSlabAlign * kSlabAlign;
  const size_t span = bytes + kSlabAlign;  // room to align the start
  void* raw = mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  const uintptr_t start = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t base = (start + kSlabAlign - 1) & ~(kSlabAlign - 1);
  if (base > start) munmap(raw, base - start);
  if (start + span > base + bytes) munmap(reinterpret_cast<void*>(base + bytes), start + span - (base + bytes));
  advise_pages(reinterpret_cast<void*>(base), bytes, huge);
  Slab* s = new Slab{reinterpret_cast<char*>(base), bytes, slot_bytes, bytes / slot_bytes, {}, {}};
  for (size_t i = s->slots; i-- > 0;) s->fresh.push_back(static_cast<uint32_t>(i));
  ASAN_POISON_MEMORY_REGION(s->base, s->bytes);
  return s;
}

void unmap_slab(Slab* s) {
  ASAN_UNPOISON_MEMORY_REGION(s->base, s->bytes);  // a later mapping at this address starts clean
  munmap(s->base, s->bytes);
  delete s;
}

// Gives a warm slot's pages back to the OS; the slot becomes fresh.
void drop_pages(Slab* s, uint32_t slot) {
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const uintptr_t begin = reinterpret_cast<uintptr_t>(s->base) + slot * s->slot_bytes;
  const uintptr_t first = (begin + page - 1) & ~(page - 1), last = (begin + s->slot_bytes) & ~(page - 1);
  if (last > first) madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
  s->fresh.push_back(slot);
}

}  // namespace

size_t SlabArena::class_bytes(size_t bytes) {
  size_t top = 64;  // the least power of two >= bytes
  while (top < bytes) top <<= 1;
  const size_t step = top / 16;  // (top / 2, top] in eight steps
  return (bytes + step - 1) / step * step;
}

void* SlabArena::take(size_t bytes, Slab** slab) {
  const size_t c = class_bytes(bytes + kSlabRedzone);
  std::vector<Slab*>& slabs = classes_[c];
  Slab* s = nullptr;
  for (Slab* t : slabs)
    if (!t->warm.empty()) {
      s = t;
      break;
    }
  const bool warm = s != nullptr;
  if (!s)  // a fresh slot in a slab in use may share a huge page already faulted in
    for (Slab* t : slabs)
      if (!t->fresh.empty()) {
        s = t;
        break;
      }
  if (!s) {
    s = map_slab(c, c >= kHugeSlotMin || !slabs.empty());
    if (!s) return nullptr;
    slabs.push_back(s);
  }
  std::vector<uint32_t>& from = warm ? s->warm : s->fresh;
  const uint32_t slot = from.back();
  from.pop_back();
  if (warm) cached_blocks_ -= 1, cached_bytes_ -= c;
  char* p = s->base + slot * c;
  ASAN_UNPOISON_MEMORY_REGION(p, bytes);
  *slab = s;
  return p;
}

void SlabArena::give(void* p, Slab* s) {
  const size_t offset = static_cast<char*>(p) - s->base;
  ASAN_POISON_MEMORY_REGION(p, s->slot_bytes);
  s->warm.push_back(static_cast<uint32_t>(offset / s->slot_bytes));
  s->last_free = ++clock_;
  cached_blocks_ += 1, cached_bytes_ += s->slot_bytes;
}

size_t SlabArena::trim(size_t cap) {
  std::vector<Slab*> idle;
  for (auto& c : classes_)
    for (Slab* s : c.second)
      if (s->idle()) idle.push_back(s);
  std::sort(idle.begin(), idle.end(), [](const Slab* a, const Slab* b) { return a->last_free < b->last_free; });
  for (Slab* s : idle) {
    if (cached_bytes_ <= cap && !s->warm.empty()) continue;  // a slab with no warm slot holds nothing worth keeping
    std::vector<Slab*>& slabs = classes_[s->slot_bytes];
    slabs.erase(std::find(slabs.begin(), slabs.end(), s));
    cached_blocks_ -= s->warm.size(), cached_bytes_ -= s->warm.size() * s->slot_bytes;
    unmap_slab(s);
  }
  for (auto& c : classes_)  // still over: slabs in use keep their address range, not their cached pages
    for (Slab* s : c.second)
      while (cached_bytes_ > cap && !s->warm.empty()) {
        drop_pages(s, s->warm.back());
        s->warm.pop_back();
        cached_blocks_ -= 1, cached_bytes_ -= s->slot_bytes;
      }
  return cached_bytes_;
}

}  // namespace sk
