/* SPDX-License-Identifier: BSD-3-Clause */
/* The compile cache: see matcher_cache.h for the file format and the rules. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "matcher_cache.h"

#define CACHE_MAGIC  "ASTRHSDB"
#define CACHE_FORMAT 1u
#define CACHE_SUFFIX ".hsdb"
#define CACHE_TMP    ".tmp."
#define CACHE_SEED   0x61737465722d6863ull /* "aster-hc" */

struct cache_hdr {
	char magic[8];
	uint32_t format;
	uint32_t hdr_len;
	uint8_t key[MATCHER_CACHE_KEY_LEN];
	uint64_t ident_len;
	uint64_t blob_len;
	uint64_t body_sum; /* hash of ident then blob */
	uint64_t hdr_sum;  /* hash of every field above */
};
_Static_assert(sizeof(struct cache_hdr) == 64, "cache file header is 64 bytes");

static struct {
	pthread_mutex_t lock;
	char *dir;
	uint64_t max_bytes;
	uint64_t seq; /* temporary file names */
	struct matcher_cache_counters c;
} cache = {.lock = PTHREAD_MUTEX_INITIALIZER};

static inline uint64_t rotl(uint64_t x, int r)
{
	return (x << r) | (x >> (64 - r));
}

static inline uint64_t avalanche(uint64_t h)
{
	h ^= h >> 31;
	h *= 0xd6e8feb86659fd93ull;
	h ^= h >> 32;
	h *= 0xa2f1b6f4b9ce5c97ull;
	h ^= h >> 29;
	return h;
}

/* Four independent lanes over 32-byte blocks (a few GB/s), then the tail. */
uint64_t matcher_cache_hash(const void *p, size_t n, uint64_t seed)
{
	const uint8_t *b = p;
	const uint64_t k1 = 0x9e3779b97f4a7c15ull, k2 = 0xbf58476d1ce4e5b9ull;
	uint64_t lane[4] = {seed ^ k1, seed + k2, seed ^ (k1 >> 7), seed - k2};
	uint64_t h, w;
	size_t i = 0;

	for (; i + 32 <= n; i += 32)
		for (int l = 0; l < 4; l++) {
			memcpy(&w, b + i + 8 * l, 8);
			lane[l] = rotl(lane[l] ^ (w * k1), 29) * k2;
		}
	h = (uint64_t)n * k1;
	for (int l = 0; l < 4; l++)
		h = rotl(h ^ avalanche(lane[l]), 23) * k2;
	for (; i + 8 <= n; i += 8) {
		memcpy(&w, b + i, 8);
		h = rotl(h ^ (w * k1), 27) * k2;
	}
	for (; i < n; i++)
		h = rotl(h ^ (b[i] * k1), 11) * k2;
	return avalanche(h);
}

static void key_hex(const uint8_t key[MATCHER_CACHE_KEY_LEN],
		    char out[2 * MATCHER_CACHE_KEY_LEN + 1])
{
	for (int i = 0; i < MATCHER_CACHE_KEY_LEN; i++)
		snprintf(out + 2 * i, 3, "%02x", key[i]);
}

/* DIR/<hex>.hsdb into `out` (PATH_MAX), under the lock. */
static void file_path(const uint8_t key[MATCHER_CACHE_KEY_LEN], char *out, size_t size)
{
	char hex[2 * MATCHER_CACHE_KEY_LEN + 1];

	key_hex(key, hex);
	snprintf(out, size, "%s/%s" CACHE_SUFFIX, cache.dir, hex);
}

/* Writers of temporary files that no longer run left them behind: remove them. */
static void remove_stale_tmp(void)
{
	DIR *d = opendir(cache.dir);
	struct dirent *e;
	char path[4096];

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		long pid;

		if (strncmp(e->d_name, CACHE_TMP, strlen(CACHE_TMP)) != 0)
			continue;
		pid = strtol(e->d_name + strlen(CACHE_TMP), NULL, 10);
		if (pid > 0 && (kill((pid_t)pid, 0) == 0 || errno != ESRCH))
			continue;
		snprintf(path, sizeof(path), "%s/%s", cache.dir, e->d_name);
		unlink(path);
	}
	closedir(d);
}

struct cache_file {
	char name[64];
	uint64_t size;
	struct timespec used;
};

static int cmp_used(const void *a, const void *b)
{
	const struct cache_file *x = a, *y = b;

	if (x->used.tv_sec != y->used.tv_sec)
		return x->used.tv_sec < y->used.tv_sec ? -1 : 1;
	return x->used.tv_nsec < y->used.tv_nsec ? -1 : x->used.tv_nsec > y->used.tv_nsec;
}

