/*
 * Just enough of Xen's headers to compile Xen's own xen/common/rangeset.c in
 * user space (its #include lines are stripped first: tests/xen_rangeset.py).
 * Written for ioreqlab; it defines what rangeset.c uses and nothing more:
 *   - xmalloc/xfree on malloc/free, with a countdown that makes the n-th
 *     allocation fail (heap-failure injection);
 *   - printk appending to one buffer the test reads back;
 *   - locks as no-ops (one thread);
 *   - ASSERT and BUG_ON that record the failure and return from the call
 *     (ASSERT; BUG_ON records only): a bad argument is reported, the
 *     process goes on.
 */
#ifndef IOREQLAB_XEN_RANGESET_HARNESS_H
#define IOREQLAB_XEN_RANGESET_HARNESS_H

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int bool_t;
#define true 1
#define false 0
#define __must_check
#define cf_check
#define unlikely(x) (x)
#define likely(x) (x)
#define max(a, b) ((a) > (b) ? (a) : (b))
#define min(a, b) ((a) < (b) ? (a) : (b))

/* -- the doubly linked list of xen/list.h, as rangeset.c uses it -- */
struct list_head {
    struct list_head *next, *prev;
};
#define LIST_HEAD_INIT(name) { &(name), &(name) }
#define LIST_HEAD(name) struct list_head name = LIST_HEAD_INIT(name)
static inline void INIT_LIST_HEAD(struct list_head *l) { l->next = l; l->prev = l; }
static inline void h_list_insert(struct list_head *n, struct list_head *prev,
                                 struct list_head *next)
{
    next->prev = n; n->next = next; n->prev = prev; prev->next = n;
}
static inline void list_add(struct list_head *n, struct list_head *head)
{
    h_list_insert(n, head, head->next);
}
static inline void list_del(struct list_head *e)
{
    e->next->prev = e->prev; e->prev->next = e->next;
    e->next = NULL; e->prev = NULL;
}
static inline int list_empty(const struct list_head *head) { return head->next == head; }
static inline int list_head_is_null(const struct list_head *l) { return l->next == NULL; }
static inline void h_list_splice(struct list_head *list, struct list_head *head)
{
    struct list_head *first = list->next, *last = list->prev, *at = head->next;
    first->prev = head; head->next = first; last->next = at; at->prev = last;
}
static inline void list_splice(struct list_head *list, struct list_head *head)
{
    if ( !list_empty(list) )
        h_list_splice(list, head);
}
static inline void list_splice_init(struct list_head *list, struct list_head *head)
{
    if ( !list_empty(list) )
    {
        h_list_splice(list, head);
        INIT_LIST_HEAD(list);
    }
}
#define list_entry(ptr, type, member) \
    ((type *)((char *)(ptr) - offsetof(type, member)))
#define list_for_each_entry(pos, head, member)                          \
    for ( pos = list_entry((head)->next, __typeof__(*pos), member);     \
          &pos->member != (head);                                       \
          pos = list_entry(pos->member.next, __typeof__(*pos), member) )

/* -- locks: one thread, nothing to do -- */
typedef int rwlock_t;
typedef int spinlock_t;
#define rwlock_init(l) ((void)(l))
#define spin_lock_init(l) ((void)(l))
#define read_lock(l) ((void)(l))
#define read_unlock(l) ((void)(l))
#define write_lock(l) ((void)(l))
#define write_unlock(l) ((void)(l))
#define spin_lock(l) ((void)(l))
#define spin_unlock(l) ((void)(l))

struct domain {
    unsigned int domain_id;
    struct list_head rangesets;
    spinlock_t rangesets_lock;
};

/* -- the heap: malloc, and a countdown to the allocation that fails -- */
extern long h_fail_countdown;   /* 0: never fail; n: the n-th allocation fails */
extern long h_allocations;      /* allocations granted so far */
static inline void *h_xmalloc(size_t size)
{
    if ( h_fail_countdown > 0 && --h_fail_countdown == 0 )
        return NULL;
    h_allocations++;
    return malloc(size);
}
#define xmalloc(type) ((type *)h_xmalloc(sizeof(type)))
#define xfree(p) free(p)

/* -- printk into one buffer -- */
extern char h_printk_buf[65536];
extern size_t h_printk_len;
static inline void printk(const char *fmt, ...)
{
    va_list ap;
    size_t room = sizeof(h_printk_buf) - h_printk_len;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(h_printk_buf + h_printk_len, room, fmt, ap);
    va_end(ap);
    if ( n > 0 )
        h_printk_len += (size_t)n < room ? (size_t)n : room - 1;
}

/* -- assertions: recorded, and the call returns at once -- */
extern int h_assert_failed;
#define ASSERT(p) do { if ( !(p) ) { h_assert_failed = 1; return -EINVAL; } } while ( 0 )
#define BUG_ON(p) do { if ( p ) h_assert_failed = 1; } while ( 0 )

/* safe_strcpy (xen/string.h): strlcpy into an array, at most sizeof - 1 bytes. */
#define safe_strcpy(d, s) ({                                      \
    size_t h_n_ = strlen(s);                                      \
    if ( h_n_ >= sizeof(d) ) h_n_ = sizeof(d) - 1;                \
    memcpy(d, s, h_n_); (d)[h_n_] = '\0';                         \
    strlen(s) >= sizeof(d); })

#define _RANGESETF_prettyprint_hex 0
#define RANGESETF_prettyprint_hex  (1U << _RANGESETF_prettyprint_hex)

#endif
