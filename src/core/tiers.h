/*
 * Instruction-set tiers: which ones this architecture has, best first; whether the CPU and
 * the OS can run each one; which one a call runs (QATTN_ISA, or the best). Core knows no
 * kernel: each family of kernels (attention, GEMM, ...) keeps its own table and asks for the
 * tier here, then walks down the list to the best tier it has kernels for.
 *
 * Adding a tier (AMX, NEON) is one entry in this file's list for its architecture, plus the
 * kernels in the families that have them; the public enum's order means nothing.
 */
#ifndef QATTN_CORE_TIERS_H
#define QATTN_CORE_TIERS_H

#include "qattn.h"

/* This build's tiers for this architecture, best first; the last is QATTN_ISA_SCALAR. */
int qattn_tier_count(void);
qattn_isa qattn_tier_at(int index);

/* The next tier below `isa` in the list (QATTN_ISA_SCALAR for the last). Every tier's
 * instructions include those of the tiers below it. */
qattn_isa qattn_tier_below(qattn_isa isa);

/* A family's table lookup: `table` holds `count` entries of entry_size bytes, each starting
 * with the qattn_isa it serves. Returns the index of the entry of the best tier at or below
 * `tier` (walking down this architecture's list), or -1 if none (the scalar reference). */
int qattn_tier_pick(qattn_isa tier, const void *table, size_t entry_size, int count);

/* The CPU has the tier's instructions and the OS saves their state (AMX: and it is allowed
 * to ask for the tile data permission). Tiers of other architectures: 0. */
int qattn_tier_runs_here(qattn_isa isa);

/* Resolves a requested tier (QATTN_ISA_AUTO -> the active one) and checks it is supported;
 * requests the OS permissions the chosen tier needs (AMX tile data) at its first choice.
 * Sets the message on error. */
qattn_status qattn_tier_resolve(int32_t requested, qattn_isa *isa);

#endif
