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
        "csrc/core/host_alloc.cc",
        "csrc/cpu/dispatch.cc",
        "csrc/cpu/cast/cast-scalar.cc",
        "csrc/cpu/attention/driver.cc",
        "csrc/cpu/attention/f32-attn-4x4-scalar.cc",
        "csrc/cpu/reference/attention.cc",
        "csrc/cpu/prefill/scores.cc",
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
        "csrc/addon/op_prefill.cc",
      ],
      # A Promise settled while a worker_thread is terminating cannot throw into
      # JS; without this node-addon-api rethrows in C++ and aborts the process.
      "defines": ["NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"],
      # Static libstdc++/libgcc: the prebuilds then need only glibc, not a recent GLIBCXX.
      "ldflags": ["-Wl,--exclude-libs,ALL", "-pthread", "-static-libstdc++", "-static-libgcc"],
    },
    {
      "target_name": "sk_native_tests",
      "type": "executable",
      "dependencies": ["sk_core"],
      "sources": ["test/native/main.cc", "test/native/cast_test.cc", "test/native/threadpool_test.cc",
                  "test/native/attention_test.cc", "test/native/attention_ukernel_test.cc",
                  "test/native/prefill_test.cc"],
      "ldflags": ["-pthread"],
    },
  ],
  "conditions": [
    ["target_arch=='x64'", {
      "targets": [
        {
          "target_name": "sk_cpu_avx2",
          "type": "static_library",
          "sources": ["csrc/cpu/cast/cast-avx2.cc", "csrc/cpu/attention/f32-attn-6x16-avx2.cc"],
          "cflags_cc": ["-mavx2", "-mfma", "-mf16c"],
        },
        {
          "target_name": "sk_cpu_avx512",
          "type": "static_library",
          "sources": ["csrc/cpu/cast/cast-avx512.cc", "csrc/cpu/attention/f32-attn-8x32-avx512.cc"],
          "cflags_cc": ["-mavx2", "-mfma", "-mf16c", "-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq"],
        },
      ],
    }],
    ["target_arch=='arm64'", {
      "targets": [
        {
          "target_name": "sk_cpu_neon",
          "type": "static_library",
          "sources": ["csrc/cpu/cast/cast-neon.cc", "csrc/cpu/attention/f32-attn-4x16-neon.cc"],
        },
      ],
    }],
  ],
}
