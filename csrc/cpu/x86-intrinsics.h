// <immintrin.h>, with GCC 12's false "used uninitialized" warnings kept inside
// it. Its _mm512_undefined_* helpers initialise a variable with itself on
// purpose (an undefined vector for unmasked lanes); GCC 12 reports that as
// uninitialised wherever _mm512_max_ps, _mm512_i32gather_ps and the like are
// inlined into our kernels (GCC bug 105593, fixed in GCC 13's headers). The
// pragmas cover only the header's own lines: a real uninitialised use in our
// code still warns.
#pragma once
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#else
#include <immintrin.h>
#endif
