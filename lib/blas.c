/* OpenBLAS set-up shared by every part of the engine.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "pool.h"

#include <cblas.h>
#include <dlfcn.h>
#include <stdlib.h>

/* OpenBLAS 0.3.21 (Debian 12) does not know recent Xeons (e.g. family 6
 * model 207) and falls back to its generic "Prescott" SSE3 kernels: sgemm
 * 3-4x slower than its SkylakeX ones on the same CPU. When that happened,
 * the user did not choose a core (OPENBLAS_CORETYPE) and the CPU has AVX-512
 * (or AVX2+FMA), re-run OpenBLAS's own core selection with the matching
 * kernels. OpenBLAS reads the choice from the environment only, so it is set
 * and removed again around the call; this runs at load time, while the
 * process is most likely single-threaded and before any BLAS call of ours.
 * The entry points are looked up at run time: with another BLAS, or an
 * OpenBLAS built without DYNAMIC_ARCH, nothing happens.
 * SEQNN_KEEP_BLAS_CORE=1 keeps OpenBLAS's choice. */
static void
pick_openblas_core (void)
{
  if (getenv ("OPENBLAS_CORETYPE") != NULL || getenv ("SEQNN_KEEP_BLAS_CORE") != NULL)
    return;
  const char *name = openblas_get_corename ();
  if (name == NULL || g_ascii_strcasecmp (name, "prescott") != 0)
    return;
  const char *target = NULL;
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init ();
  if (__builtin_cpu_supports ("avx512f") && __builtin_cpu_supports ("avx512bw")
      && __builtin_cpu_supports ("avx512dq") && __builtin_cpu_supports ("avx512vl"))
    target = "SkylakeX";
  else if (__builtin_cpu_supports ("avx2") && __builtin_cpu_supports ("fma"))
    target = "Haswell";
#endif
  if (target == NULL)
    return;
  void (*dyn_quit) (void) = (void (*) (void)) dlsym (RTLD_DEFAULT, "gotoblas_dynamic_quit");
  void (*dyn_init) (void) = (void (*) (void)) dlsym (RTLD_DEFAULT, "gotoblas_dynamic_init");
  if (dyn_quit == NULL || dyn_init == NULL)
    return;
  setenv ("OPENBLAS_CORETYPE", target, 1);
  dyn_quit ();
  dyn_init ();
  unsetenv ("OPENBLAS_CORETYPE");
}

__attribute__ ((constructor)) static void
seqnn_openblas_core_init (void)
{
  pick_openblas_core ();
}

static gpointer
blas_init_once (gpointer data)
{
  /* The engine splits batches over its own threads; BLAS threads on these
   * small products would only contend with them. */
  openblas_set_num_threads (1);
  return NULL;
}

void
seqnn_blas_init (void)
{
  static GOnce once = G_ONCE_INIT;
  g_once (&once, blas_init_once, NULL);
}
