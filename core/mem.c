/* core/mem.c - refcounted memory blocks with destructors (after libre's mem) */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

/*
 * Each block carries a small header before the caller's data.  The
 * reference count is atomic because media workers and the main loop may
 * hand blocks to each other through gw_loop_post; the destructor runs on
 * whichever thread drops the last reference.
 */
struct mem_hdr {
	atomic_uint nrefs;
	unsigned magic;
	gw_mem_destroy_h *dh;
	max_align_t data[];
};

#define MEM_MAGIC 0x6a6d656dU	/* "jmem" */

static atomic_size_t mem_live;
static atomic_long mem_fail_countdown = -1;

static struct mem_hdr *hdr_of(const void *data)
{
	struct mem_hdr *h = (struct mem_hdr *)((char *)data -
					       offsetof(struct mem_hdr, data));

	if (h->magic != MEM_MAGIC) {
		fprintf(stderr, "gw_mem: %p is not a refcounted block\n", data);
		abort();
	}
	return h;
}

static bool fail_now(void)
{
	long n = atomic_load(&mem_fail_countdown);

	while (n >= 0) {
		if (atomic_compare_exchange_weak(&mem_fail_countdown, &n,
						 n - 1))
			return n == 0;
	}
	return false;
}

/**
 * Allocate a block of size bytes holding one reference; dh, if set, runs
 * when the last reference goes.  Returns NULL when memory is short.
 */
void *gw_mem_alloc(size_t size, gw_mem_destroy_h *dh)
{
	struct mem_hdr *h;

	if (fail_now() || size > SIZE_MAX - sizeof(*h))
		return NULL;
	h = malloc(sizeof(*h) + size);
	if (!h)
		return NULL;
	atomic_init(&h->nrefs, 1);
	h->magic = MEM_MAGIC;
	h->dh = dh;
	atomic_fetch_add(&mem_live, 1);
	return h->data;
}

/** As gw_mem_alloc, zero-filled. */
void *gw_mem_zalloc(size_t size, gw_mem_destroy_h *dh)
{
	void *p = gw_mem_alloc(size, dh);

	if (p)
		memset(p, 0, size);
	return p;
}

/** Take one more reference; returns data (NULL in, NULL out). */
void *gw_mem_ref(void *data)
{
	if (data)
		atomic_fetch_add(&hdr_of(data)->nrefs, 1);
	return data;
}

/**
 * Drop one reference; the last one runs the destructor and frees the
 * block.  Returns NULL so that callers can write p = gw_mem_deref(p).
 */
void *gw_mem_deref(void *data)
{
	struct mem_hdr *h;

	if (!data)
		return NULL;
	h = hdr_of(data);
	if (atomic_fetch_sub(&h->nrefs, 1) != 1)
		return NULL;
	if (h->dh)
		h->dh(data);
	h->magic = 0;
	free(h);
	atomic_fetch_sub(&mem_live, 1);
	return NULL;
}

/** The block's reference count (0 for NULL). */
unsigned gw_mem_nrefs(const void *data)
{
	return data ? atomic_load(&hdr_of(data)->nrefs) : 0;
}

/** A refcounted copy of s. */
char *gw_mem_strdup(const char *s)
{
	size_t n;
	char *p;

	if (!s)
		return NULL;
	n = strlen(s) + 1;
	p = gw_mem_alloc(n, NULL);
	if (p)
		memcpy(p, s, n);
	return p;
}

/** A refcounted string formatted as printf does. */
char *gw_mem_printf(const char *fmt, ...)
{
	va_list ap;
	int n;
	char *p;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return NULL;
	p = gw_mem_alloc((size_t)n + 1, NULL);
	if (!p)
		return NULL;
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}

/** Blocks allocated and not yet freed, across all threads. */
size_t gw_mem_live(void)
{
	return atomic_load(&mem_live);
}

/**
 * Make the n-th allocation from now fail (n = 0: the next one), so that
 * tests can walk every ENOMEM path; a negative n turns this off.
 */
void gw_mem_fail_after(long n)
{
	atomic_store(&mem_fail_countdown, n < 0 ? -1 : n);
}
