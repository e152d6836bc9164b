"""The built-in scenario: a Broadwell XenGT host as the 2016 thread describes it.

Every number says where it comes from; "estimate" marks the model's own.

Broadwell serves up to 7 vGPUs (gvt.h ``GVT_MAX_VGPU``; the 2016 ``vgt.h``
``VGT_MAX_VMS`` 8 with dom0), within the graphics memory the vGPU type takes
(vgpu.c): this host runs dom0 and seven guests: four vGPU guests with ordinary
GPU workloads (several thousand table pages each, as Yu Zhang reports for BDW,
2016-02-04), one legacy guest on the aliasing 3-level PPGTT that 2015–2017
i915 ran on a vGPU, one heavy vGPU guest whose page tables outgrow the
suggested limit of 8192, and one plain HVM guest served by the QEMU-like
emulator alone.  ``max_wp_ram_ranges`` is not set anywhere: libxl derives 8192
from the GPU generation for each vGPU guest.  The mediator runs the shipped
GVT-g policy, with 2016 XenGT's out-of-sync pool (4096 pages on Broadwell).
"""

XENGT_BDW = '''
name = "xengt-bdw"
description = "Broadwell XenGT host: dom0, 6 vGPU guests (one legacy, one heavy), 1 plain HVM guest"
seed = 2016
rounds = 24

[host]
designs = ["rangeset", "p2m", "p2t"]
xen_heap_mib = 64
# The seed patch's suggested limit, as the host-wide cap (SPEC: a boot option).
wp_ram_ranges_cap = 8192
gpu = "bdw"
# What GVT-g does (gtt.c); "proposal-2016" is the thread's never-shipped fallback.
gvt_policy = "shipped"
# A BIOS setting: 512 MiB leaves GVT-g 6 slots of vGPU type "8" (vgpu.c:
# (512 - 128) / 64); the common 256 MiB would leave 2.
aperture_mib = 512
vgpu_type = "8"

[[domain]]
count = 4
xl_cfg = """
name = "vgpu"
type = "hvm"
memory = 4096
vcpus = 2
vgt = 1
vif = [ "bridge=xenbr0" ]
"""
[domain.workload]
kind = "gpu"
# Full 48-bit PPGTT per context (current i915); 12 contexts of 240 leaf tables:
# about 3,000 table pages, "several thousand" (Yu Zhang).  Estimate.
shape = "full-4level"
processes = 12
leaves = 240
# Buffers of 1-8 pages (4-32 KiB), 16 PTEs used per leaf table.  Estimate: a real
# address space fills tens to 512 entries of a table.
ptes_per_table = 16
buffer_pages_min = 1
buffer_pages_max = 8
churn = 24
grow = 8
policy = "mixed"
destroy_every = 8

[[domain]]
xl_cfg = """
name = "legacy"
type = "hvm"
memory = 2048
vcpus = 2
vgt = 1
"""
[domain.workload]
kind = "gpu"
# i915 of 2015-2017 on a vGPU: one aliasing PPGTT, 4 PDs and 2,048 PTs up front.
shape = "aliasing-3level"
processes = 4
leaves = 64
ptes_per_table = 16
buffer_pages_min = 1
buffer_pages_max = 8
churn = 24
grow = 4
policy = "scattered"
destroy_every = 6

[[domain]]
xl_cfg = """
name = "render"
type = "hvm"
memory = 8192
vcpus = 4
vgt = 1
"""
[domain.workload]
kind = "gpu"
# A renderer with three large address spaces: over 9,000 table pages.  Estimate.
shape = "full-4level"
processes = 3
leaves = 3000
ptes_per_table = 8
buffer_pages_min = 1
buffer_pages_max = 8
churn = 64
grow = 16
policy = "scattered"
destroy_every = 0

[[domain]]
xl_cfg = """
name = "web"
type = "hvm"
memory = 1024
vga = "stdvga"
"""
[domain.workload]
kind = "devices"
'''
