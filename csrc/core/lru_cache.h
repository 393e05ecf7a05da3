// A bounded cache of shared values, least recently used out first: for
// per-shape state (cuSPARSELt plans) whose keys vary without bound when the
// rows of x do. Eviction drops the cache's reference only, so a value a caller
// still holds lives until that caller lets go (its destructor frees it). Not
// thread-safe: callers hold their own lock around get().
#pragma once
#include <stddef.h>

#include <list>
#include <map>
#include <memory>
#include <utility>

namespace sk {

template <class Key, class Value>
class LruCache {
 public:
  explicit LruCache(size_t capacity) : capacity_(capacity < 1 ? 1 : capacity) {}

  // The value cached for key, made by make() (a std::shared_ptr<Value>) on a
  // miss, now the most recent. If make() throws, nothing changes.
  template <class Make>
  std::shared_ptr<Value> get(const Key& key, Make make) {
    if (auto it = index_.find(key); it != index_.end()) {
      order_.splice(order_.begin(), order_, it->second);
      return it->second->second;
    }
    std::shared_ptr<Value> value = make();
    order_.emplace_front(key, value);
    index_.emplace(key, order_.begin());
    if (order_.size() > capacity_) {
      index_.erase(order_.back().first);
      order_.pop_back();
    }
    return value;
  }

  size_t size() const { return order_.size(); }
  size_t capacity() const { return capacity_; }

 private:
  using Entry = std::pair<Key, std::shared_ptr<Value>>;
  size_t capacity_;
  std::list<Entry> order_;  // most recent first
  std::map<Key, typename std::list<Entry>::iterator> index_;
};

}  // namespace sk
