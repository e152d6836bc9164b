/*
 * A device model in C: makes libxendevicemodel calls read from a file and prints
 * one JSON line per call (name, rc, errno, outputs).  Each input line is a
 * function name without the xendevicemodel_ prefix and its numeric arguments
 * after the handle and domid; "SID" stands for the id the last
 * create_ioreq_server returned.  The guest is $IOREQLAB_DOMID.
 * Compiled at test time (ioreqlab.realdm.build.compile_c).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xendevicemodel.h>

#define MAX_ARGS 16

static unsigned long long sid;

static int parse(char *line, char **name, unsigned long long *a)
{
    int n = 0;
    *name = strtok(line, " \t\n");
    for (char *t = strtok(NULL, " \t\n"); t && n < MAX_ARGS; t = strtok(NULL, " \t\n"))
        a[n++] = strcmp(t, "SID") ? strtoull(t, NULL, 0) : sid;
    return n;
}

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    FILE *in = fopen(argv[1], "r");
    const char *env = getenv("IOREQLAB_DOMID");
    xendevicemodel_handle *h = xendevicemodel_open(NULL, 0);
    if (!in || !env || !h) {
        printf("{\"call\": \"open\", \"errno\": %d}\n", errno);
        return 1;
    }
    domid_t dom = (domid_t)atoi(env);
    char line[512];
    while (fgets(line, sizeof(line), in)) {
        char *name;
        unsigned long long a[MAX_ARGS] = { 0 };
        int n = parse(line, &name, a), rc = -1;
        unsigned long long out[3] = { 0 };
        int nout = 0;
        if (!name)
            continue;
        errno = 0;
        if (!strcmp(name, "create_ioreq_server")) {
            ioservid_t id = 0;
            rc = xendevicemodel_create_ioreq_server(h, dom, (int)a[0], &id);
            out[0] = id, nout = 1;
            if (!rc)
                sid = id;
        } else if (!strcmp(name, "get_ioreq_server_info")) {
            xen_pfn_t io = 0, buf = 0;
            evtchn_port_t port = 0;
            rc = xendevicemodel_get_ioreq_server_info(h, dom, (ioservid_t)a[0], &io, &buf, &port);
            out[0] = io, out[1] = buf, out[2] = port, nout = 3;
        } else if (!strcmp(name, "map_io_range_to_ioreq_server")) {
            rc = xendevicemodel_map_io_range_to_ioreq_server(h, dom, (ioservid_t)a[0], (int)a[1],
                                                             a[2], a[3]);
        } else if (!strcmp(name, "unmap_io_range_from_ioreq_server")) {
            rc = xendevicemodel_unmap_io_range_from_ioreq_server(h, dom, (ioservid_t)a[0],
                                                                 (int)a[1], a[2], a[3]);
        } else if (!strcmp(name, "map_pcidev_to_ioreq_server")) {
            rc = xendevicemodel_map_pcidev_to_ioreq_server(h, dom, (ioservid_t)a[0], (uint16_t)a[1],
                                                           (uint8_t)a[2], (uint8_t)a[3],
                                                           (uint8_t)a[4]);
        } else if (!strcmp(name, "unmap_pcidev_from_ioreq_server")) {
            rc = xendevicemodel_unmap_pcidev_from_ioreq_server(h, dom, (ioservid_t)a[0],
                                                               (uint16_t)a[1], (uint8_t)a[2],
                                                               (uint8_t)a[3], (uint8_t)a[4]);
        } else if (!strcmp(name, "map_mem_type_to_ioreq_server")) {
            rc = xendevicemodel_map_mem_type_to_ioreq_server(h, dom, (ioservid_t)a[0],
                                                             (uint16_t)a[1], (uint32_t)a[2]);
        } else if (!strcmp(name, "set_mem_type")) {
            rc = xendevicemodel_set_mem_type(h, dom, (hvmmem_type_t)a[0], a[1], (uint32_t)a[2]);
        } else if (!strcmp(name, "set_ioreq_server_state")) {
            rc = xendevicemodel_set_ioreq_server_state(h, dom, (ioservid_t)a[0], (int)a[1]);
        } else if (!strcmp(name, "destroy_ioreq_server")) {
            rc = xendevicemodel_destroy_ioreq_server(h, dom, (ioservid_t)a[0]);
        } else if (!strcmp(name, "set_isa_irq_level")) {
            rc = xendevicemodel_set_isa_irq_level(h, dom, (uint8_t)a[0], (unsigned int)a[1]);
        } else if (!strcmp(name, "set_irq_level")) {
            rc = xendevicemodel_set_irq_level(h, dom, (unsigned int)a[0], (unsigned int)a[1]);
        } else if (!strcmp(name, "set_pci_intx_level")) {
            rc = xendevicemodel_set_pci_intx_level(h, dom, (uint16_t)a[0], (uint8_t)a[1],
                                                   (uint8_t)a[2], (uint8_t)a[3],
                                                   (unsigned int)a[4]);
        } else if (!strcmp(name, "set_pci_link_route")) {
            rc = xendevicemodel_set_pci_link_route(h, dom, (uint8_t)a[0], (uint8_t)a[1]);
        } else if (!strcmp(name, "inject_msi")) {
            rc = xendevicemodel_inject_msi(h, dom, a[0], (uint32_t)a[1]);
        } else if (!strcmp(name, "modified_memory")) {
            rc = xendevicemodel_modified_memory(h, dom, a[0], (uint32_t)a[1]);
        } else if (!strcmp(name, "modified_memory_bulk")) {
            struct xen_dm_op_modified_memory_extent ext[MAX_ARGS / 2];
            memset(ext, 0, sizeof(ext));
            for (int i = 0; i < n / 2; i++)
                ext[i].first_pfn = a[2 * i], ext[i].nr = (uint32_t)a[2 * i + 1];
            rc = xendevicemodel_modified_memory_bulk(h, dom, ext, (uint32_t)(n / 2));
        } else if (!strcmp(name, "track_dirty_vram")) {
            unsigned long bitmap[64] = { 0 };
            rc = a[1] <= 64 * 8 * sizeof(unsigned long)
                     ? xendevicemodel_track_dirty_vram(h, dom, a[0], (uint32_t)a[1], bitmap)
                     : (errno = EINVAL, -1);
        } else if (!strcmp(name, "inject_event")) {
            rc = xendevicemodel_inject_event(h, dom, (int)a[0], (uint8_t)a[1], (uint8_t)a[2],
                                             (uint32_t)a[3], (uint8_t)a[4], a[5]);
        } else if (!strcmp(name, "shutdown")) {
            rc = xendevicemodel_shutdown(h, dom, (unsigned int)a[0]);
        } else if (!strcmp(name, "relocate_memory")) {
            rc = xendevicemodel_relocate_memory(h, dom, (uint32_t)a[0], a[1], a[2]);
        } else if (!strcmp(name, "pin_memory_cacheattr")) {
            rc = xendevicemodel_pin_memory_cacheattr(h, dom, a[0], a[1], (uint32_t)a[2]);
        } else if (!strcmp(name, "nr_vcpus")) {
            unsigned int v = 0;
            rc = xendevicemodel_nr_vcpus(h, dom, &v);
            out[0] = v, nout = 1;
        } else {
            printf("{\"call\": \"%s\", \"unknown\": true}\n", name);
            continue;
        }
        int err = rc < 0 ? errno : 0;
        printf("{\"call\": \"%s\", \"rc\": %d, \"errno\": %d, \"out\": [", name, rc, err);
        for (int i = 0; rc == 0 && i < nout; i++)
            printf("%s%llu", i ? ", " : "", out[i]);
        printf("]}\n");
        fflush(stdout);
    }
    xendevicemodel_close(h);
    return 0;
}
