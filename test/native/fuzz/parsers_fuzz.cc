// A libFuzzer-style target (LLVMFuzzerTestOneInput) over the native checks of
// index data that comes from JS, each followed by the kernels that read what
// they accept, so AddressSanitizer sees any index a check lets through and a
// kernel misuses:
//   0 block masks:  sk::mask_lists_error (the CPU binding's check of a mask's
//                   lists), then block-sparse attention with the mask's rules
//   1 CSR weights:  sk_spmm_check (spmmPlan's check), then SpMM / SpMV
//   2 2:4 weights:  the code checks of the 2:4 linear and decompress kernels,
//                   and the CUDA layout built on the host (find_bad_group)
//   3 permutations: sk::first_index_outside (gatherRows' check), then the gather
// Sizes stay within what the bindings accept; contents come from the input,
// mostly near-valid (valid lists with a few corrupted entries), so calls get
// past the first check. Built with driver.cc (a seeded mutator, g++ and ASan:
// scripts/test-sanitizers.sh) or, with clang, `-fsanitize=fuzzer` instead of it.
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "../../../csrc/core/cpu_features.h"
#include "../../../csrc/core/index_checks.h"
#include "../../../csrc/core/sp24_meta.h"
#include "../../../csrc/core/threadpool.h"
#include "../../../csrc/cpu/dispatch.h"
#include "../../../csrc/cpu/prefill/prefill.h"
#include "../../../csrc/cpu/sp24/sp24_ops.h"
#include "../../../cuda/sp24/layout.h"

// Calls each check accepted, per section: the driver keeps inputs that raise these.
int64_t sk_fuzz_accepted[4];

namespace {

// Reads the input as a stream of choices; past its end every read is 0.
class Input {
 public:
  Input(const uint8_t* data, size_t size) : p_(data), n_(size) {}
  uint8_t u8() { return at_ < n_ ? p_[at_++] : 0; }
  uint32_t u32() { return u8() | (u8() << 8) | (u8() << 16) | (static_cast<uint32_t>(u8()) << 24); }
  int64_t below(int64_t n) { return n <= 1 ? 0 : static_cast<int64_t>(u32() % static_cast<uint64_t>(n)); }
  int64_t range(int64_t lo, int64_t hi) { return lo + below(hi - lo + 1); }
  // An index near [0, limit): mostly in range, sometimes just outside, now and then any int32.
  int32_t index(int64_t limit) {
    const uint8_t how = u8();
    if (how < 200) return static_cast<int32_t>(below(limit));
    if (how < 240) return static_cast<int32_t>(range(-2, limit + 2));
    return static_cast<int32_t>(u32());
  }

