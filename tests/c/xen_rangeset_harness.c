/*
 * ioreqlab's harness around Xen's own rangeset.c: the stripped source is
 * #included here (XEN_RANGESET_C), so its static functions and struct fields
 * are reachable, and a flat C API is exported for ctypes (tests/xen_rangeset.py).
 */
#include "xen_rangeset_harness.h"

long h_fail_countdown;
long h_allocations;
char h_printk_buf[65536];
size_t h_printk_len;
int h_assert_failed;

#include XEN_RANGESET_C

static struct domain h_dom = { .domain_id = 1 };

struct rangeset *h_new(const char *name, unsigned int flags)
{
    if ( list_head_is_null(&h_dom.rangesets) )
        rangeset_domain_initialise(&h_dom);
    return rangeset_new(&h_dom, name, flags);
}

void h_destroy(struct rangeset *r) { rangeset_destroy(r); }
int h_add(struct rangeset *r, unsigned long s, unsigned long e) { return rangeset_add_range(r, s, e); }
int h_remove(struct rangeset *r, unsigned long s, unsigned long e) { return rangeset_remove_range(r, s, e); }
int h_contains(struct rangeset *r, unsigned long s, unsigned long e) { return rangeset_contains_range(r, s, e); }
int h_overlaps(struct rangeset *r, unsigned long s, unsigned long e) { return rangeset_overlaps_range(r, s, e); }
int h_is_empty(struct rangeset *r) { return rangeset_is_empty(r); }
void h_limit(struct rangeset *r, unsigned int limit) { rangeset_limit(r, limit); }
void h_swap(struct rangeset *a, struct rangeset *b) { rangeset_swap(a, b); }
long h_nr_ranges(struct rangeset *r) { return r->nr_ranges; }
const char *h_name(struct rangeset *r) { return r->name; }

/* report_ranges into an array of (s, e) pairs; returns how many were reported. */
struct h_report { unsigned long *out; long room, n; };
static int h_collect(unsigned long s, unsigned long e, void *ctxt)
{
    struct h_report *rep = ctxt;

    if ( rep->n >= rep->room )
        return -ENOSPC;
    rep->out[2 * rep->n] = s;
    rep->out[2 * rep->n + 1] = e;
    rep->n++;
    return 0;
}
long h_report(struct rangeset *r, unsigned long s, unsigned long e,
              unsigned long *out, long room)
{
    struct h_report rep = { out, room, 0 };
    int rc = rangeset_report_ranges(r, s, e, h_collect, &rep);

    return rc ? rc : rep.n;
}

/* Every stored range, in list order; returns how many. */
long h_ranges(struct rangeset *r, unsigned long *out, long room)
{
    return h_report(r, 0, ~0UL, out, room);
}

/* rangeset_printk into the buffer; returns its text (NUL-terminated). */
const char *h_print(struct rangeset *r)
{
    h_printk_len = 0;
    h_printk_buf[0] = '\0';
    rangeset_printk(r);
    return h_printk_buf;
}

int h_take_assert(void) { int f = h_assert_failed; h_assert_failed = 0; return f; }
void h_fail_nth(long n) { h_fail_countdown = n; }
long h_granted(void) { return h_allocations; }
