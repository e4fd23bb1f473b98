#ifndef SUPD_PROBE_SPAWNER_H
#define SUPD_PROBE_SPAWNER_H

#include <stdbool.h>

struct spawn_job;
struct probe_spawner;

/* NULL on ENOMEM or no eventfd. `threaded`: the thread starts with the
 * first job (if it cannot, a warning is logged and jobs run on the caller's
 * thread, as they always do without `threaded`). */
struct probe_spawner *probe_spawner_new(bool threaded);
/* Readable (level-triggered) while run jobs wait to be taken. */
int probe_spawner_fd(const struct probe_spawner *sp);
/* Queues a job (spawn_job_new), or runs it at once without a thread; it
 * comes back from probe_spawner_take() once run. -ECANCELED after stop. */
int probe_spawner_submit(struct probe_spawner *sp, struct spawn_job *job);
/* The jobs run so far, oldest first, linked by ->next; the caller frees
 * them. `settle`: first wait for the job in flight, if any. */
struct spawn_job *probe_spawner_take(struct probe_spawner *sp, bool settle);
/* Joins the thread (after the job in flight, if any) and returns every job
 * left: those run, then those never run (pid 0, err ECANCELED). */
struct spawn_job *probe_spawner_stop(struct probe_spawner *sp);
/* Stops it and frees it with every job left (their probes are not killed:
 * stop and handle them first). */
void probe_spawner_free(struct probe_spawner *sp);

#endif
