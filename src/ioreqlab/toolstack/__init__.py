"""The toolstack: xl.cfg text → libxl domain config → a domain on a Host.

Layer 3: it talks to the hypervisor only through the hypercall interfaces
(``Host.create_domain`` at the domctl level, HVM params through ``hvm_op``).
"""

from ioreqlab.toolstack.libxl import (
    ERROR_FAIL,
    ERROR_INVAL,
    GPU_WP_RANGES,
    SCHEMA,
    DomainConfig,
    LibxlError,
    build_config,
    domain_create,
    max_wp_ram_ranges_bound,
)
from ioreqlab.toolstack.libxl_idl import to_json as libxl_json
from ioreqlab.toolstack.xl_parse import XlBuilt, XlError, parse_config_data
from ioreqlab.toolstack.xlcfg import (
    PYTHON_HINT,
    Atom,
    ListValue,
    Setting,
    XlCfgError,
    XlConfig,
    format_xl_cfg,
    parse_xl_cfg,
)

__all__ = [
    "ERROR_FAIL",
    "ERROR_INVAL",
    "GPU_WP_RANGES",
    "PYTHON_HINT",
    "SCHEMA",
    "Atom",
    "DomainConfig",
    "LibxlError",
    "ListValue",
    "Setting",
    "XlBuilt",
    "XlCfgError",
    "XlConfig",
    "XlError",
    "build_config",
    "domain_create",
    "format_xl_cfg",
    "libxl_json",
    "max_wp_ram_ranges_bound",
    "parse_config_data",
    "parse_xl_cfg",
]