/* Sum the directory's files and, over budget, remove the least recently used. Lock held. */
static void evict_locked(void)
{
	DIR *d = opendir(cache.dir);
	struct cache_file *v = NULL;
	size_t n = 0, cap = 0;
	uint64_t total = 0;
	struct dirent *e;
	char path[4096];

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);
		struct stat st;

		if (len <= strlen(CACHE_SUFFIX) || len >= sizeof(v->name) ||
		    strcmp(e->d_name + len - strlen(CACHE_SUFFIX), CACHE_SUFFIX) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", cache.dir, e->d_name);
		if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		if (n == cap) {
			struct cache_file *nv = realloc(v, (cap ? 2 * cap : 64) * sizeof(*v));

			if (nv == NULL)
				break;
			v = nv;
			cap = cap ? 2 * cap : 64;
		}
		memcpy(v[n].name, e->d_name, len + 1);
		v[n].size = (uint64_t)st.st_size;
		v[n].used = st.st_mtim;
		total += v[n].size;
		n++;
	}
	closedir(d);
	if (total > cache.max_bytes && n > 0) {
		qsort(v, n, sizeof(*v), cmp_used);
		for (size_t i = 0; i < n && total > cache.max_bytes; i++) {
			snprintf(path, sizeof(path), "%s/%s", cache.dir, v[i].name);
			if (unlink(path) == 0) {
				total -= v[i].size;
				cache.c.evictions++;
			}
		}
	}
	cache.c.bytes = total;
	free(v);
}

int matcher_cache_open(const char *dir, uint64_t max_bytes, char *err, size_t errlen)
{
	struct stat st;
	char *copy;

	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "%s: cannot create the compile cache: %s", dir,
			 strerror(errno));
		return -errno;
	}
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || access(dir, R_OK | W_OK | X_OK) != 0) {
		snprintf(err, errlen, "%s: compile cache is not a writable directory", dir);
		return -ENOTDIR;
	}
	copy = strdup(dir);
	if (copy == NULL) {
		snprintf(err, errlen, "%s: out of memory", dir);
		return -ENOMEM;
	}
	pthread_mutex_lock(&cache.lock);
	free(cache.dir);
	cache.dir = copy;
	cache.max_bytes = max_bytes;
	remove_stale_tmp();
	evict_locked();
	pthread_mutex_unlock(&cache.lock);
	return 0;
}

void matcher_cache_close(void)
{
	pthread_mutex_lock(&cache.lock);
	free(cache.dir);
	cache.dir = NULL;
	pthread_mutex_unlock(&cache.lock);
}

bool matcher_cache_enabled(void)
{
	bool on;

	pthread_mutex_lock(&cache.lock);
	on = cache.dir != NULL;
	pthread_mutex_unlock(&cache.lock);
	return on;
}

void matcher_cache_counters(struct matcher_cache_counters *c)
{
	pthread_mutex_lock(&cache.lock);
	*c = cache.c;
	pthread_mutex_unlock(&cache.lock);
}

/* Count, log in one line and remove a bad file. */
static void reject(const char *path, const char *why)
{
	pthread_mutex_lock(&cache.lock);
	cache.c.bad++;
	pthread_mutex_unlock(&cache.lock);
	fprintf(stderr, "aster: compile cache: %s: %s; ignored, compiling instead\n", path, why);
	unlink(path);
}

void matcher_cache_reject(const uint8_t key[MATCHER_CACHE_KEY_LEN], const char *why)
{
	char path[4096];

	pthread_mutex_lock(&cache.lock);
	if (cache.dir == NULL) {
		pthread_mutex_unlock(&cache.lock);
		return;
	}
	file_path(key, path, sizeof(path));
	pthread_mutex_unlock(&cache.lock);
	reject(path, why);
}

