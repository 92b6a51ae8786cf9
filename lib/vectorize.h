/* Internal: SEQNN_VECTORIZE, the one marker for element-wise loops that
 * are compiled for AVX-512 (x86-64-v4), AVX2+FMA (x86-64-v3) and baseline
 * x86-64 and picked at load time, so the library runs on any x86-64 and
 * uses what the CPU has. Elsewhere (other CPUs, compilers without
 * target_clones, -DSEQNN_NO_TARGET_CLONES) it is empty and the loops are
 * built for the target the compiler was given.
 * (GCC does not contract into FMA under -std=c11, so every clone gives the
 * same bits.)
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#if defined(__has_attribute)
#if defined(__x86_64__) && __has_attribute (target_clones) && !defined(SEQNN_NO_TARGET_CLONES)
#define SEQNN_VECTORIZE __attribute__ ((target_clones ("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#endif
#endif
#ifndef SEQNN_VECTORIZE
#define SEQNN_VECTORIZE
#endif
