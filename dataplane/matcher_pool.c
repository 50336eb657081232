/* SPDX-License-Identifier: BSD-3-Clause */
/* The compile workers: see matcher_pool.h. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "matcher_pool.h"

#define POOL_MAX_THREADS 64

struct matcher_batch {
	uint32_t left; /* jobs not yet run, under pool.lock */
};

struct job_queue {
	struct matcher_job *head, *tail;
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t work;		/* a job was queued */
	pthread_cond_t done;		/* a batch job finished */
	struct job_queue batch_q, bg_q; /* batch jobs go first */
	uint32_t want, n_threads, bg_pending;
	bool started, bg_thread;
	pthread_t threads[POOL_MAX_THREADS + 1];
	uint32_t n_all; /* threads[] in use: the batch workers and the background one */
	int event_fd;
} pool = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .work = PTHREAD_COND_INITIALIZER,
    .done = PTHREAD_COND_INITIALIZER,
    .event_fd = -1,
};

static void q_push(struct job_queue *q, struct matcher_job *j)
{
	j->next = NULL;
	if (q->tail != NULL)
		q->tail->next = j;
	else
		q->head = j;
	q->tail = j;
}

static struct matcher_job *q_pop(struct job_queue *q)
{
	struct matcher_job *j = q->head;

	if (j != NULL) {
		q->head = j->next;
		if (q->head == NULL)
			q->tail = NULL;
	}
	return j;
}

/* Remove and return the first queued job of batch `b`, or NULL. */
static struct matcher_job *q_take_batch(struct job_queue *q, const struct matcher_batch *b)
{
	struct matcher_job *prev = NULL;

	for (struct matcher_job *j = q->head; j != NULL; prev = j, j = j->next) {
		if (j->batch != b)
			continue;
		if (prev != NULL)
			prev->next = j->next;
		else
			q->head = j->next;
		if (q->tail == j)
			q->tail = prev;
		return j;
	}
	return NULL;
}

/* Run one job taken off a queue; the lock is held on entry and on return. */
static void run_locked(struct matcher_job *j)
{
	struct matcher_batch *b = j->batch;

	pthread_mutex_unlock(&pool.lock);
	j->run(j);
	if (b == NULL && j->done != NULL)
		j->done(j); /* may free j */
	pthread_mutex_lock(&pool.lock);
	if (b != NULL) {
		b->left--;
		pthread_cond_broadcast(&pool.done);
	} else {
		uint64_t one = 1;

		pool.bg_pending--;
		if (pool.event_fd >= 0 && write(pool.event_fd, &one, sizeof(one)) < 0) {
			/* the counter is saturated: the reader is notified already */
		}
	}
}

/* A full build's shards, at the caller's priority. */
static void *batch_worker(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&pool.lock);
	for (;;) {
		struct matcher_job *j = q_pop(&pool.batch_q);

		if (j == NULL) {
			pthread_cond_wait(&pool.work, &pool.lock);
			continue;
		}
		run_locked(j);
	}
	return NULL;
}

/*
 * Background recompiles, one at a time, at the lowest priority there is (SCHED_IDLE,
 * else nice 19): on a machine as small as two CPUs, where the control thread and the
 * compiles share the cores the polling lcores leave, a change arriving during a
 * recompile of seconds must not wait behind it.
 */
static void *background_worker(void *arg)
{
	struct sched_param sp = {.sched_priority = 0};

	(void)arg;
	if (pthread_setschedparam(pthread_self(), SCHED_IDLE, &sp) != 0 &&
	    setpriority(PRIO_PROCESS, 0, 19) != 0) {
		/* left at the default priority: still correct, only slower changes */
	}
	pthread_mutex_lock(&pool.lock);
	for (;;) {
		struct matcher_job *j = q_pop(&pool.bg_q);

		if (j == NULL) {
			pthread_cond_wait(&pool.work, &pool.lock);
			continue;
		}
		run_locked(j);
	}
	return NULL;
}

