/* cpu.h - run-time choice of instruction set (internal; not installed).
 *
 * The library is built without -march flags; ISA-specific code lives in
 * functions compiled with __attribute__((target(...))) and is chosen once at
 * run time from what the CPU supports. The environment variable
 * LT_ISA=generic|avx2|avx512 (read once) caps the choice, so the portable
 * path can be forced on any machine; tests force each level in turn with
 * lt_cpu_force_isa. */
#ifndef LT_CPU_H
#define LT_CPU_H

/* Ordered: a higher level implies every lower one. */
typedef enum { LT_ISA_GENERIC, LT_ISA_AVX2, LT_ISA_AVX512 } lt_isa;

/* x86-64 with a compiler that accepts target attributes: the ISA-specific
 * kernels are compiled in. Elsewhere only LT_ISA_GENERIC exists. Defining it
 * as 0 on the command line builds the portable configuration on x86-64. */
#ifndef LT_HAVE_X86_KERNELS
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define LT_HAVE_X86_KERNELS 1
#else
#define LT_HAVE_X86_KERNELS 0
#endif
#endif

/* Best ISA level the CPU (and OS) supports, capped by LT_ISA, cached after the
 * first call (or the level set by lt_cpu_force_isa). Thread-safe: the value is
 * computed idempotently and stored atomically. */
lt_isa lt_cpu_isa(void);

/* Best level the hardware supports, ignoring LT_ISA and lt_cpu_force_isa
 * (tests iterate over LT_ISA_GENERIC..lt_cpu_isa_supported()). */
lt_isa lt_cpu_isa_supported(void);

/* Tests: makes lt_cpu_isa return `isa` (clamped to what the hardware
 * supports). Not for use while other threads run library code. */
void lt_cpu_force_isa(lt_isa isa);

/* "generic", "avx2", "avx512". */
const char *lt_isa_name(lt_isa isa);

#endif
