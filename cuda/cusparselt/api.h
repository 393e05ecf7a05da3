// The slice of the cuSPARSELt C API sparsekit calls, declared here because
// nothing of cuSPARSELt is present at build time (it is opened with dlopen,
// loader.h). Signatures are those of cuSPARSELt ≥ 0.4 (0.8.1 read from the
// nvidia-cusparselt-cu13 wheel's header); every enum and struct is declared
// by value, never by including a vendor header. Opaque objects are
// caller-allocated: their size changed between versions (1024 B in 0.1,
// 11024 B in 0.4, 13072 B in 0.6.2, 512 B from 0.7), so each is a 16 KiB
// buffer aligned to 64 bytes, which fits every known version.
#pragma once
#include <stddef.h>
#include <stdint.h>

namespace sk::cusparselt {

constexpr size_t kOpaqueBytes = 16384;
struct alignas(64) Opaque {
  unsigned char bytes[kOpaqueBytes];
};
using Handle = Opaque;
using MatDescriptor = Opaque;
using MatmulDescriptor = Opaque;
using AlgSelection = Opaque;
using Plan = Opaque;

using Status = int;  // cusparseStatus_t: 0 success … 10 NOT_SUPPORTED, 11 INSUFFICIENT_RESOURCES
constexpr Status kSuccess = 0;
using Stream = void*;  // cudaStream_t

// cusparseOrder_t: column-major 1, row-major 2 (not 0 / 1).
constexpr int kOrderCol = 1, kOrderRow = 2;
// cusparseOperation_t.
constexpr int kOpN = 0, kOpT = 1;
// cudaDataType (library_types.h).
constexpr int kR16F = 2, kR16BF = 14;
// cusparseLtSparsity_t, cusparseLtMatmulAlg_t, libraryPropertyType.
constexpr int kSparsity50 = 0, kAlgDefault = 0;
constexpr int kPropMajor = 0, kPropMinor = 1, kPropPatch = 2;

// cusparseComputeType changed meaning: ≤ 0.4 16F=0, 32I=1, TF32=2, TF32_FAST=3;
// from 0.5.2 32I=0, 16F=1, 32F=2. Versions as major·1000 + minor·100 + patch.
struct EnumTable {
  int min_version;
  int compute_32f;  // float32 accumulation of float16 / bfloat16; -1: none
};
constexpr EnumTable kEnumTables[] = {
    {502, 2},  // 0.5.2 and newer
    {0, -1},   // older: no 32F compute type for half inputs; not used
};
inline const EnumTable& enum_table(int version) {
  for (const EnumTable& t : kEnumTables)
    if (version >= t.min_version) return t;
  return kEnumTables[1];
}
// AlgSelectionDestroy exists, and must be called, from 0.8.0.
constexpr int kAlgSelectionDestroyFrom = 800;

struct Api {
  Status (*Init)(Handle*);
  Status (*Destroy)(const Handle*);
  Status (*GetProperty)(int property, int* value);
  Status (*DenseDescriptorInit)(const Handle*, MatDescriptor*, int64_t rows, int64_t cols, int64_t ld,
                                uint32_t alignment, int value_type, int order);
  Status (*StructuredDescriptorInit)(const Handle*, MatDescriptor*, int64_t rows, int64_t cols, int64_t ld,
                                     uint32_t alignment, int value_type, int order, int sparsity);
  Status (*MatDescriptorDestroy)(const MatDescriptor*);
  Status (*MatmulDescriptorInit)(const Handle*, MatmulDescriptor*, int op_a, int op_b, const MatDescriptor* a,
                                 const MatDescriptor* b, const MatDescriptor* c, const MatDescriptor* d,
                                 int compute_type);
  Status (*MatmulAlgSelectionInit)(const Handle*, AlgSelection*, const MatmulDescriptor*, int alg);
  Status (*MatmulAlgSelectionDestroy)(const AlgSelection*);  // null before 0.8.0
  Status (*MatmulPlanInit)(const Handle*, Plan*, const MatmulDescriptor*, const AlgSelection*);
  Status (*MatmulPlanDestroy)(const Plan*);
  Status (*MatmulGetWorkspace)(const Handle*, const Plan*, size_t* bytes);
  Status (*Matmul)(const Handle*, const Plan*, const void* alpha, const void* a, const void* b, const void* beta,
                   const void* c, void* d, void* workspace, Stream* streams, int32_t num_streams);
  Status (*SpMMACompressedSize2)(const Handle*, const MatDescriptor*, size_t* compressed, size_t* buffer);
  Status (*SpMMACompress2)(const Handle*, const MatDescriptor*, int is_sparse_a, int op, const void* dense,
                           void* compressed, void* buffer, Stream stream);
  const char* (*GetErrorString)(Status);  // null before 0.8.0
};

}  // namespace sk::cusparselt
