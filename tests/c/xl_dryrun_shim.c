/*
 * The few calls `xl -N create` (a dry run) makes before it prints, answered
 * without Xen: an LD_PRELOAD library for tests/test_xl_real.py, written for
 * ioreqlab.  libxl_ctx_alloc needs a libxc and a xenstore handle (any
 * pointer: a dry run never uses them), and parse_config_data asks for the
 * Xen version, the CPU count and the host's physical info.  Nothing else is
 * reached; a call that is would fail as on a machine without Xen.
 */
#define _GNU_SOURCE  /* first, for the libc headers */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xenctrl.h>
#include <xenstore.h>
static char fake_xch[4096], fake_xsh[4096];
xc_interface *xc_interface_open(xentoollog_logger *l, xentoollog_logger *d, unsigned f) { (void)l;(void)d;(void)f; return (xc_interface *)fake_xch; }
int xc_interface_close(xc_interface *x) { (void)x; return 0; }
struct xs_handle *xs_open(unsigned long flags) { (void)flags; return (struct xs_handle *)fake_xsh; }
void xs_close(struct xs_handle *h) { (void)h; }
void xs_daemon_close(struct xs_handle *h) { (void)h; }
int xc_version(xc_interface *x, int cmd, void *arg) {
    (void)x;
    switch (cmd) {
    case XENVER_version: return (4 << 16) | 17;
    case XENVER_extraversion: strcpy(arg, ".0"); return 0;
    default: if (arg) memset(arg, 0, 1024); return 0;
    }
}
int xc_physinfo(xc_interface *x, xc_physinfo_t *info) {
    (void)x; memset(info, 0, sizeof(*info));
    info->threads_per_core = 1; info->cores_per_socket = 2; info->nr_cpus = 2; info->max_cpu_id = 1;
    info->nr_nodes = 1; info->max_node_id = 0; info->cpu_khz = 2000000;
    info->total_pages = 4u << 18; info->free_pages = 3u << 18;
    info->capabilities = XEN_SYSCTL_PHYSCAP_hvm | XEN_SYSCTL_PHYSCAP_pv | XEN_SYSCTL_PHYSCAP_hap;
    return 0;
}
int xc_get_max_cpus(xc_interface *x) { (void)x; return 2; }
int xc_get_online_cpus(xc_interface *x) { (void)x; return 2; }
int xc_get_max_nodes(xc_interface *x) { (void)x; return 1; }
long xc_sharing_freed_pages(xc_interface *x) { (void)x; return 0; }
long xc_sharing_used_frames(xc_interface *x) { (void)x; return 0; }
