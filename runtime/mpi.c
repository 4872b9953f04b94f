/* mpi: the transport of data-parallel training over MPI (libnnrt_mpi.a, linked by `nnc --mpi`).
 * `nnc --mpi` links with -u nnrt_mpi_ops, which pulls this file in; its constructor makes it
 * the runtime's transport (comm.h), so the program needs no other change.
 * Only MPI's non-blocking all-to-all and allgather move the gradients: the sums are the
 * reducer's (comm.c), in rank order, so the results do not depend on MPI's own reduction order. */
#include <mpi.h>
#include <stdio.h>

#include "comm.h"

enum { MAX_REQUESTS = 1024 };
static MPI_Request requests[MAX_REQUESTS];

static int mpi_start(int *rank, int *size, char *err, size_t errlen) {
  int ready = 0;
  MPI_Initialized(&ready);
  if (!ready && MPI_Init(NULL, NULL) != MPI_SUCCESS) {
    snprintf(err, errlen, "cannot start MPI");
    return -1;
  }
  for (int i = 0; i < MAX_REQUESTS; i++)
    requests[i] = MPI_REQUEST_NULL;
  MPI_Comm_rank(MPI_COMM_WORLD, rank);
  MPI_Comm_size(MPI_COMM_WORLD, size);
  return 0;
}

static void mpi_finish(void) { MPI_Finalize(); }

static void mpi_abort(int code) { MPI_Abort(MPI_COMM_WORLD, code); }

/* A free request slot; the reducer has at most two requests per bucket in flight. */
static int slot(void) {
  for (int i = 0; i < MAX_REQUESTS; i++)
    if (requests[i] == MPI_REQUEST_NULL)
      return i;
  MPI_Abort(MPI_COMM_WORLD, 1);
  return -1;
}

static int mpi_alltoallv(const float *send, const int *count, const int *displ, float *recv,
                         const int *rcount, const int *rdispl) {
  int s = slot();
  MPI_Ialltoallv(send, count, displ, MPI_FLOAT, recv, rcount, rdispl, MPI_FLOAT, MPI_COMM_WORLD,
                 &requests[s]);
  return s;
}

static int mpi_allgatherv(const float *send, int count, float *recv, const int *rcount,
                          const int *rdispl) {
  int s = slot();
  MPI_Iallgatherv(send, count, MPI_FLOAT, recv, rcount, rdispl, MPI_FLOAT, MPI_COMM_WORLD,
                  &requests[s]);
  return s;
}

static int mpi_done(int request) {
  int flag = 0;
  MPI_Test(&requests[request], &flag, MPI_STATUS_IGNORE);
  return flag;
}

static void mpi_wait(int request) { MPI_Wait(&requests[request], MPI_STATUS_IGNORE); }

static void mpi_allgather(const double *mine, int n, double *all) {
  MPI_Allgather(mine, n, MPI_DOUBLE, all, n, MPI_DOUBLE, MPI_COMM_WORLD);
}

static void mpi_broadcast(float *v, int64_t n, int root) {
  for (int64_t at = 0; at < n; at += 1 << 30) {
    int64_t k = n - at < (1 << 30) ? n - at : (1 << 30);
    MPI_Bcast(v + at, (int)k, MPI_FLOAT, root, MPI_COMM_WORLD);
  }
}

const NnrtCommOps nnrt_mpi_ops = {
  .name = "MPI", .start = mpi_start, .finish = mpi_finish, .abort = mpi_abort,
  .alltoallv = mpi_alltoallv, .allgatherv = mpi_allgatherv, .done = mpi_done, .wait = mpi_wait,
  .allgather = mpi_allgather, .broadcast = mpi_broadcast,
};

__attribute__((constructor)) static void use_mpi(void) { nnrt_comm = &nnrt_mpi_ops; }
