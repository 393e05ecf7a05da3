// VecLanes: SK_VEC_WIDTH-wide uint32 / int32 / float lanes as GCC vector types,
// the vector twin of sk::ScalarLanes. Each ISA's translation unit defines
// SK_VEC_WIDTH and is compiled with its own flags, so the same source becomes
// AVX2 (8), AVX-512 (16) or NEON (4) instructions. Included inside that TU's
// own namespace (cast-impl.h) so no inline code compiled for one ISA can be
// merged by the linker into another's.
#if SK_VEC_WIDTH > 1
struct VecLanes {
  typedef uint32_t U __attribute__((vector_size(4 * SK_VEC_WIDTH)));
  typedef int32_t I __attribute__((vector_size(4 * SK_VEC_WIDTH)));
  typedef float F __attribute__((vector_size(4 * SK_VEC_WIDTH)));
  typedef uint8_t U8 __attribute__((vector_size(SK_VEC_WIDTH)));
  typedef int8_t I8 __attribute__((vector_size(SK_VEC_WIDTH)));
  typedef uint16_t U16 __attribute__((vector_size(2 * SK_VEC_WIDTH)));
  static constexpr int kWidth = SK_VEC_WIDTH;

  // Same-size vector casts reinterpret the bits; __builtin_convertvector converts values.
  static F flt(U u) { return (F)u; }
  static U bits(F f) { return (U)f; }
  static F to_f32(I i) { return __builtin_convertvector(i, F); }
  static I trunc_i32(F f) { return __builtin_convertvector(f, I); }

  template <class V, class T>
  static V load(const T* p) {
    V v;
    memcpy(&v, p, sizeof v);
    return v;
  }
  static U load_u(const uint8_t* p) { return __builtin_convertvector(load<U8>(p), U); }
  static U load_u(const uint16_t* p) { return __builtin_convertvector(load<U16>(p), U); }
  static I load_i(const int8_t* p) { return __builtin_convertvector(load<I8>(p), I); }
  static I load_i(const uint8_t* p) { return __builtin_convertvector(load<U8>(p), I); }
  static I load_i(const int32_t* p) { return load<I>(p); }
  static F load_f(const float* p) { return load<F>(p); }

  template <class V, class T>
  static void put(T* p, V v) {
    memcpy(p, &v, sizeof v);
  }
  static void store(uint8_t* p, U v) { put(p, __builtin_convertvector(v, U8)); }
  static void store(uint16_t* p, U v) { put(p, __builtin_convertvector(v, U16)); }
  static void store(int8_t* p, I v) { put(p, __builtin_convertvector(v, I8)); }
  static void store(uint8_t* p, I v) { put(p, __builtin_convertvector(v, U8)); }
  static void store(int32_t* p, I v) { put(p, v); }
  static void store_f(float* p, F v) { put(p, v); }
};
#else
using VecLanes = TailLanes;
#endif
