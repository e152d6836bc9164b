/*
 * ioreqlab's interposition library: a real device-model process runs with
 * LD_PRELOAD pointing here, and its use of the Linux Xen device nodes
 * (/dev/xen/..., /proc/xen/...) is forwarded to the ioreqlab process that
 * plays Linux's privcmd and evtchn drivers and, behind them, Xen.
 *
 * This file knows nothing of Xen.  It forwards four calls on the nodes:
 *
 *   open   -> the model answers with an errno, or with a real file
 *             descriptor (one end of a socket pair) that the client keeps as
 *             its device fd, so read, write, poll, select and epoll on it
 *             are the kernel's own (the evtchn driver's data flows there);
 *   ioctl  -> request number and argument; the model reads and writes the
 *             client's memory itself (process_vm_readv/writev), and may
 *             answer with mappings to make: "map this many bytes of the
 *             shared memory file at this offset, at this address";
 *   mmap   -> of a device fd: shared anonymous memory, whose address and
 *             size the model is told (a VMA of the device, which a later
 *             ioctl may fill with shared pages);
 *   close  -> the model forgets the handle.
 *
 * munmap of a region this library mapped is reported too.  Everything goes
 * over one unix socket ($IOREQLAB_SOCK), one request at a time under a
 * mutex; the reply carries the result as -errno or a value.
 *
 * Wire format (little-endian, host order): a request is
 *   u32 kind, u32 handle, u64 a[4], u32 len, then len bytes;
 * a reply is
 *   i64 ret, u32 nmaps, u32 len, then nmaps * {u64 addr, size, offset, prot},
 *   then len bytes, with at most one file descriptor attached (SCM_RIGHTS).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <unistd.h>

enum { K_HELLO = 1, K_OPEN, K_IOCTL, K_MMAP, K_CLOSE, K_MUNMAP };

#define MAX_FDS 4096
#define MAX_VMAS 1024

struct req { uint32_t kind, handle; uint64_t a[4]; uint32_t len; } __attribute__((packed));
struct rep { int64_t ret; uint32_t nmaps, len; } __attribute__((packed));
struct map { uint64_t addr, size, offset, prot; } __attribute__((packed));

static pthread_mutex_t lock = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
static int ctl = -1;          /* the socket to the model */
static int shm = -1;          /* the shared memory file (guest frames, ioreq pages) */
static uint32_t handle_of[MAX_FDS];  /* fd -> handle + 1, 0: not a device fd */
static struct { uintptr_t addr; size_t size; } vmas[MAX_VMAS];

static int (*real_open)(const char *, int, ...);
static int (*real_openat)(int, const char *, int, ...);
static int (*real_close)(int);
static int (*real_ioctl)(int, unsigned long, ...);
static void *(*real_mmap)(void *, size_t, int, int, int, off_t);
static int (*real_munmap)(void *, size_t);

static void resolve(void)
{
    if (real_open)
        return;
    real_openat = (int (*)(int, const char *, int, ...))dlsym(RTLD_NEXT, "openat");
    real_close = (int (*)(int))dlsym(RTLD_NEXT, "close");
    real_ioctl = (int (*)(int, unsigned long, ...))dlsym(RTLD_NEXT, "ioctl");
    real_mmap = (void *(*)(void *, size_t, int, int, int, off_t))dlsym(RTLD_NEXT, "mmap");
    real_munmap = (int (*)(void *, size_t))dlsym(RTLD_NEXT, "munmap");
    real_open = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, "open");
}

static int is_node(const char *path)
{
    return path && (!strncmp(path, "/dev/xen/", 9) || !strncmp(path, "/proc/xen/", 10));
}