static int read_full(int fd, void *p, size_t n)
{
	uint8_t *b = p;

	while (n > 0) {
		ssize_t r = read(fd, b, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		b += r;
		n -= (size_t)r;
	}
	return 0;
}

static uint64_t hdr_sum(const struct cache_hdr *h)
{
	return matcher_cache_hash(h, offsetof(struct cache_hdr, hdr_sum), CACHE_SEED);
}

static uint64_t body_sum(const void *ident, size_t ident_len, const void *blob, size_t len)
{
	return matcher_cache_hash(blob, len, matcher_cache_hash(ident, ident_len, CACHE_SEED));
}

void *matcher_cache_get(const uint8_t key[MATCHER_CACHE_KEY_LEN], const void *ident,
			size_t ident_len, size_t *len)
{
	struct cache_hdr h;
	char path[4096];
	const char *why = NULL;
	uint8_t *id = NULL, *blob = NULL;
	struct stat st;
	int fd;

	pthread_mutex_lock(&cache.lock);
	if (cache.dir == NULL) {
		pthread_mutex_unlock(&cache.lock);
		return NULL;
	}
	file_path(key, path, sizeof(path));
	pthread_mutex_unlock(&cache.lock);

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		pthread_mutex_lock(&cache.lock);
		cache.c.misses++;
		pthread_mutex_unlock(&cache.lock);
		return NULL;
	}
	if (fstat(fd, &st) != 0 || (uint64_t)st.st_size < sizeof(h) ||
	    read_full(fd, &h, sizeof(h)) != 0)
		why = "truncated header";
	else if (memcmp(h.magic, CACHE_MAGIC, sizeof(h.magic)) != 0 || h.format != CACHE_FORMAT ||
		 h.hdr_len != sizeof(h))
		why = "not a compile cache file of this format";
	else if (h.hdr_sum != hdr_sum(&h))
		why = "header checksum mismatch";
	else if (memcmp(h.key, key, MATCHER_CACHE_KEY_LEN) != 0)
		why = "stored under another key";
	else if ((uint64_t)st.st_size != sizeof(h) + h.ident_len + h.blob_len)
		why = "length does not match its header (truncated?)";
	else if (h.ident_len != ident_len)
		why = "compiled from other expressions (foreign file)";
	else if ((id = malloc(ident_len ? ident_len : 1)) == NULL ||
		 (blob = malloc(h.blob_len ? h.blob_len : 1)) == NULL)
		why = NULL; /* out of memory: a miss, not the file's fault */
	else if (read_full(fd, id, ident_len) != 0 || read_full(fd, blob, h.blob_len) != 0)
		why = "short read";
	else if (memcmp(id, ident, ident_len) != 0)
		why = "compiled from other expressions (foreign file)";
	else if (h.body_sum != body_sum(id, ident_len, blob, h.blob_len))
		why = "checksum mismatch (corrupt)";
	if (why == NULL && blob != NULL && id != NULL) {
		/* docs/operations.md: the mtime says when the file was last used (LRU) */
		futimens(fd, NULL);
		close(fd);
		free(id);
		*len = h.blob_len;
		pthread_mutex_lock(&cache.lock);
		cache.c.hits++;
		pthread_mutex_unlock(&cache.lock);
		return blob;
	}
	close(fd);
	free(id);
	free(blob);
	if (why != NULL)
		reject(path, why);
	else {
		pthread_mutex_lock(&cache.lock);
		cache.c.misses++;
		pthread_mutex_unlock(&cache.lock);
	}
	return NULL;
}

static int write_full(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n > 0) {
		ssize_t w = write(fd, b, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

void matcher_cache_put(const uint8_t key[MATCHER_CACHE_KEY_LEN], const void *ident,
		       size_t ident_len, const void *blob, size_t len)
{
	struct cache_hdr h;
	char path[4096], tmp[4096];
	uint64_t seq;
	int fd, ok;

	pthread_mutex_lock(&cache.lock);
	if (cache.dir == NULL || len + ident_len + sizeof(h) > cache.max_bytes) {
		pthread_mutex_unlock(&cache.lock);
		return; /* off, or a blob the budget could never hold */
	}
	file_path(key, path, sizeof(path));
	seq = ++cache.seq;
	snprintf(tmp, sizeof(tmp), "%s/" CACHE_TMP "%ld.%" PRIu64, cache.dir, (long)getpid(), seq);
	pthread_mutex_unlock(&cache.lock);

	memset(&h, 0, sizeof(h));
	memcpy(h.magic, CACHE_MAGIC, sizeof(h.magic));
	h.format = CACHE_FORMAT;
	h.hdr_len = sizeof(h);
	memcpy(h.key, key, MATCHER_CACHE_KEY_LEN);
	h.ident_len = ident_len;
	h.blob_len = len;
	h.body_sum = body_sum(ident, ident_len, blob, len);
	h.hdr_sum = hdr_sum(&h);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	ok = fd >= 0 && write_full(fd, &h, sizeof(h)) == 0 &&
	     write_full(fd, ident, ident_len) == 0 && write_full(fd, blob, len) == 0;
	if (fd >= 0 && close(fd) != 0)
		ok = 0;
	if (ok && rename(tmp, path) != 0)
		ok = 0;
	if (!ok) {
		int e = errno;

		unlink(tmp);
		fprintf(stderr, "aster: compile cache: %s: cannot store: %s\n", path, strerror(e));
	}
	pthread_mutex_lock(&cache.lock);
	if (ok) {
		cache.c.stores++;
		evict_locked();
	} else {
		cache.c.store_failed++;
	}
	pthread_mutex_unlock(&cache.lock);
}
