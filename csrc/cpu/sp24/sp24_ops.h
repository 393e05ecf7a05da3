// 2:4 / N:M weight preparation on the CPU: prune, compress (with the pattern
// check), decompress (with the code check). Baseline code: these run once per
// weight, on the executor's threads, and are bandwidth-bound.
#pragma once
#include "../../core/params.h"
#include "../../core/status.h"
#include "../../core/threadpool.h"

// Runs p.op over p.rows rows on the pool. SK_ERR_INVALID_ARGUMENT for a bad
// pattern or code, with p.bad_row / p.bad_group set to the first one (lowest
// row, then lowest group); SK_ERR_UNSUPPORTED for a dtype or sizes outside
// the contract (k % 4 != 0 for compress / decompress, k % group != 0 for prune).
sk_status sk_cpu_sp24_run(sk_sp24_params& p, sk::ThreadPool& pool);