static uint32_t affinity_cpus(void)
{
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set) != 0)
		return 1;
	return CPU_COUNT(&set) > 0 ? (uint32_t)CPU_COUNT(&set) : 1;
}

/* Start the workers once; the lock is held. */
static void start_locked(void)
{
	uint32_t n;

	if (pool.started)
		return;
	pool.started = true;
	pool.event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	n = pool.want != 0 ? pool.want : affinity_cpus();
	if (n > POOL_MAX_THREADS)
		n = POOL_MAX_THREADS;
	for (uint32_t i = 0; i < n; i++) {
		pthread_t t;

		if (pthread_create(&t, NULL, batch_worker, NULL) != 0)
			break;
		pthread_detach(t);
		pool.threads[pool.n_all++] = t;
		pool.n_threads++;
	}
	{
		pthread_t t;

		if (pthread_create(&t, NULL, background_worker, NULL) == 0) {
			pthread_detach(t);
			pool.threads[pool.n_all++] = t;
			pool.bg_thread = true;
		}
	}
}

void matcher_pool_pin_to_self(void)
{
	cpu_set_t set;

	if (pthread_getaffinity_np(pthread_self(), sizeof(set), &set) != 0)
		return;
	pthread_mutex_lock(&pool.lock);
	start_locked();
	for (uint32_t i = 0; i < pool.n_all; i++)
		pthread_setaffinity_np(pool.threads[i], sizeof(set), &set);
	pthread_mutex_unlock(&pool.lock);
}

void matcher_pool_set_threads(uint32_t n)
{
	pthread_mutex_lock(&pool.lock);
	if (!pool.started)
		pool.want = n;
	pthread_mutex_unlock(&pool.lock);
}

uint32_t matcher_pool_threads(void)
{
	uint32_t n;

	pthread_mutex_lock(&pool.lock);
	n = pool.n_threads;
	pthread_mutex_unlock(&pool.lock);
	return n;
}

void matcher_pool_run(struct matcher_job **jobs, uint32_t n)
{
	struct matcher_batch b = {.left = n};

	if (n == 0)
		return;
	pthread_mutex_lock(&pool.lock);
	start_locked();
	for (uint32_t i = 0; i < n; i++) {
		jobs[i]->batch = &b;
		q_push(&pool.batch_q, jobs[i]);
	}
	pthread_cond_broadcast(&pool.work);
	while (b.left != 0) {
		struct matcher_job *j = q_take_batch(&pool.batch_q, &b);

		if (j != NULL)
			run_locked(j); /* help rather than wait */
		else
			pthread_cond_wait(&pool.done, &pool.lock);
	}
	pthread_mutex_unlock(&pool.lock);
}

void matcher_pool_submit(struct matcher_job *j)
{
	j->batch = NULL;
	pthread_mutex_lock(&pool.lock);
	start_locked();
	pool.bg_pending++;
	if (!pool.bg_thread) {
		/* no worker could be started: run it here rather than never */
		run_locked(j);
	} else {
		q_push(&pool.bg_q, j);
		pthread_cond_broadcast(&pool.work);
	}
	pthread_mutex_unlock(&pool.lock);
}

int matcher_pool_event_fd(void)
{
	int fd;

	pthread_mutex_lock(&pool.lock);
	start_locked();
	fd = pool.event_fd;
	pthread_mutex_unlock(&pool.lock);
	return fd;
}

void matcher_pool_event_clear(void)
{
	uint64_t v;
	int fd = matcher_pool_event_fd();

	if (fd >= 0 && read(fd, &v, sizeof(v)) < 0) {
		/* EAGAIN: nothing pending */
	}
}

uint32_t matcher_pool_pending(void)
{
	uint32_t n;

	pthread_mutex_lock(&pool.lock);
	n = pool.bg_pending;
	pthread_mutex_unlock(&pool.lock);
	return n;
}
