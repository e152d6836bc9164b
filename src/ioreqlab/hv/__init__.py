"""The hypervisor's parts, each one concern; :class:`ioreqlab.host.Host` puts them together.

``domain`` (per-domain state), ``heap`` (the Xen heap), ``params`` (HVM
params), ``ioreq`` (ioreq servers), ``routing`` (which server gets an access),
``delivery`` (slots and the buffered ring), ``vcpu_io`` (a guest access end to
end), ``wp`` (the three write-protect designs), ``platform`` and
``platform_ops`` (interrupt lines, MSIs, dirty tracking and the other platform
DMOPs), ``dmop`` (the hypercall ABI boundary).
"""
