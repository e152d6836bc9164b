"""The built-in scenario: a Broadwell XenGT host as the 2016 thread describes it.

Broadwell supports 7 VMs on one GPU including dom0 (Paul Durrant,
2016-02-03), so this host runs dom0 and six guests: four vGPU guests with
ordinary GPU workloads (several thousand table pages each, as Yu Zhang
reports for BDW), one heavy vGPU guest whose page tables outgrow the
suggested limit of 8192, and one plain HVM guest served by the QEMU-like
emulator alone.  ``max_wp_ram_ranges`` is not set anywhere: libxl derives
8192 from the GPU generation for each vGPU guest.
"""

XENGT_BDW = '''
name = "xengt-bdw"
description = "Broadwell XenGT host: dom0, 5 vGPU guests (one heavy), 1 plain HVM guest"
seed = 2016
rounds = 24

[host]
designs = ["rangeset", "p2m", "p2t"]
xen_heap_mib = 64
wp_ram_ranges_cap = 8192
gpu = "bdw"

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
processes = 12
leaves = 240
ptes_per_table = 2
churn = 24
grow = 8
policy = "mixed"
destroy_every = 8

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
processes = 3
leaves = 3000
ptes_per_table = 1
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
