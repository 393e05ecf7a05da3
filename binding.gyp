# The CPU addon. Each ISA's micro-kernels are a static library with its own
# flags; everything else builds for the baseline (never -march=native), and
# the kernel set is chosen at run time (csrc/core/cpu_features.cc).
{
  "target_defaults": {
    "cflags_cc": ["-std=c++17", "-O3", "-fvisibility=hidden", "-Wall", "-Wextra", "-Wno-unused-parameter"],
    "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
    "cflags!": ["-fno-exceptions"],
    "defines": ["NAPI_VERSION=9"],
  },
  "targets": [
    {
      "target_name": "sk_core",
      "type": "static_library",
      "sources": [
        "csrc/core/cpu_features.cc",
        "csrc/core/threadpool.cc",
        "csrc/core/job_runner.cc",
        "csrc/core/host_alloc.cc",
        "csrc/cpu/cast/driver.cc",
        "csrc/cpu/cast/cast-scalar.cc",
        "csrc/cpu/f32-attn/driver.cc",
        "csrc/cpu/f32-attn/f32-attn-4x4-scalar.cc",
        "csrc/cpu/reference/attention.cc",
        "csrc/cpu/f32-spmm/pack.cc",
        "csrc/cpu/f32-spmm/driver.cc",
        "csrc/cpu/f32-spmm/slices.cc",
        "csrc/cpu/f32-spmv/f32-spmv-scalar.cc",
        "csrc/cpu/f32-spmm/f32-spmm-8x1-scalar.cc",
        "csrc/cpu/f32-spmm/f32-spmm-8x2-scalar.cc",
        "csrc/cpu/f32-spmm/f32-spmm-8x4-scalar.cc",
        "csrc/cpu/f32-gemm/driver.cc",
        "csrc/cpu/f32-gemm/f32-gemm-4x4-scalar.cc",
        "csrc/cpu/f32-sp24/driver.cc",
        "csrc/cpu/f32-sp24/f32-sp24-2x8-scalar.cc",
        "csrc/cpu/sp24/sp24_ops.cc",
        "csrc/cpu/prefill/scores.cc", "csrc/cpu/prefill/select.cc",
      ],
      "conditions": [
        ["target_arch=='x64'", {"dependencies": ["sk_cpu_avx2", "sk_cpu_avx512"]}],
        ["target_arch=='arm64'", {"dependencies": ["sk_cpu_neon"]}],
      ],
    },
    {
      "target_name": "sparsekit",
      "dependencies": [
        "sk_core",
        "<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except_all",
      ],
      "sources": [
        "csrc/addon/addon.cc",
        "csrc/addon/convert.cc",
        "csrc/addon/executor.cc",
        "csrc/addon/memory.cc",
        "csrc/addon/op_cast.cc",
        "csrc/addon/op_attention.cc",
        "csrc/addon/attention_args.cc",
        "csrc/addon/op_spmm.cc",
        "csrc/addon/op_linear.cc",
        "csrc/addon/op_prefill.cc",
      ],
      # A Promise settled while a worker_thread is terminating cannot throw into
      # JS; without this node-addon-api rethrows in C++ and aborts the process.
      "defines": ["NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"],
      # Static libstdc++/libgcc: the prebuilds then need only glibc, not a recent GLIBCXX.
      # exports.map keeps every symbol but Node-API's entry points local (why: in the file).
      "ldflags": ["-Wl,--exclude-libs,ALL", "-pthread", "-static-libstdc++", "-static-libgcc",
                  "-Wl,--version-script=<(module_root_dir)/csrc/addon/exports.map"],
    },
    {
      "target_name": "sk_native_tests",
      "type": "executable",
      "dependencies": ["sk_core"],
      "sources": ["test/native/main.cc", "test/native/cast_test.cc", "test/native/threadpool_test.cc",
                  "test/native/host_alloc_test.cc", "test/native/job_runner_test.cc",
                  "test/native/attention_test.cc", "test/native/attention_ukernel_test.cc",
                  "test/native/sp24_layout_test.cc", "cuda/sp24/layout.cc",
                  "test/native/spmm_test.cc", "test/native/spmm_pack_test.cc",
                  "test/native/linear_ukernel_test.cc", "test/native/sp24_test.cc",
                  "test/native/prefill_test.cc", "test/native/launch_fence_test.cc",
                  "test/native/kv_walk_test.cc", "test/native/attention_nan_test.cc"],
      "ldflags": ["-pthread"],
    },
    {
      # The native fuzz target over the checks of index data from JS (masks, CSR, 2:4, permutations)
      # with a seeded mutator; run under AddressSanitizer by scripts/test-sanitizers.sh.
      "target_name": "sk_parsers_fuzz",
      "type": "executable",
      "dependencies": ["sk_core"],
      "sources": ["test/native/fuzz/parsers_fuzz.cc", "test/native/fuzz/driver.cc", "cuda/sp24/layout.cc"],
      "ldflags": ["-pthread"],
    },
    {
      # Micro-benchmark of the spmm / spmv kernel lists (XNNPACK's bench/spmm.cc counters).
      "target_name": "sk_spmm_bench",
      "type": "executable",
      "dependencies": ["sk_core"],
      "sources": ["bench/native/spmm_bench.cc"],
      "ldflags": ["-pthread"],
    },
  ],
  "conditions": [
    ["target_arch=='x64'", {
      "targets": [
        {
          "target_name": "sk_cpu_avx2",
          "type": "static_library",
          "sources": ["csrc/cpu/cast/cast-avx2.cc", "csrc/cpu/f32-attn/f32-attn-6x16-avx2.cc",
                      "csrc/cpu/f32-spmv/f32-spmv-avx2.cc",
                      "csrc/cpu/f32-spmm/f32-spmm-16x1-avx2.cc",
                      "csrc/cpu/f32-spmm/f32-spmm-16x2-avx2.cc",
                      "csrc/cpu/f32-spmm/f32-spmm-16x4-avx2.cc",
                      "csrc/cpu/f32-spmm/f32-spmm-32x1-avx2.cc",
                      "csrc/cpu/f32-spmm/f32-spmm-32x2-avx2.cc",
                      "csrc/cpu/f32-spmm/f32-spmm-64x1-avx2.cc",
                      "csrc/cpu/f32-spmm/f32-spmm-8x1-avx2.cc",
                      "csrc/cpu/f32-spmm/f32-spmm-8x4-avx2.cc",
                      "csrc/cpu/f32-gemm/f32-gemm-6x16-avx2.cc", "csrc/cpu/f32-sp24/f32-sp24-4x8-avx2.cc"],
          "cflags_cc": ["-mavx2", "-mfma", "-mf16c"],
        },
        {
          "target_name": "sk_cpu_avx512",
          "type": "static_library",
          "sources": ["csrc/cpu/cast/cast-avx512.cc", "csrc/cpu/f32-attn/f32-attn-8x32-avx512.cc",
                      "csrc/cpu/f32-spmv/f32-spmv-avx512.cc",
                      "csrc/cpu/f32-spmm/f32-spmm-16x1-avx512.cc",
                      "csrc/cpu/f32-spmm/f32-spmm-32x1-avx512.cc",
                      "csrc/cpu/f32-spmm/f32-spmm-32x2-avx512.cc",
                      "csrc/cpu/f32-spmm/f32-spmm-32x4-avx512.cc",
                      "csrc/cpu/f32-spmm/f32-spmm-64x1-avx512.cc",
                      "csrc/cpu/f32-spmm/f32-spmm-64x2-avx512.cc",
                      "csrc/cpu/f32-gemm/f32-gemm-8x32-avx512.cc", "csrc/cpu/f32-sp24/f32-sp24-8x8-avx512.cc"],
          "cflags_cc": ["-mavx2", "-mfma", "-mf16c", "-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq"],
        },
      ],
    }],
    ["target_arch=='arm64'", {
      "targets": [
        {
          "target_name": "sk_cpu_neon",
          "type": "static_library",
          "sources": ["csrc/cpu/cast/cast-neon.cc", "csrc/cpu/f32-attn/f32-attn-4x16-neon.cc",
                      "csrc/cpu/f32-spmv/f32-spmv-neon.cc",
                      "csrc/cpu/f32-spmm/f32-spmm-16x1-neon.cc",
                      "csrc/cpu/f32-spmm/f32-spmm-16x2-neon.cc",
                      "csrc/cpu/f32-spmm/f32-spmm-16x4-neon.cc",
                      "csrc/cpu/f32-spmm/f32-spmm-32x1-neon.cc",
                      "csrc/cpu/f32-spmm/f32-spmm-32x2-neon.cc",
                      "csrc/cpu/f32-spmm/f32-spmm-4x1-neon.cc",
                      "csrc/cpu/f32-spmm/f32-spmm-8x1-neon.cc",
                      "csrc/cpu/f32-gemm/f32-gemm-8x8-neon.cc", "csrc/cpu/f32-sp24/f32-sp24-4x8-neon.cc"],
        },
      ],
    }],
  ],
}
