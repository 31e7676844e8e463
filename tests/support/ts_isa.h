/* ts_isa.h - running a test once per ISA level the machine has (internal:
 * needs the library's kernels/cpu.h, as the kernel tests do). */
#ifndef TS_ISA_H
#define TS_ISA_H

#include "kernels/cpu.h"

/* Runs the statement after it once per ISA level the machine has, with that
 * level forced (ts_restore_isa puts the best one back after each test). */
#define FOR_EACH_ISA(isa)                                                                                  \
    for (lt_isa isa = LT_ISA_GENERIC; isa <= lt_cpu_isa_supported() && (lt_cpu_force_isa(isa), true); \
         isa = (lt_isa)(isa + 1))

/* A cmocka teardown: the best ISA level forced again. */
static inline int ts_restore_isa(void **state)
{
    (void)state;
    lt_cpu_force_isa(lt_cpu_isa_supported());
    return 0;
}

#endif
