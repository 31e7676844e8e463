/* cpu.c - run-time instruction-set detection and the LT_ISA override. */
#include "kernels/cpu.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* -1: not computed yet. Racing first calls compute the same value. */
static _Atomic int cached_isa = -1, cached_hw = -1;

static lt_isa detect(void)
{
#if LT_HAVE_X86_KERNELS
    /* __builtin_cpu_supports also checks that the OS saves the wide
     * registers (XCR0), so a "supported" level is usable. */
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return LT_ISA_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return LT_ISA_AVX2;
#endif
    return LT_ISA_GENERIC;
}

lt_isa lt_cpu_isa_supported(void)
{
    int v = atomic_load_explicit(&cached_hw, memory_order_relaxed);
    if (v < 0) {
        v = (int)detect();
        atomic_store_explicit(&cached_hw, v, memory_order_relaxed);
    }
    return (lt_isa)v;
}

/* LT_ISA=generic|avx2|avx512 caps the level; anything else is ignored. */
static lt_isa env_cap(lt_isa best)
{
    const char *s = getenv("LT_ISA");
    if (!s)
        return best;
    for (int i = LT_ISA_GENERIC; i <= LT_ISA_AVX512; i++)
        if (strcmp(s, lt_isa_name((lt_isa)i)) == 0)
            return (lt_isa)i < best ? (lt_isa)i : best;
    return best;
}

lt_isa lt_cpu_isa(void)
{
    int v = atomic_load_explicit(&cached_isa, memory_order_relaxed);
    if (v < 0) {
        v = (int)env_cap(lt_cpu_isa_supported());
        atomic_store_explicit(&cached_isa, v, memory_order_relaxed);
    }
    return (lt_isa)v;
}

void lt_cpu_force_isa(lt_isa isa)
{
    lt_isa best = lt_cpu_isa_supported();
    atomic_store_explicit(&cached_isa, (int)(isa < best ? isa : best), memory_order_relaxed);
}

const char *lt_isa_name(lt_isa isa)
{
    switch (isa) {
    case LT_ISA_AVX2: return "avx2";
    case LT_ISA_AVX512: return "avx512";
    default: return "generic";
    }
}