static int full_write(const void *buf, size_t n)
{
    const char *p = buf;
    while (n) {
        ssize_t w = send(ctl, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Receive exactly n bytes; the first chunk may carry a file descriptor. */
static int full_read(void *buf, size_t n, int *fd)
{
    char *p = buf;
    while (n) {
        char cbuf[CMSG_SPACE(sizeof(int))];
        struct iovec iov = { p, n };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
                             .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
        ssize_t r = recvmsg(ctl, &mh, MSG_CMSG_CLOEXEC);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && fd)
                memcpy(fd, CMSG_DATA(c), sizeof(int));
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

static void lost(void)
{
    fprintf(stderr, "ioreqlab preload: lost the connection to the model\n");
    _exit(121);
}

/* One request and its reply; applies the reply's mappings. */
static int64_t call(uint32_t kind, uint32_t handle, uint64_t a0, uint64_t a1, uint64_t a2,
                    uint64_t a3, const void *data, uint32_t len, int *fd_out,
                    void *out, uint32_t out_max);

static void connect_model(void)
{
    const char *path = getenv("IOREQLAB_SOCK");
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    if (!path || strlen(path) >= sizeof(sa.sun_path)) {
        fprintf(stderr, "ioreqlab preload: IOREQLAB_SOCK is not set\n");
        _exit(121);
    }
    strcpy(sa.sun_path, path);
    ctl = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (ctl < 0 || connect(ctl, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        lost();
    if (call(K_HELLO, 0, (uint64_t)getpid(), 0, 0, 0, NULL, 0, &shm, NULL, 0) < 0 || shm < 0)
        lost();
}

static int64_t call(uint32_t kind, uint32_t handle, uint64_t a0, uint64_t a1, uint64_t a2,
                    uint64_t a3, const void *data, uint32_t len, int *fd_out,
                    void *out, uint32_t out_max)
{
    struct req rq = { kind, handle, { a0, a1, a2, a3 }, len };
    struct rep rp;
    if (ctl < 0 && kind != K_HELLO)
        connect_model();
    if (full_write(&rq, sizeof(rq)) || (len && full_write(data, len)))
        lost();
    if (full_read(&rp, sizeof(rp), fd_out))
        lost();
    for (uint32_t i = 0; i < rp.nmaps; i++) {
        struct map m;
        if (full_read(&m, sizeof(m), NULL))
            lost();
        void *at = real_mmap((void *)(uintptr_t)m.addr, m.size, (int)m.prot,
                             MAP_SHARED | MAP_FIXED, shm, (off_t)m.offset);
        if (at == MAP_FAILED && rp.ret >= 0)
            rp.ret = -EFAULT;
    }
    for (uint32_t got = 0; got < rp.len;) {
        char sink[256];
        uint32_t n = rp.len - got;
        char *dst = sink;
        if (out && got < out_max) {
            dst = (char *)out + got;
            if (n > out_max - got)
                n = out_max - got;
        } else if (n > sizeof(sink)) {
            n = sizeof(sink);
        }
        if (full_read(dst, n, NULL))
            lost();
        got += n;
    }
    return rp.ret;
}

static uint32_t handle(int fd)
{
    return fd >= 0 && fd < MAX_FDS ? handle_of[fd] : 0;
}

static int open_node(const char *path, int flags)
{
    int fd = -1;
    pthread_mutex_lock(&lock);
    int64_t h = call(K_OPEN, 0, (uint64_t)flags, 0, 0, 0, path, (uint32_t)strlen(path) + 1,
                     &fd, NULL, 0);
    if (h > 0 && fd >= 0 && fd < MAX_FDS) {
        handle_of[fd] = (uint32_t)h;
        if (!(flags & O_CLOEXEC))
            fcntl(fd, F_SETFD, 0);
        if (flags & O_NONBLOCK)
            fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    } else if (h > 0) {
        if (fd >= 0)
            real_close(fd);
        h = -EMFILE;
    }
    pthread_mutex_unlock(&lock);
    if (h < 0) {
        errno = (int)-h;
        return -1;
    }
    return fd;
}

static mode_t mode_arg(int flags, va_list ap)
{
    return (flags & (O_CREAT | O_TMPFILE)) ? va_arg(ap, mode_t) : 0;
}

int open(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    resolve();
    if (is_node(path))
        return open_node(path, flags);
    return real_open(path, flags, mode);
}

int open64(const char *path, int flags, ...) __attribute__((alias("open")));

int openat(int dirfd, const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    resolve();
    if (is_node(path))
        return open_node(path, flags);
    return real_openat(dirfd, path, flags, mode);
}

int openat64(int dirfd, const char *path, int flags, ...) __attribute__((alias("openat")));

int __open_2(const char *path, int flags) { return open(path, flags); }
int __open64_2(const char *path, int flags) { return open(path, flags); }

int close(int fd)
{
    resolve();
    uint32_t h = handle(fd);
    if (h) {
        pthread_mutex_lock(&lock);
        handle_of[fd] = 0;
        call(K_CLOSE, h, 0, 0, 0, 0, NULL, 0, NULL, NULL, 0);
        pthread_mutex_unlock(&lock);
    }
    return real_close(fd);
}

int ioctl(int fd, unsigned long request, ...)
{
    va_list ap;
    va_start(ap, request);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    resolve();
    uint32_t h = handle(fd);
    if (!h)
        return real_ioctl(fd, request, arg);
    pthread_mutex_lock(&lock);
    int64_t rc = call(K_IOCTL, h, request, (uint64_t)(uintptr_t)arg, 0, 0, NULL, 0,
                      NULL, NULL, 0);
    pthread_mutex_unlock(&lock);
    if (rc < 0) {
        errno = (int)-rc;
        return -1;
    }
    return (int)rc;
}

void *mmap(void *addr, size_t size, int prot, int flags, int fd, off_t offset)
{
    resolve();
    uint32_t h = handle(fd);
    if (!h)
        return real_mmap(addr, size, prot, flags, fd, offset);
    void *at = real_mmap(addr, size, prot, (flags & MAP_FIXED) | MAP_SHARED | MAP_ANONYMOUS,
                         -1, 0);
    if (at == MAP_FAILED)
        return at;
    pthread_mutex_lock(&lock);
    int64_t rc = call(K_MMAP, h, (uint64_t)(uintptr_t)at, size, (uint64_t)prot,
                      (uint64_t)offset, NULL, 0, NULL, NULL, 0);
    if (rc >= 0) {
        for (int i = 0; i < MAX_VMAS; i++)
            if (!vmas[i].size) {
                vmas[i].addr = (uintptr_t)at;
                vmas[i].size = size;
                break;
            }
    }
    pthread_mutex_unlock(&lock);
    if (rc < 0) {
        real_munmap(at, size);
        errno = (int)-rc;
        return MAP_FAILED;
    }
    return at;
}

void *mmap64(void *, size_t, int, int, int, off_t) __attribute__((alias("mmap")));

int munmap(void *addr, size_t size)
{
    resolve();
    pthread_mutex_lock(&lock);
    for (int i = 0; i < MAX_VMAS; i++)
        if (vmas[i].size && vmas[i].addr == (uintptr_t)addr) {
            if (size >= vmas[i].size)
                vmas[i].size = 0;
            if (ctl >= 0)
                call(K_MUNMAP, 0, (uint64_t)(uintptr_t)addr, size, 0, 0, NULL, 0, NULL,
                     NULL, 0);
            break;
        }
    pthread_mutex_unlock(&lock);
    return real_munmap(addr, size);
}