 private:
  const uint8_t* p_;
  size_t n_;
  size_t at_ = 0;
};

sk::ThreadPool& pool() {
  static sk::ThreadPool p(2);
  return p;
}

// The scalar kernels or the best this CPU runs.
sk_isa isa(Input& in) { return in.u8() % 2 ? SK_ISA_SCALAR : sk_isa_best(sk_cpu_detect()); }

// `count` increasing indices in [0, limit) then, per `corrupt`, one entry replaced.
void sorted_list(Input& in, int32_t* out, int64_t count, int64_t limit) {
  int64_t at = 0;
  for (int64_t i = 0; i < count; ++i)
    out[i] = static_cast<int32_t>(at = std::min(limit - 1, at + in.range(i == 0 ? 0 : 1, 2)));
  if (count > 0 && in.u8() < 40) out[in.below(count)] = in.index(limit);
}

void fuzz_mask(Input& in) {
  sk_attention_params p{};
  p.dtype = static_cast<sk_dtype>(in.below(3));
  p.batch = in.range(1, 2), p.heads_kv = in.range(1, 2), p.heads_q = p.heads_kv * in.range(1, 2);
  p.seq_q = in.range(1, 200), p.seq_kv = in.range(1, 200), p.head_dim = in.u8() % 2 ? 8 : in.range(1, 20);
  sk_block_mask m{};
  m.batch = in.u8() % 2 ? 1 : static_cast<int32_t>(p.batch);
  m.heads = in.u8() % 2 ? 1 : static_cast<int32_t>(p.heads_q);
  m.q_block = 16 * static_cast<int32_t>(in.range(1, 16)), m.kv_block = 16 * static_cast<int32_t>(in.range(1, 16));
  m.n_q_blocks = static_cast<int32_t>((p.seq_q + m.q_block - 1) / m.q_block);
  m.n_kv_blocks = static_cast<int32_t>((p.seq_kv + m.kv_block - 1) / m.kv_block);
  const int64_t rows = static_cast<int64_t>(m.batch) * m.heads * m.n_q_blocks, nkb = m.n_kv_blocks;
  std::vector<int32_t> fnum(rows), pnum(rows), fidx(rows * nkb), pidx(rows * nkb);
  for (int64_t r = 0; r < rows; ++r) {
    fnum[r] = in.u8() < 240 ? static_cast<int32_t>(in.below(nkb + 1)) : in.index(nkb + 1);
    pnum[r] = in.u8() < 240 ? static_cast<int32_t>(in.below(nkb + 1)) : in.index(nkb + 1);
    sorted_list(in, fidx.data() + r * nkb, std::clamp<int64_t>(fnum[r], 0, nkb), nkb);
    sorted_list(in, pidx.data() + r * nkb, std::clamp<int64_t>(pnum[r], 0, nkb), nkb);
  }
  if (!sk::mask_lists_error(fnum.data(), fidx.data(), pnum.data(), pidx.data(), rows, nkb).empty()) return;
  ++sk_fuzz_accepted[0];
  m.full_num = fnum.data(), m.full_idx = fidx.data(), m.partial_num = pnum.data(), m.partial_idx = pidx.data();
  // Rules as the binding copies them: kinds 1..5, sizes ≥ 0, segment and position arrays of any values.
  std::vector<std::unique_ptr<std::vector<int32_t>>> arrays;
  const auto array = [&](int64_t n) {
    arrays.push_back(std::make_unique<std::vector<int32_t>>(n));
    for (int32_t& v : *arrays.back()) v = in.index(p.seq_kv);  // any value: the rules only compare them
    return arrays.back()->data();
  };
  m.rules.n_terms = static_cast<int32_t>(in.below(kMaskMaxTerms + 1));
  for (int t = 0; t < m.rules.n_terms; ++t) {
    m.rules.n_rules[t] = static_cast<int32_t>(in.below(kMaskMaxRulesPerTerm + 1));
    for (int r = 0; r < m.rules.n_rules[t]; ++r) {
      sk_mask_rule& rule = m.rules.rules[t][r];
      rule.kind = static_cast<int32_t>(in.range(SK_RULE_CAUSAL, SK_RULE_PERMUTED_CAUSAL));
      rule.window = in.below(300), rule.sink = in.below(300), rule.local = in.below(300);
      if (rule.kind == SK_RULE_DOCUMENTS) rule.q_seg = array(p.seq_q), rule.kv_seg = array(p.seq_kv);
      if (rule.kind == SK_RULE_PERMUTED_CAUSAL) {
        const int64_t pb = in.u8() % 2 ? 1 : p.batch, ph = in.u8() % 2 ? 1 : p.heads_kv;
        rule.kv_pos = array(pb * ph * p.seq_kv);
        rule.pos_stride_h = ph == 1 ? 0 : p.seq_kv, rule.pos_stride_b = pb == 1 ? 0 : ph * p.seq_kv;
        rule.pos_group = p.heads_q / ph;
      }
    }
  }
  p.mask = &m;
  p.causal = in.u8() % 2;
  p.scale = 0.125f;
  const size_t es = sk_dtype_size(p.dtype);
  const int64_t d = p.head_dim;
  std::vector<uint8_t> q(p.batch * p.heads_q * p.seq_q * d * es, 0x3c),
      k(p.batch * p.heads_kv * p.seq_kv * d * es, 0x3c), v(k.size(), 0x3c), out(q.size());
  std::vector<float> lse(p.batch * p.heads_q * p.seq_q);
  p.q = q.data(), p.k = k.data(), p.v = v.data(), p.out = out.data(), p.lse = in.u8() % 2 ? lse.data() : nullptr;
  p.q_stride_s = p.k_stride_s = p.v_stride_s = p.out_stride_s = d;
  p.q_stride_h = p.out_stride_h = p.seq_q * d, p.k_stride_h = p.v_stride_h = p.seq_kv * d;
  p.q_stride_b = p.out_stride_b = p.heads_q * p.seq_q * d, p.k_stride_b = p.v_stride_b = p.heads_kv * p.seq_kv * d;
  const sk_pick<sk_attention_kernel> pick = sk_cpu_attention_pick(p, isa(in));
  if (pick.ok()) sk_cpu_attention_run(p, pick, pool());
}

void fuzz_csr(Input& in) {
  const int64_t n = in.range(0, 40), k = in.u8() < 16 ? in.range(65530, 65540) : in.range(0, 40);
  const int32_t nr = static_cast<int32_t>(1 << in.below(3));
  const int64_t groups = std::max<int64_t>(0, sk_spmm_groups(n, nr) + (in.u8() < 16 ? in.range(-1, 1) : 0));
  std::vector<uint32_t> nnzmap(groups);
  int64_t blocks = 0, values = 0;
  for (int64_t g = 0; g < groups; ++g) {
    nnzmap[g] = in.u8() < 245 ? static_cast<uint32_t>(in.below(std::min<int64_t>(k, 8) + 1)) : in.u32();
    blocks += nnzmap[g] < 1000 ? nnzmap[g] : 0;
    values += (nnzmap[g] < 1000 ? nnzmap[g] : 0) * (g < n / nr ? nr : 1);
  }
  if (in.u8() < 20) blocks += in.range(-1, 1);
  if (in.u8() < 20) values += in.range(-1, 1);
  if (blocks < 0 || values < 0) return;
  std::vector<int32_t> cols(blocks);
  for (int64_t g = 0, b = 0; g < groups; ++g) {
    const int64_t c = std::min<int64_t>(nnzmap[g] < 1000 ? nnzmap[g] : 0, blocks - b);
    if (c > 0) sorted_list(in, cols.data() + b, c, k);
    b += std::max<int64_t>(c, 0);
  }
  std::vector<int64_t> gb(groups + 1), gv(groups + 1);
  char why[256];
  if (sk_spmm_check(n, k, nr, nnzmap.data(), groups, cols.data(), blocks, values, gb.data(), gv.data(), why) != SK_OK)
    return;
  ++sk_fuzz_accepted[1];
  sk_spmm_params p{};
  p.layout = static_cast<int32_t>(in.below(2));
  p.batch = p.layout == SK_SPMM_ROWS ? 1 : in.range(0, 2), p.m = in.range(0, k > 1000 ? 1 : 9);
  std::vector<float> x(p.batch * p.m * k, 1.0f), out(p.batch * p.m * n), w(values, 0.5f), bias(n, 1.0f);
  p.x = x.data(), p.out = out.data(), p.values = w.data(), p.bias = in.u8() % 2 ? bias.data() : nullptr;
  p.cols = cols.data(), p.nnzmap = nnzmap.data(), p.group_blocks = gb.data(), p.group_values = gv.data();
  p.n = n, p.k = k, p.nr = nr, p.groups = groups, p.blocks = blocks;
  p.clamp = {-1e30f, 1e30f};
  const sk_spmm_kernel kernel = sk_cpu_spmm_pick(p, isa(in));
  if (!kernel.spmm) return;
  std::vector<uint16_t> cols16(cols.begin(), cols.end());
  if (sk_spmm_uses_spmv(p)) {
    if (sk_spmm_cols16_ok(k)) p.cols16 = cols16.data();
    sk_cpu_spmm_run(p, kernel, nullptr, pool());
  } else if (sk_spmm_uses_slices(p)) {
    sk_spmm_slices slices;
    sk_spmm_build_slices(p, sk_spmm_slice_width(p), &slices);
    sk_cpu_spmm_run(p, kernel, nullptr, pool(), &slices);
  } else {
    std::vector<int32_t> dmap(blocks);
    if (sk_spmm_build_dmap(cols.data(), blocks, k, sk_spmm_input_stride(p), dmap.data()))
      sk_cpu_spmm_run(p, kernel, dmap.data(), pool());
  }
}

void fuzz_sp24(Input& in) {
  const int64_t n = in.range(0, 40), k = 4 * in.range(0, 12), m = in.u8() % 2 ? 1 : in.range(0, 9);
  const sk_dtype type = static_cast<sk_dtype>(in.below(3));
  std::vector<uint8_t> values(sk::sp24_value_count(n, k) * sk_dtype_size(type), 0x3c), meta(sk::sp24_meta_bytes(n, k));
  for (uint8_t& b : meta)
    b = in.u8() < 250 ? 0x84 | (static_cast<uint8_t>(in.below(2)) << 4) : in.u8();  // two valid codes, or any byte
  int64_t row = -1, group = -1;
  if (!sk::sp24::find_bad_group(meta.data(), n, k, &row, &group)) {
    ++sk_fuzz_accepted[2];
    if (type != SK_F32 && k > 0) {  // the CUDA layout is built from 16-bit values
      const sk::sp24::CudaLayoutDims dims = sk::sp24::cuda_layout_dims(n, k);
      std::vector<uint16_t> vals(dims.values), dense(n * k);
      std::vector<uint32_t> words(dims.meta_words);
      const auto* v16 = reinterpret_cast<const uint16_t*>(values.data());
      sk::sp24::to_cuda_layout(v16, meta.data(), n, k, vals.data(), words.data());
      sk::sp24::expand_dense(v16, meta.data(), n, k, dense.data());
    }
  }
  // The kernels check the codes themselves, before any read they steer.
  std::vector<float> x(m * k, 1.0f), out(m * n);
  sk_linear_params lp{};
  lp.x = x.data(), lp.w = values.data(), lp.meta = meta.data(), lp.out = out.data();
  lp.w_type = type, lp.format = SK_WEIGHT_SP24, lp.m = m, lp.n = n, lp.k = k;
  const sk_linear_sp24_kernel kernel = sk_cpu_linear_sp24_pick(lp, isa(in));
  if (kernel.fn) sk_cpu_linear_sp24_run(lp, kernel, pool(), &row, &group);
  std::vector<uint8_t> dense(n * k * sk_dtype_size(type));
  sk_sp24_params sp{};
  sp.op = SK_SP24_DECOMPRESS, sp.dtype = type, sp.rows = n, sp.k = k;
  sp.values = values.data(), sp.meta = meta.data(), sp.dense_out = dense.data();
  sk_cpu_sp24_run(sp, pool());
}

void fuzz_gather(Input& in) {
  sk_gather_rows_params p{};
  p.elem_size = static_cast<size_t>(1) << in.below(4);
  p.batch = in.range(0, 2), p.heads = in.range(0, 3), p.seq = in.range(0, 40), p.row = in.range(1, 16);
  // Strides at least the contiguous ones, as the binding's size check requires of the source it is given.
  p.src_stride_s = p.row + in.below(3), p.src_stride_h = p.seq * p.src_stride_s + in.below(3);
  p.src_stride_b = p.heads * p.src_stride_h + in.below(3);
  const int64_t count = p.batch * p.heads * p.seq;
  std::vector<int32_t> idx(count);
  for (int32_t& i : idx) i = in.index(p.seq);
  if (sk::first_index_outside(idx.data(), count, p.seq) >= 0) return;
  ++sk_fuzz_accepted[3];
  const int64_t reach = count == 0 ? 0
                                   : (p.batch - 1) * p.src_stride_b + (p.heads - 1) * p.src_stride_h +
                                         (p.seq - 1) * p.src_stride_s + p.row;
  std::vector<uint8_t> src(reach * p.elem_size, 7), dst(count * p.row * p.elem_size);
  p.src = src.data(), p.dst = dst.data(), p.idx = idx.data();
  sk_cpu_gather_rows_run(p, pool());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Input in(data, size);
  switch (in.u8() % 4) {
    case 0: fuzz_mask(in); break;
    case 1: fuzz_csr(in); break;
    case 2: fuzz_sp24(in); break;
    default: fuzz_gather(in); break;
  }
  return 0;
}
