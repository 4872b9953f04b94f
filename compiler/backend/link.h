/* link: object file + runtime library -> executable, by the system's C compiler driver.
 * Contract: finds libnnrt.a beside the running nnc (build tree) or in ../lib/nnc (installed),
 * runs `$CC` (default cc; for --mpi `$MPICC`, default mpicc) with zlib and libm to link into a
 * temporary file and renames it to `out` only on success, so a failed link never leaves a
 * partial executable. The program is linked statically where the C library's archives exist
 * (it starts faster), else dynamically. Errors go to `err`. */
#ifndef NNC_LINK_H
#define NNC_LINK_H
#include <stdbool.h>
#include <stddef.h>

/* The path of libnnrt.a, or NULL (with the places searched in err). */
const char *link_runtime_path(char *buf, size_t n, char *err, size_t errlen);
/* mpi: a data-parallel program (nnc --mpi): MPI's compiler driver ($MPICC, default mpicc)
 * links it with libnnrt_mpi.a, found beside libnnrt.a. */
bool link_executable(const char *object, const char *out, bool mpi, char *err, size_t errlen);
/* Whether --mpi can link here (libnnrt_mpi.a and MPI's driver exist); else why not, in err. */
bool link_mpi_available(char *err, size_t errlen);

#endif
