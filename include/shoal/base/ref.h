/* A reference count for memory or a descriptor that responses in flight borrow: the output
 * batch holds a ref for as long as it may still send the bytes, whoever owns them (the file
 * cache, or nobody once a generated body is handed over). The owner marks the ref orphaned
 * when it lets go; the last holder to drop it then calls free. Single-threaded: a worker's
 * refs never leave its process. */
#ifndef SHOAL_BASE_REF_H
#define SHOAL_BASE_REF_H

#include <stdbool.h>
#include <stdint.h>

struct shoal_ref {
	uint32_t count; /* holders, not counting the owner */
	bool orphaned;  /* no owner any more: freed when count drops to 0 */
	void (*free)(struct shoal_ref *r);
};

static inline void shoal_ref_hold(struct shoal_ref *r)
{
	r->count++;
}

static inline void shoal_ref_drop(struct shoal_ref *r)
{
	if (--r->count == 0 && r->orphaned)
		r->free(r);
}

/* The owner lets go: frees now if nobody holds r, else when the last holder drops it. */
static inline void shoal_ref_orphan(struct shoal_ref *r)
{
	r->orphaned = true;
	if (r->count == 0)
		r->free(r);
}

#endif
