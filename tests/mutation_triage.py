"""Verdicts on surviving mutants (issue 17): which test now pins each, or why it is equivalent.

``python -m tests.mutation --doc`` reads this table: a survivor listed here as
``pinned: ...`` is killed by a test added after its stage ran (checked by re-running
that mutant against today's tests); ``equivalent: ...`` changes no behaviour Xen (or
GVT-g) defines, for the reason given; ``message: ...`` changes only an error's text.
"""

from __future__ import annotations

_R = "ioreqlab.rangeset."
_BLOCKS = "tests/test_rangeset_blocks.py"

_NAME_ARG = "message: the argument only names the value in the error text (same errno, same state)"
_GUARD = (
    "equivalent: the fast path's guard only sends more valid input to _check_range, which "
    "returns for it, and the add goes on unchanged"
)
_ZIP = "equivalent: the start and end lists always have the same lengths, so zip never truncates"
_ORACLE = (
    "equivalent: check_invariants is the tests' oracle; a weaker assertion or another "
    "message changes no operation's result (the results are pinned against the linked list)"
)
_LAYOUT = (
    "equivalent: where a block splits is internal layout; every operation gives the same "
    "answer (tests/test_rangeset_blocks.py drives split blocks against the linked list)"
)
_TO_GENERAL = (
    "equivalent: the fast path declines a case it used to take, and the general path "
    "gives the same ranges and node count"
)
_SWAP_SIGN = (
    "equivalent: growths are multiples of the node cost (48 or 64 bytes), so > 0 and > 1, "
    "< 0 and < 1 agree, and a zero growth frees or allocates nothing"
)
_FIND = "equivalent: every caller of _find tests the block for < 0 and then ignores the index"

_P2T = "ioreqlab.p2t.xǁP2tTableǁ"
_P2M = "ioreqlab.p2m.xǁP2mTableǁ"
_TABLES = "tests/test_wp_tables.py"
_SELF_CHECK = (
    "equivalent: an assertion of the structure's own consistency (the tests' oracle); no "
    "operation's result changes"
)

#: p2m.py, p2t.py (stage p2m-p2t)
P2M_P2T: dict[str, str] = {
    _P2T + "__init____mutmut_35": f"pinned: {_TABLES}::"
    "test_p2t_one_bit_nodes_for_gfns_0_and_1_need_one_level",
    _P2T + "get__mutmut_15": f"pinned: {_TABLES}::"
    "test_p2t_untracked_gfns_read_0_wherever_the_walk_stops",
    _P2T + "clear__mutmut_14": f"pinned: {_TABLES}::"
    "test_p2t_untracked_gfns_read_0_wherever_the_walk_stops",
    _P2M + "change_type_global__mutmut_9": f"pinned: {_TABLES}::"
    "test_p2m_global_change_keeps_a_hole_frame_set_to_ram",
    _P2M + "tracked__mutmut_1": f"pinned: {_TABLES}::test_p2m_tracks_gfn_0",
    _P2T + "get__mutmut_22": "equivalent: a slot above the leaves holds a node or None, so "
    "the isinstance test only narrows the type",
    _P2T + "_unwind__mutmut_3": _SELF_CHECK,
    _P2T + "check_invariants__mutmut_13": _SELF_CHECK,
    **{
        _P2T + m: "pinned: dead code removed: clear built a trail it never read, _walk passed "
        "on a level it never read, and _prune kept a placeholder index for the deepest node"
        for m in (
            "clear__mutmut_9",
            "_prune__mutmut_13",
            "_prune__mutmut_14",
            "items__mutmut_9",
            "items__mutmut_10",
            "_walk__mutmut_9",
            "_walk__mutmut_13",
            "_walk__mutmut_14",
        )
    },
    _P2M + "__init____mutmut_4": "equivalent: the type-15 index's name is only printed",
}

_IO = "ioreqlab.hv.vcpu_io.xǁVcpuIoǁ"

#: hv/ioreq.py, hv/server.py, hv/routing.py, hv/delivery.py, hv/vcpu_io.py (stage hv-ioreq)
HV_IOREQ: dict[str, str] = {
    _IO + "_straddling_write__mutmut_52": "pinned: code simplified: each chunk is now the "
    "largest power of two left, computed in the loop (the first guess the mutant doubled "
    "was halved back by the loop; tests/test_wp_designs.py::"
    "test_a_write_straddling_into_a_protected_frame_is_decided_per_frame checks the chunks)",
    _IO + "_send_elements__mutmut_10": "pinned: tests/test_reentrancy.py::"
    "test_guest_destroyed_between_the_parts_of_a_straddling_write (the outcome names the "
    "route and server)",
    "ioreqlab.hv.ioreq.x_create_server__mutmut_39": "equivalent: the default server is "
    "always made with the buffered ring (4.7's hvm_create_ioreq_server(d, domid, 1, "
    "HVM_IOREQSRV_BUFIOREQ_LEGACY, ...) from the param read; Host._ensure_default)",
}

_DOM = "ioreqlab.hv.domain.xǁDomainǁ"
_POOL = "ioreqlab.hv.domain.xǁIoreqGmfnPoolǁ"
_PRM = "ioreqlab.hv.params.x_"
_DOMAIN_TESTS = "tests/test_hv_domain.py"

#: hv/params.py, hv/domain.py, hv/lookup.py (stage hv-params)
HV_PARAMS: dict[str, str] = {
    **{
        _DOM + f"{m}__mutmut_{n}": f"pinned: {_DOMAIN_TESTS}::{t}"
        for m, n, t in (
            ("__post_init__", 3, "test_a_pv_guest_can_be_populated_past_its_last_frame"),
            ("is_ram", 8, "test_the_vga_hole_is_0xa0_to_0xbf_inclusive"),
            *(
                ("read_ram", n, "test_ram_reads_and_writes_cross_a_frame_boundary")
                for n in (14, 15, 22, 23)
            ),
            *(
                ("write_ram", n, "test_ram_reads_and_writes_cross_a_frame_boundary")
                for n in (30, 33, 34, 35)
            ),
            *(
                ("write_block", n, "test_a_block_write_keeps_the_rest_of_its_frame")
                for n in (3, 4, 5, 6, 10, 12)
            ),
        )
    },
    "ioreqlab.hv.domain.x_layout_hvm__mutmut_19": f"pinned: {_DOMAIN_TESTS}::"
    "test_the_special_frames_are_libxcs",
    **{
        f"ioreqlab.hv.domain.x_check_new_domain__mutmut_{n}": f"pinned: {_DOMAIN_TESTS}::"
        "test_creation_bounds"
        for n in (1, 4, 18)
    },
    **{
        _POOL + f"give_back__mutmut_{n}": "pinned: tests/test_hv_params.py::"
        "test_destroy_after_the_pool_moved_completes (bit 63 kept, bit 64 dropped)"
        for n in (11, 12)
    },
    _POOL + "legacy_frames__mutmut_2": "equivalent: without the legacy pool (4.7) no "
    "non-default server holds a legacy param's frame (the pool lies below libxc's special "
    "pages), so the exemption it gives never applies",
    _POOL + "take__mutmut_3": "equivalent: for a positive mask, mask | -mask is "
    "-(mask & -mask), whose bit_length is the same",
    _PRM + "_check_417__mutmut_29": "equivalent: at the cap, the size is set to the cap it "
    "already is",
    _PRM + "_check_value__mutmut_65": "pinned: dead code removed: _check_417 never read the domain",
    _PRM + "set_param__mutmut_2": "equivalent: every caller passes a uint64_t: Host.set_param's "
    "prototype (hv/boundary.py) and HVMOP_set_param's struct refuse anything else first",
}

_GPU = "ioreqlab.dm.gvt_gpu.x"
_GPU_TESTS = "tests/test_gvt_gpu.py"

#: dm/gvt_gpu.py (stage gvt-shipped; dm/gvt_shipped.py changed since the run)
GVT_GPU: dict[str, str] = {
    **{
        _GPU + f"_vgpu_slots__mutmut_{n}": f"pinned: {_GPU_TESTS}::test_vgpu_slots_follow_vgpu_c"
        for n in (8, 16, 21, 22, 28, 29)
    },
    **{
        _GPU + f"_vgpu_slots__mutmut_{n}": "equivalent: with nothing left above the host's "
        "share, 1 // size is 0 as 0 // size is (every size is MiBs)"
        for n in (14, 23)
    },
    _GPU + "ǁPhysicalGpuǁ__init____mutmut_6": f"pinned: {_GPU_TESTS}::"
    "test_counts_below_zero_are_refused",
    **{
        _GPU + f"ǁPhysicalGpuǁ__init____mutmut_{n}": f"pinned: {_GPU_TESTS}::"
        "test_a_new_gpu_reports_nothing_used"
        for n in (22, 30)
    },
    **{
        _GPU + f"ǁPhysicalGpuǁ__init____mutmut_{n}": "pinned: dead code removed: the "
        "generation's name and record were kept and never read"
        for n in (14, 15)
    },
    **{
        _GPU + f"ǁPhysicalGpuǁ{m}": f"pinned: {_GPU_TESTS}::"
        "test_the_shadow_budget_reclaims_least_recently_used_first"
        for m in (
            "alloc_shadow__mutmut_2",
            "alloc_shadow__mutmut_6",
            "alloc_shadow__mutmut_7",
            "alloc_shadow__mutmut_13",
            "alloc_shadow__mutmut_16",
            "touch__mutmut_1",
            "forget__mutmut_1",
        )
    },
    **{
        _GPU
        + f"ǁPhysicalGpuǁ{m}": f"pinned: {_GPU_TESTS}::test_the_oos_pool_steals_the_oldest_page"
        for m in ("take_oos__mutmut_10", "take_oos__mutmut_14", "give_oos__mutmut_3")
    },
    _GPU + "ǁPhysicalGpuǁtake_oos__mutmut_9": "pinned: code simplified: the page synced is "
    "the oldest, taken with popitem(last=False) (no key to look up again)",
}

_SH = "ioreqlab.dm.gvt_shipped.xǁShippedMediatorǁ"
_BOOKS = "tests/test_gvt_shipped_books.py"
_FALSY = "equivalent: None is false as False is, and the flag is only ever tested for truth"
_NO_FRAME = (
    "equivalent: an empty string names no frame, as None does: _busy then walks the "
    "space and finds no table equal to it, so it answers not busy either way"
)

#: dm/gvt_shipped.py (stage gvt-shipped): what its re-test left, after
#: tests/test_gvt_shipped_books.py (the rest are killed by today's tests).
GVT_SHIPPED: dict[str, str] = {
    **{
        _SH + m: "pinned: dead code removed: " + why
        for m, why in {
            "_submit__mutmut_1": "the shipped policy's submission clock was never read",
            "_submit__mutmut_2": "the shipped policy's submission clock was never read",
            "_submit__mutmut_3": "the shipped policy's submission clock was never read",
            "_steal__mutmut_6": "_sync had already reset write_cnt",
            "_free__mutmut_2": "a leaked page's references never reach 0, so it is never freed",
            "_sync__mutmut_12": "only a page holding a pool page (a snapshot) is synced",
            "_sync__mutmut_13": "only a page holding a pool page (a snapshot) is synced",
            "_sync__mutmut_14": "only a page holding a pool page (a snapshot) is synced",
            "_sync__mutmut_15": "only a page holding a pool page (a snapshot) is synced",
            "check_invariants__mutmut_9": "a shadowed space's roots are asserted to be shadowed",
            "check_invariants__mutmut_10": "a shadowed space's roots are asserted to be shadowed",
            "check_invariants__mutmut_12": "a shadowed space's roots are asserted to be shadowed",
            "check_invariants__mutmut_13": "a shadowed space's roots are asserted to be shadowed",
        }.items()
    },
    "ioreqlab.dm.gvt_shipped.xǁShadowFailureǁ__init____mutmut_2": "pinned: dead code "
    "removed: the failure's errno was never read (both failures mean failsafe)",
    _SH + "_setup__mutmut_11": _NO_FRAME,
    _SH + "_trapped_write__mutmut_26": _NO_FRAME,
    _SH + "_unshadow__mutmut_3": _FALSY,
    _SH + "_sync__mutmut_4": _FALSY,
    _SH + "_busy__mutmut_19": "equivalent: _busy walks only during a trapped write, when "
    "every table a shadow links is shadowed (a new table is linked into its parent's "
    "shadow only after its own populate finished), so spt is never None there",
    _SH + "_busy__mutmut_23": "equivalent: seen only spares walking a shared table twice; "
    "the same tables are reached and the answer is the same",
    _SH + "_busy__mutmut_25": "equivalent: one level up reads a PD as a level-3 table, so "
    "its 2 MiB entries are followed too, to frames with no shadow (skipped); the written "
    "table is never a leaf, so the same tables are found",
    _SH + "_free__mutmut_1": "equivalent: a page is untracked only in failsafe, after which "
    "nothing is shadowed again, so a stale entry never hides a shadowed page",
    _SH + "_write_entry__mutmut_48": "equivalent: the post list is an ordered set: its "
    "values are never read",
    _SH + "_submit__mutmut_54": "equivalent: this path enters failsafe, so it runs once per "
    "vGPU, when no submission was lost before: = 1 and += 1 agree",
    _SH + "verify__mutmut_8": "equivalent: bad is still 0 at that line, so = 1 is += 1",
    "ioreqlab.dm.gvt_gpu.xǁPhysicalGpuǁtake_oos__mutmut_7": _FALSY.replace(
        "the flag is only ever tested for truth", "popitem reads last only for truth"
    ),
    **{
        _SH + m: f"pinned: {_BOOKS}::test_cpu_time_and_counters_add_up_to_what_the_guest_did"
        for m in (
            "_write_entry__mutmut_58",
            "_write_entry__mutmut_59",
            *(f"statistics__mutmut_{n}" for n in (1, 2, 4, 5, 6, 7, 8, 9, 10)),
        )
    },
    **{
        _SH + f"_flush_post__mutmut_{n}": f"pinned: {_BOOKS}::"
        "test_a_flush_that_reclaims_another_space_skips_its_freed_tables_and_goes_on"
        for n in (6, 8, 37)
    },
    _SH + "_free__mutmut_18": f"pinned: {_BOOKS}::"
    "test_a_table_whose_protection_cannot_be_removed_stays_stuck",
    **{
        _SH + f"_sync__mutmut_{n}": f"pinned: {_BOOKS}::"
        "test_cpu_time_and_counters_add_up_to_what_the_guest_did (bit-63 entries)"
        for n in (30, 34)
    },
}

_IC = "ioreqlab.hv.intercept.x_"
#: The dmop_ops handlers that name themselves to the pad check.
_PAD_OPS = ("create", "map", "unmap", "set_state", "destroy", "set_mem_type",
            "track_dirty_vram", "inject_msi", "relocate", "pin_cacheattr")  # fmt: skip
_IC_TESTS = "tests/test_hv_intercept_edges.py"
_PLAT_TESTS = "tests/test_hv_platform_edges.py"
_BOUNDARY = "tests/test_hv_boundary.py"

#: hv/dmop.py, hv/dmop_ops.py, hv/platform*.py, hv/intercept.py, hv/memory.py,
#: hv/memtype.py, hv/boundary.py (stage hv-dmop)
HV_DMOP: dict[str, str] = {
    **{
        _IC + f"_handlers__mutmut_{n}": f"pinned: {_IC_TESTS}::"
        "test_what_is_not_wholly_inside_a_handler_reaches_the_server"
        for n in (11, 15, 19, 23, 27, 31, 34, 39, 43)
    },
    _IC + "_handlers__mutmut_18": f"pinned: {_IC_TESTS}::test_the_slave_pic_starts_at_0xa0",
    **{
        _IC + f"_handle__mutmut_{n}": f"pinned: {_IC_TESTS}::test_what_a_xen_handler_answers"
        for n in (
            20,
            26,
            27,
            28,
            29,
            30,
            31,
            46,
            50,
            51,
            58,
            60,
            61,
            62,
            63,
            64,
            65,
            66,
            68,
            70,
            71,
            72,
        )
    },
    **{
        _IC + f"_handle__mutmut_{n}": f"pinned: {_IC_TESTS}::"
        "test_the_rtc_index_is_a_byte_written_to_0x70"
        for n in (32, 34, 39, 42, 43, 44, 45)
    },
    **{
        _IC + f"_print_char__mutmut_{n}": "equivalent: DEL (0x7f) is not printable and every "
        "character tested against the tab-and-newline set is one that is not printable, so "
        "the bound and the set's extra letters never decide"
        for n in (6, 7, 9)
    },
    **{
        f"ioreqlab.hv.memory.x_populate_physmap__mutmut_{n}": f"pinned: {_PLAT_TESTS}::"
        "test_populate_physmap_fills_whole_extents_up_to_the_last_gfn"
        for n in (11, 13, 14, 15, 16, 17, 18, 19, 20, 21)
    },
    **{
        f"ioreqlab.hv.memory.x_populate_physmap__mutmut_{n}": f"pinned: {_PLAT_TESTS}::"
        "test_populating_a_write_protected_frame_gives_fresh_ram"
        for n in (33, 35, 36, 37, 38, 39, 40, 41, 42, 43, 48)
    },
    **{
        f"ioreqlab.hv.platform_ops.x_{m}": f"pinned: {_PLAT_TESTS}::{t}"
        for m, t in (
            ("inject_msi__mutmut_24", "test_an_msi_records_every_field_of_its_address_and_data"),
            (
                "track_dirty_vram__mutmut_10",
                "test_the_dirty_vram_bitmap_is_copied_for_its_frames_only",
            ),
            (
                "modified_memory__mutmut_60",
                "test_modified_memory_progress_equal_to_the_extent_is_einval",
            ),
            *(
                (
                    f"relocate_memory__mutmut_{n}",
                    "test_a_relocation_moves_every_frame_in_batches_of_16",
                )
                for n in (9, 10, 28, 38, 51)
            ),
            (
                "pin_memory_cacheattr__mutmut_26",
                "test_pinned_ranges_overlap_at_one_frame_and_go_to_the_head",
            ),
        )
    },
    "ioreqlab.hv.dmop_ops.x__track_dirty_vram__mutmut_27": f"pinned: {_PLAT_TESTS}::"
    "test_the_dirty_vram_bitmap_is_copied_for_its_frames_only",
    **{
        f"ioreqlab.hv.platform.xǁPlatformǁnote_write__mutmut_{n}": f"pinned: {_PLAT_TESTS}::"
        "test_vram_writes_are_noted_inside_the_range_only"
        for n in (3, 4, 5)
    },
    **{
        f"ioreqlab.hv.platform.xǁPlatformǁstatistics__mutmut_{n}": f"pinned: {_PLAT_TESTS}::"
        "test_platform_statistics_report_every_field"
        for n in (2, 3, 4, 5, 6, 7)
    },
    **{
        f"ioreqlab.hv.dmop.x__write_back__mutmut_{n}": f"pinned: {_PLAT_TESTS}::"
        "test_the_copy_back_writes_what_the_release_writes"
        for n in (6, 7, 24)
    },
    "ioreqlab.hv.dmop.x__write_back__mutmut_12": "equivalent: every op's struct packs to "
    "exactly its DM_OP_SIZES entry (tests/test_abi.py), so ljust never pads",
    "ioreqlab.hv.dmop.x__write_back__mutmut_13": "equivalent: every op's struct packs to "
    "exactly its DM_OP_SIZES entry (tests/test_abi.py), so rjust pads no more than ljust",
    "ioreqlab.hv.dmop.x__write_back__mutmut_21": "equivalent: the header's pad defaults to 0",
    **{f"ioreqlab.hv.dmop_ops.x__{op}__mutmut_{n}": _NAME_ARG for op in _PAD_OPS for n in (5, 6)},
    **{
        f"ioreqlab.hv.boundary.x__check__mutmut_{n}": f"pinned: {_PLAT_TESTS}::"
        "test_the_boundary_takes_any_integer_as_a_bool_and_uint64_to_its_top"
        for n in (27, 28)
    },
    "ioreqlab.hv.boundary.x__check__mutmut_31": "equivalent: _check sees only a value the "
    "wrapper's inline range test refused, so a value equal to the top never reaches it",
    **{
        f"ioreqlab.hv.boundary.x__check__mutmut_{n}": "message: the array item's method and "
        "type name are only in the error text (no array of bools exists)"
        for n in (13, 21, 22)
    },
    **{
        f"ioreqlab.hv.platform_ops.x_{m}": "equivalent: the values after the first are read "
        "only while the first is non-zero (a continuation)"
        for m in (
            "modified_memory__mutmut_3",
            "modified_memory__mutmut_91",
            "relocate_memory__mutmut_54",
            "relocate_memory__mutmut_59",
            "relocate_memory__mutmut_60",
            "modified_memory__mutmut_88",
        )
    },
    "ioreqlab.hv.platform_ops.x_modified_memory__mutmut_4": "equivalent: for an integer n, "
    "floor(x) < n exactly when x < n",
    "ioreqlab.hv.platform_ops.x_modified_memory__mutmut_57": "equivalent: end == first only "
    "for an extent of 0 frames, which the progress check refuses with the same -EINVAL",
    "ioreqlab.hv.memtype.x_get_mem_type__mutmut_15": "equivalent: tracked_as is read only "
    "for type 15, which returned through the design just before",
    **{
        f"ioreqlab.hv.dmop.x_{m}": "equivalent: every XenError the model raises is a "
        "subclass carrying its errno, so the fallback after `or` is never used"
        for m in ("dispatch_dm_op__mutmut_21", "dispatch_hvm_op__mutmut_50")
    },
    **{
        f"ioreqlab.hv.dmop_ops.x__{op}__mutmut_2": "message: the op's name is only in the "
        "pad check's error text"
        for op in _PAD_OPS
    },
    "ioreqlab.hv.dmop_ops.xǁContinueǁ__init____mutmut_1": "message: a continuation's text "
    "is never shown (the op is re-issued)",
    **{
        f"ioreqlab.hv.memtype.x_set_mem_type__mutmut_{n}": f"pinned: {_PLAT_TESTS}::"
        "test_set_mem_type_past_the_last_mapped_frame_changes_nothing (checked by hand: "
        "memtype.py changed since the run)"
        for n in (3, 4)
    },
    **{
        f"ioreqlab.hv.memtype.x_set_mem_type__mutmut_{n}": "equivalent: max_mapped_pfn is "
        "below UINT64_MAX, so the bound past it already refuses what the 64-bit one would; "
        "and a gfn below 0 never gets past the boundary's xen_pfn_t check"
        for n in (5, 6, 12)
    },
    **{
        f"ioreqlab.hv.memtype.x_{m}": "pinned: dead code removed: WpDesign.allowed and "
        "check_claim_args never read the domain or the gfn"
        for m in ("set_mem_type__mutmut_33", "set_mem_type__mutmut_34", "map_mem_type__mutmut_4")
    },
    "ioreqlab.hv.dmop.x__get_mem_type__mutmut_23": f"pinned: {_PLAT_TESTS}::"
    "test_get_mem_type_copies_back_the_whole_struct",
    # The run at 75f6ea4 (each pinned one checked by applying it by hand).
    **{
        f"ioreqlab.hv.platform_ops.x_modified_memory__mutmut_{n}": f"pinned: {_PLAT_TESTS}::"
        "test_a_modified_memory_extent_with_any_pad_bit_set_is_einval"
        for n in (28, 34)
    },
    "ioreqlab.hv.platform_ops.x_modified_memory__mutmut_25": "equivalent: a fifth byte of "
    "nr is the pad's lowest, and a non-zero pad is -EINVAL before nr is used",
    "ioreqlab.hv.platform_ops.x_modified_memory__mutmut_32": "equivalent: a pad is non-zero "
    "in either byte order",
    **{
        f"ioreqlab.hv.platform_ops.x_relocate_memory__mutmut_{n}": "equivalent: with no "
        "frames left the op is done and copies nothing back (dm.c copies back only on "
        "-ERESTART), so the positions it returns are never read"
        for n in (52, 57, 58)
    },
    "ioreqlab.hv.memory.x_clean_dirty_bitmap__mutmut_3": f"pinned: {_PLAT_TESTS}::"
    "test_each_bitmap_clean_returns_what_was_written_since_and_re_arms_logging",
    "ioreqlab.hv.memory.x_clean_dirty_bitmap__mutmut_5": f"pinned: {_PLAT_TESTS}::"
    "test_each_bitmap_clean_returns_what_was_written_since_and_re_arms_logging",
    "ioreqlab.hv.memory.x_clean_dirty_bitmap__mutmut_6": f"pinned: {_PLAT_TESTS}::"
    "test_a_clean_re_arms_logging_after_a_disclaim_switched_it_off",
    **{
        f"ioreqlab.hv.boundary.x__wrap__mutmut_{n}": f"pinned: {_BOUNDARY}::{t}"
        for n, t in (
            (14, "test_any_other_value_is_einval_naming_the_argument"),
            (15, "test_any_other_value_is_einval_naming_the_argument"),
            (18, "test_values_c_could_pass_reach_the_method_bound_as_it_binds_them"),
            (19, "test_values_c_could_pass_reach_the_method_bound_as_it_binds_them"),
            (26, "test_keyword_only_arguments_stay_keyword_only"),
            (46, "test_any_other_value_is_einval_naming_the_argument"),
            (47, "test_any_other_value_is_einval_naming_the_argument"),
            (52, "test_values_c_could_pass_reach_the_method_bound_as_it_binds_them"),
            (86, "test_the_wrapper_keeps_the_methods_name_documentation_and_signature"),
        )
    },
    "ioreqlab.hv.boundary.x__wrap__mutmut_25": "equivalent: None is as false as False",
    "ioreqlab.hv.boundary.x__wrap__mutmut_42": "equivalent: every argument is positional-or-"
    "keyword or keyword-only (others are refused), so passing all by name binds the same",
    **{
        f"ioreqlab.hv.boundary.x__wrap__mutmut_{n}": "equivalent: the inline test only lets "
        "an in-range int through early; a value it does not let through goes to _check, which "
        "passes exactly the in-range ones (only slower)"
        for n in (50, 53, 54, 55)
    },
    **{
        f"ioreqlab.hv.boundary.x__wrap__mutmut_{n}": "equivalent: no prototyped argument has "
        "a default that is not an integer, so the branch never ran; removed since"
        for n in (59, 60)
    },
    "ioreqlab.hv.boundary.x_check_prototypes__mutmut_6": f"pinned: {_BOUNDARY}::"
    "test_a_class_without_a_prototyped_method_is_refused",
}

_HEAP_TESTS = "tests/test_hv_heap_edges.py"

#: hv/heap.py, hv/wp.py, hv/transitions.py, hv/census.py, hv/evtchn.py, hv/pages.py,
#: hv/ports.py, hv/stats.py (stage hv-heap; heap.py done, the rest still to triage)
HV_HEAP: dict[str, str] = {
    **{
        f"ioreqlab.hv.{m}": f"pinned: {_HEAP_TESTS} (the heap's figures, counted exactly)"
        for m in (
            "heap.xǁHeapAccountǁ__init____mutmut_2",
            "heap.xǁHeapAccountǁ__init____mutmut_6",
            "heap.xǁHeapAccountǁ__init____mutmut_8",
            "heap.xǁHeapAccountǁ__init____mutmut_10",
            "heap.xǁHeapAccountǁallocate__mutmut_1",
            "heap.xǁHeapAccountǁallocate__mutmut_2",
            "heap.xǁHeapAccountǁstatistics__mutmut_1",
            "heap.xǁHeapAccountǁstatistics__mutmut_3",
            "heap.xǁHeapAccountǁstatistics__mutmut_4",
            "heap.xǁHeapAccountǁstatistics__mutmut_5",
            "heap.xǁHeapAccountǁstatistics__mutmut_6",
            "heap.xǁXenHeapǁ__init____mutmut_1",
            "heap.xǁXenHeapǁ__init____mutmut_2",
            "heap.xǁXenHeapǁ__init____mutmut_9",
            "heap.xǁXenHeapǁ__init____mutmut_11",
            "heap.xǁXenHeapǁaccount__mutmut_6",
            "heap.xǁXenHeapǁreserve__mutmut_3",
            "heap.xǁXenHeapǁreserve__mutmut_4",
            "heap.xǁXenHeapǁreserve__mutmut_7",
            "heap.xǁXenHeapǁ_allocate__mutmut_4",
            "heap.xǁXenHeapǁ_allocate__mutmut_7",
            "heap.xǁXenHeapǁ_allocate__mutmut_8",
            "heap.xǁXenHeapǁ_allocate__mutmut_9",
            "heap.xǁXenHeapǁ_allocate__mutmut_10",
            "heap.xǁXenHeapǁ_allocate__mutmut_19",
            "heap.xǁXenHeapǁ_allocate__mutmut_25",
            "heap.xǁXenHeapǁ_allocate__mutmut_26",
            "heap.xǁXenHeapǁ_allocate__mutmut_27",
            "heap.xǁXenHeapǁ_allocate__mutmut_28",
            "heap.xǁXenHeapǁ_allocate__mutmut_29",
            "heap.xǁXenHeapǁ_allocate__mutmut_30",
            "heap.xǁXenHeapǁ_allocate__mutmut_36",
            "heap.xǁXenHeapǁ_allocate__mutmut_37",
            "heap.xǁXenHeapǁ_allocate__mutmut_38",
            "heap.xǁXenHeapǁ_allocate__mutmut_39",
            "heap.xǁXenHeapǁ_allocate__mutmut_46",
            "heap.xǁXenHeapǁ_allocate__mutmut_47",
            "heap.xǁXenHeapǁ_allocate__mutmut_48",
            "heap.xǁXenHeapǁ_allocate__mutmut_49",
            "heap.xǁXenHeapǁstatistics__mutmut_1",
            "heap.xǁXenHeapǁstatistics__mutmut_3",
            "heap.xǁXenHeapǁstatistics__mutmut_4",
            "heap.xǁXenHeapǁstatistics__mutmut_5",
        )
    },
    **{
        f"ioreqlab.hv.heap.xǁXenHeapǁ_release_reservation__mutmut_{n}": "pinned: dead code "
        "removed: drop_account cleared the reservation of an account it then deleted"
        for n in (1, 2, 3, 4)
    },
}

_CODEC = "equivalent: Python's codec names are case-insensitive: UTF-8 is utf-8"

#: Survivors the stricter message-only test no longer hides (a string that is
#: a codec, an error handler or a name, not an error's text).
NAMES: dict[str, str] = {
    _R + "xǁRangeSetBaseǁ__init____mutmut_14": _CODEC,
    _R + "xǁRangeSetBaseǁ__init____mutmut_24": _CODEC,
    _R + "xǁRangeSetBaseǁ__str____mutmut_6": _CODEC,
    **{
        _R + m: f"pinned: {_BLOCKS}::test_names_keep_any_string_and_print_cut_characters"
        for m in (
            "xǁRangeSetBaseǁ__init____mutmut_15",
            "xǁRangeSetBaseǁ__init____mutmut_16",
            "xǁRangeSetBaseǁ__init____mutmut_25",
            "xǁRangeSetBaseǁ__init____mutmut_26",
            "xǁRangeSetBaseǁ__str____mutmut_7",
            "xǁRangeSetBaseǁ__str____mutmut_8",
        )
    },
    **{
        f"ioreqlab.p2m.xǁP2mTableǁ__init____mutmut_{n}": "equivalent: the type-15 index's "
        "name is never shown (a P2mTable prints no rangeset)"
        for n in (5, 6)
    },
}

_WP = "ioreqlab.hv.wp.x"

#: The second hv-heap run (HV_TESTS with the pins of issue 17): what it left.
HV_HEAP_2: dict[str, str] = {
    **{f"ioreqlab.hv.pages.xǁBoundedPagesǁnew_page__mutmut_{n}": _NAME_ARG for n in (2, 5, 6)},
    **{
        _WP + f"ǁP2tDesignǁentries__mutmut_{n}": "equivalent: every caller tests entries() "
        "for truth (and prints it only when non-zero), and None is false as 0 is"
        for n in (2, 4)
    },
    _WP + "ǁP2tDesignǁsweep_chunk__mutmut_1": "equivalent: the base sweep_chunk it hands "
    "each page over to refuses an owned type itself, so nothing is reset either way",
    _WP + "ǁP2tDesignǁsweep_chunk__mutmut_21": "equivalent: tracked()'s default upper bound "
    "is the same 2**64 - 1",
    _WP + "ǁP2tDesignǁsweep_chunk__mutmut_26": "equivalent: no tracked frame can be 2**64 - 1 "
    "(set_mem_type bounds every frame below the guest's top)",
    _WP + "_make_design__mutmut_1": "equivalent: every caller names K (Host passes its "
    "p2t_types, 4 by default)",
}

_OUT = "tests/test_hv_outcomes.py"
_IOQ = "ioreqlab.hv.ioreq.x_"
_DLV = "ioreqlab.hv.delivery.x_"
_SAME_PATH = (
    "equivalent: the one-slice path and the element loop write the same bytes with the "
    "same per-frame effects whenever the rep stays in one frame, so sending a rep down "
    "the loop instead changes nothing"
)
_MASKED_READ = "equivalent: complete() masks a read to its size, and every size is at most 8"

#: hv-ioreq's run at 2321106 (HV_TESTS): pins verified against its mutants, and
#: the equivalents; tests/mutation_retest.py finds what the rest of today's tests kill.
HV_IOREQ_2: dict[str, str] = {
    **{
        _DLV + f"send_buffered__mutmut_{n}": f"pinned: {_OUT}::"
        "test_only_single_vga_writes_of_a_power_of_two_go_to_the_ring"
        for n in (5, 6, 7, 15, 17)
    },
    _DLV + "send_buffered__mutmut_36": f"pinned: {_OUT}::"
    "test_an_8_byte_write_needs_two_free_slots_in_the_ring",
    **{
        _IOQ + f"create_server__mutmut_{n}": f"pinned: {_OUT}::"
        "test_the_47_default_servers_buffered_ring_is_the_page_at_bufioreq_pfn"
        for n in (37, 38)
    },
    _IOQ + "create_server__mutmut_135": f"pinned: {_OUT}::"
    "test_417_servers_are_searched_from_the_highest_id_down",
    _IOQ + "destroy_server__mutmut_7": f"pinned: {_OUT}::"
    "test_destroying_a_disabled_47_server_leaves_its_frames_as_ram",
    _IO + "_ram__mutmut_36": f"pinned: {_OUT}::"
    "test_a_rep_stos_into_a_log_dirty_frame_dirties_each_frame_it_writes",
    _IO + "_ram__mutmut_1": "pinned: code changed: discard is a required keyword",
    _IOQ + "create_server__mutmut_2": "pinned: code changed: wp_mem is a required keyword",
    **{_IO + f"_ram__mutmut_{n}": _SAME_PATH for n in (27, 32, 33, 37)},
    _IO + "_ram__mutmut_55": "equivalent: the first size bytes of a 9-byte little-endian "
    "value are those of the 8-byte one",
    _IO + "access__mutmut_48": "equivalent: a write that ends at its frame's end has an "
    "empty second part, so the split sends the same single request",
    _DLV + "check_slot__mutmut_15": _MASKED_READ,
    _DLV + "check_slot__mutmut_21": _MASKED_READ,
    **{
        _IO + f"_straddling_write__mutmut_{n}": "equivalent: the first part's value is "
        "masked again where it is used (write_ram keeps size bytes; each chunk keeps its own)"
        for n in (9, 10, 12, 13)
    },
    **{
        _IO + f"_straddling_write__mutmut_{n}": "equivalent: there are always two parts and "
        "two types, so zip's strictness never matters"
        for n in (33, 36, 37)
    },
    _IO + "_straddling_write__mutmut_72": "equivalent: IoReq's dir defaults to 0, IOREQ_WRITE",
    **{
        f"ioreqlab.hv.ioreq.xǁ_Chargesǁrollback__mutmut_{n}": "equivalent: after a "
        "rollback the creation raises, and the total is never read again"
        for n in (2, 3)
    },
    _IOQ + "destroy_server__mutmut_3": "equivalent: None is false, as False is",
    _IOQ + "destroy_server__mutmut_10": "equivalent: the default server is destroyed only "
    "with its domain (no DMOP names it), after which nothing reads the domain",
    **{
        _IOQ + f"destroy_server__mutmut_{n}": "equivalent: a destroyed server is reachable "
        "by no lookup, so its frames flag is never read again"
        for n in (16, 17)
    },
    _IOQ + "create_server__mutmut_115": "equivalent: set_state reads the domain only for a "
    "gfn-mapped server, which the default server is not",
    _IOQ + "set_state__mutmut_9": "equivalent: an enabled gfn-mapped server's frames are "
    "always in RAM (_bind_gfn_pages put them there)",
    _IOQ + "set_state__mutmut_11": "equivalent: an override of None reads back as the "
    "frame's default, RAM (P2mTable.get)",
    _IOQ + "create_server__mutmut_69": "equivalent: the frame is given back either way; only "
    "the ioreq_gfn_outside_pool counter differs",
    "ioreqlab.hv.server.xǁIoreqServerǁguest_ports__mutmut_3": "equivalent: port 0 is never "
    "allocated or bound, so freeing and unbinding it does nothing",
    **{_IOQ + f"map_gfns__mutmut_{n}": _NAME_ARG for n in (12, 15, 16, 19, 22, 23)},
    _IOQ + "_take_frames__mutmut_7": "equivalent: frames are taken at creation only before "
    "4.11, and the pool reads the params only for 4.12's legacy frames",
    **{
        _IO + f"{m}__mutmut_{n}": f"pinned: {_OUT}"
        for m, ns in {
            "complete": (17, 24, 28, 30),
            "completed": (19, 26, 28),
            "resume": (10, 14),
            "_protected_write": (14, 24),
            "_ram": (16, 29, 30, 35, 63, 64, 65, 75, 80),
            "access": (47, 76),
            "check_access": (6,),
            "_straddling_write": (73,),
        }.items()
        for n in ns
    },
    _DLV + "check_slot__mutmut_11": f"pinned: {_OUT}",
    **{
        _IO + f"{m}__mutmut_{n}": f"pinned: {_OUT}"
        for m, ns in {
            "crash": (3, 4),
            "notify": (10, 12, 13),
            "_deliver": (12,),
            "broadcast_timeoffset": (25, 40),
            "drop_server": (1,),
            "rebind_default": (5,),
        }.items()
        for n in ns
    },
    _IO + "rebind_default__mutmut_8": "pinned: tests/test_hv_evtchn.py::"
    "test_dm_domain_replaces_the_default_servers_ports_47",
    _IO + "broadcast_timeoffset__mutmut_11": "equivalent: IoReq's dir defaults to 0, IOREQ_WRITE",
    **{
        _IO + f"{m}__mutmut_{n}": f"pinned: {_OUT}"
        for m, ns in {
            "complete": (18, 19, 20, 21, 22, 25, 27),
            "completed": (20, 22, 23),
            "resume": (11, 13),
            "_ram": (17, 18, 19, 28, 34, 58, 59, 61, 78),
            "access": (79,),
            "_protected_write": (16, 22),
            "_deliver": (85, 89),
        }.items()
        for n in ns
    },
    **{_DLV + f"check_slot__mutmut_{n}": f"pinned: {_OUT}" for n in (39, 44)},
    _DLV + "check_slot__mutmut_36": _MASKED_READ,
    _DLV + "check_slot__mutmut_45": "equivalent: complete() compares the status only with "
    "CRASH, PENDING and EMULATOR_GONE, so None ends the access as DONE does",
    _IO + "completed__mutmut_33": "equivalent: the key is always there: complete() has just "
    "stored the DONE access it pops",
    **{
        _IOQ + m: f"pinned: {_OUT}"
        for m in (
            "_make_rangesets__mutmut_17",
            "_make_rangesets__mutmut_22",
            "_make_rangesets__mutmut_25",
            "create_server__mutmut_43",
            "map_gfns__mutmut_24",
            "map_gfns__mutmut_25",
            "map_gfns__mutmut_26",
            "map_gfns__mutmut_27",
            "_unmap_gfns__mutmut_11",
            "acquire_frames__mutmut_10",
        )
    },
    _IOQ + "acquire_frames__mutmut_12": "pinned: dead code removed: get_frame never read "
    "the domain (ioreq_server_get_frame takes the server and the index only)",
    _IOQ + "map_gfns__mutmut_6": "equivalent: past the check, only missing frames are "
    "taken and binding the pages again changes nothing",
    **{
        _IOQ + f"create_server__mutmut_{n}": "equivalent: the struct with range[3] and with "
        "range[4] cost the same TLSF block in both profiles (176 and 160 bytes)"
        for n in (14, 15, 17)
    },
    "ioreqlab.hv.routing.x_cf8_decode__mutmut_4": "equivalent: bit 0 is shifted out by the "
    ">> 8 either way",
    **{
        f"ioreqlab.hv.routing.x_{f}__mutmut_1": "equivalent: every caller names mmio_df "
        "(the profile's)"
        for f in ("span", "select_server")
    },
    **{
        _IO + f"check__mutmut_{n}": "equivalent: check() is the tests' oracle; a weaker "
        "check changes no access"
        for n in (1, 5)
    },
    **{
        _DLV + f"send_buffered__mutmut_{n}": "equivalent: only VGA-window writes (below "
        "0xC0000) and TIMEOFFSET (address 0) are offered to the ring, so the 0xFFFFF bound "
        "never binds"
        for n in (8, 9)
    },
    **{
        _DLV + f"send_buffered__mutmut_{n}": "equivalent: unpack_from's offset defaults to 0"
        for n in (23, 95)
    },
    **{
        _IO + f"_rep_movs__mutmut_{n}": f"pinned: {_OUT}"
        for n in (79, 80, 86, 88, 92, 112, 113, 128, 130)
    },
    **{
        _IO + f"_rep_movs__mutmut_{n}": "equivalent: the condition guards only the "
        "rep_movs_wp_bypass counter"
        for n in (102, 103)
    },
    **{_IO + f"_rep_movs__mutmut_{n}": f"pinned: {_OUT}" for n in (10, 18, 20, 36, 38)},
    _IO + "_rep_movs__mutmut_37": "equivalent: IoReq's dir defaults to 0, IOREQ_WRITE",
    **{f"ioreqlab.hv.routing.x_span__mutmut_{n}": f"pinned: {_OUT}" for n in (18, 19)},
}

#: toolstack/xlu_grammar.py (stage toolstack-xlu): its functions' only output is the
#: automaton ``tables()`` returns, which tests/test_xlu_tables.py compares state by
#: state with the one bison made for Xen (libxlu_cfg_y.c).  A mutant there that
#: survives that test builds bison's automaton all the same.
XLU_GRAMMAR: dict[str, str] = {
    f"ioreqlab.toolstack.xlu_grammar.x_{fn}__mutmut_{n}": "equivalent: the automaton it "
    "builds is still bison's for libxlu's grammar (tests/test_xlu_tables.py), and the "
    "automaton is all the parser reads"
    for fn in ("_first_sets", "_closure", "_lalr_states", "_row", "tables")
    for n in range(1, 300)
}

_XD = "ioreqlab.toolstack.xlu_disk.x_"
_XP = "ioreqlab.toolstack.xlu_parse.xǁ_Ctxǁdequote__mutmut_"
_EDGES = "tests/test_xl_generated.py::test_the_model_answers_as_the_real_xl_did[edges]"
_REAL_XL = "tests/test_xl_generated.py::test_the_model_answers_as_the_real_xl_did"
_ESC = "tests/test_xlu_real.py::test_backslash_escapes_agree"
_AFTER_ERR = (
    "equivalent: the error is recorded first, and once it is no value is stored (every "
    "action checks ctx->err), so a partial string and None end the same"
)
_X_ALWAYS = (
    "equivalent: libxlu's \\x escape is refused whatever follows (at most 2 digits are "
    "read and the test is 'used <= 2'), so where the digits are read from changes nothing"
)
_ABSENT = (
    "equivalent: an absent field (None) is the field at its init value, 0, and every "
    "reader treats them alike (libxl's JSON prints neither; the cdrom test is 'if')"
)

_CN = "ioreqlab.toolstack.cnum.x_"
_LIBC = "tests/test_cnum_libc.py"
_BIG = (
    "equivalent: the callers' bases are 8 to 16, where 64 or 65 significant digits are far "
    "past 2**64 either way, so the int() route clamps to the same value and end"
)

#: toolstack/cnum.py (stage toolstack-xlu, the run at 38496e6).
CNUM: dict[str, str] = {
    _CN + "strtol__mutmut_10": "equivalent: None is as false as False",
    _CN + "strtol__mutmut_15": f"pinned: {_LIBC}::test_strtol_is_glibcs (an X piece since)",
    _CN + "strtoul_prefix__mutmut_12": f"pinned: {_LIBC}::test_strtoul_is_glibcs (an X piece "
    "since)",
    **{_CN + f"strtol__mutmut_{n}": _BIG for n in (81, 82)},
    **{_CN + f"strtoul__mutmut_{n}": _BIG for n in (35, 36)},
    **{
        _CN + m: "equivalent: the digits of bases up to 16 hold no X, so X in the strip set "
        "strips nothing more"
        for m in ("strtol__mutmut_80", "strtoul__mutmut_33")
    },
    _CN + "strtoul__mutmut_18": "equivalent: after the signs strtoul_prefix took, the text "
    "goes on with a digit or 0x, never an X",
    _CN + "strtoul__mutmut_11": "equivalent: the prefix skipped only C's white space before "
    "the number and it ends in a digit, so a wider strip set strips the same",
}

_XPP = "ioreqlab.toolstack.xlu_parse.xǁ"
_HAND = "tests/test_xlu_real.py::test_debian_examples_the_corpus_and_hand_made_cases_agree"
_FIRST_LINE = (
    "equivalent: the first token that is not $end sets the line before anything reads it, "
    "and a file whose first token is $end has no error and stores nothing"
)
_REDUCE_TAG = "equivalent: every action that is not a shift ('s') reduces, whatever its tag"
_EMPTY_SLICE = "equivalent: for k = 0 the slice from len - 0 is empty, as [] is"
_AFTER_SYNTAX = (
    "equivalent: recovery follows a reported syntax error, which sets the error, after "
    "which no value is stored and no line read but the lookahead's"
)
_TEXT_SET = "equivalent: every match sets the text before any report reads it"
_END_LINE = "equivalent: $end's line is never read (the parser takes lines from other tokens)"

#: toolstack/xlu_disk.py, toolstack/xlu_parse.py's dequote (stage toolstack-xlu, the
#: run at 756d896; each pinned one checked by applying it by hand).
XLU_DISK: dict[str, str] = {
    **{
        _XD + f"_saver__mutmut_{n}": f"pinned: {_REAL_XL} (the rules are made per spec since)"
        for n in range(1, 8)
    },
    _XD + "_flag__mutmut_1": f"pinned: {_REAL_XL} (the rules are made per spec since)",
    **{
        _XD + f"_positional__mutmut_{n}": "equivalent: the branch runs only while the field is "
        "None, so savestring never finds an old value and never names the field"
        for n in (8, 14, 15, 57, 63, 64)
    },
    **{_XD + f"_positional__mutmut_{n}": f"pinned: {_EDGES}" for n in (39, 40, 41, 42, 43)},
    **{
        _XD + f"_vdev_and_devtype__mutmut_{n}": f"pinned: {_EDGES}"
        for n in (8, 9, 11, 12, 18, 19, 33, 34)
    },
    _XD + "_vdev_and_devtype__mutmut_32": _ABSENT,
    _XD + "_setaccess__mutmut_6": _ABSENT,
    _XD + "disk_parse__mutmut_38": _ABSENT,
    **{_XD + f"_setaccess__mutmut_{n}": f"pinned: {_EDGES}" for n in (17, 18)},
    **{
        _XD + f"_depr_format__mutmut_{n}": "equivalent: a deprecated format prefix always "
        "sets the format or is 'format respecified' (after which positional parameters are "
        "ignored), so the test of the flag is never reached while the format is unknown"
        for n in (1, 2)
    },
    **{
        _XD + f"_bad_syntax__mutmut_{n}": "equivalent: _scan returns right after bad "
        "syntax, so the stop flag is never read"
        for n in (7, 8)
    },
    _XD + "_scan__mutmut_15": "equivalent: no rule's head can match nothing, so a match "
    "always ends past the position",
    **{
        _XD + f"_scan__mutmut_{n}": "equivalent: find from pos + 1 returns -1 or a position "
        "above pos >= 0, so < 0, <= 0 and < 1 agree"
        for n in (39, 40)
    },
    **{
        _XD + f"_scan__mutmut_{n}": f"pinned: {_EDGES}"
        for n in (29, 31, 32, 33, 34, 35, 38, 45, 46)
    },
    **{_XD + f"disk_parse__mutmut_{n}": f"pinned: {_EDGES}" for n in (9, 10, 11, 12)},
    _XP + "7": "message: the NUL byte's refusal is the model's own (libxlu aborts there: "
    "docs/deviations.md); only its wording changes",
    **{_XP + str(n): f"pinned: {_ESC}" for n in (18, 19, 62, 64, 78, 79, 81, 88, 89, 90)},
    **{_XP + str(n): _X_ALWAYS for n in (53, 54, 55, 61, 63, 65)},
    **{
        _XP + str(n): "equivalent: after the \\x refusal's break, unreachable (as in libxlu)"
        for n in (76, 77)
    },
    **{_XP + str(n): _AFTER_ERR for n in (75, 101, 111)},
    **{
        f"ioreqlab.toolstack.xlu_parse.x__action__mutmut_{n}": _AFTER_ERR
        for n in (25, 43, 55, 66, 67)
    },
    **{
        f"ioreqlab.toolstack.xlu_parse.x__action__mutmut_{n}": "equivalent: a value's line "
        "is kept as libxlu keeps its location, but 4.17 prints only a setting's line, and "
        "nothing reads a value's"
        for n in (29, 46, 59, 63)
    },
    **{
        f"ioreqlab.toolstack.xlu_parse.xǁ_Ctxǁyyerror__mutmut_{n}": "equivalent: the text "
        "before the first NUL is the same whether the rest is split once, twice or at every "
        "NUL, and 'UTF-8' names the same codec"
        for n in (29, 32, 35)
    },
    **{
        f"ioreqlab.toolstack.xlu_parse.xǁ_Ctxǁyyerror__mutmut_{n}": "pinned: tests/"
        "test_xlu_real.py::test_debian_examples_the_corpus_and_hand_made_cases_agree "
        "(bytes that are not UTF-8 near an error)"
        for n in (25, 36, 37)
    },
    **{
        _XPP + f"_Parserǁ{m}": v
        for m, v in (
            (
                "__init____mutmut_6",
                "equivalent: the bottom entry's line is never read (no "
                "reduction pops state 0, and an empty rule's line is the constant 1)",
            ),
            ("__init____mutmut_9", _FIRST_LINE),
            ("__init____mutmut_10", _FIRST_LINE),
            ("__init____mutmut_11", "equivalent: None is as false as 0 and is not 3"),
            (
                "run__mutmut_18",
                "equivalent: growing by 3 instead of 2 still stops at YYMAXDEPTH, "
                "10,000, where 'memory exhausted' is reported; the sizes between are not seen",
            ),
            ("run__mutmut_33", _REDUCE_TAG),
            ("run__mutmut_34", _REDUCE_TAG),
            ("_reduce__mutmut_5", _EMPTY_SLICE),
            ("_reduce__mutmut_9", _EMPTY_SLICE),
            (
                "_reduce__mutmut_16",
                "equivalent: the lookahead's line only becomes an empty "
                "list's line, which nothing reads",
            ),
            (
                "_reduce__mutmut_36",
                "equivalent: an empty rule's line is never a stored setting's "
                "(that is its value's: an atom's or a '['s token line)",
            ),
            (
                "_recover__mutmut_38",
                "equivalent: state 0 does not shift error in libxlu's "
                "automaton (tests/test_xlu_tables.py: bison's), so stopping a state above it "
                "aborts exactly when popping to it would",
            ),
            *((f"_recover__mutmut_{n}", _AFTER_SYNTAX) for n in (42, 43, 44, 45, 47)),
        )
    },
    **{
        _XPP + f"_Scannerǁ{m}": v
        for m, v in (
            ("__init____mutmut_6", _TEXT_SET),
            ("__init____mutmut_7", _TEXT_SET),
            *((f"_initial__mutmut_{n}", _END_LINE) for n in (5, 8, 9)),
            *((f"_lexerr__mutmut_{n}", _END_LINE) for n in (12, 15, 16)),
            ("_initial__mutmut_82", "equivalent: the test after it is end >= 0, and -2 < 0"),
            *(
                (
                    f"_initial__mutmut_{n}",
                    "equivalent: _string_end returns -1 or an index at "
                    "least 2 past a start >= 0, so > 0, >= 0 and > 1 agree",
                )
                for n in (99, 100)
            ),
            *(
                (f"_string_end__mutmut_{n}", f"pinned: {_HAND} (a backslash ending an open string)")
                for n in (14, 16)
            ),
            (
                "_string_end__mutmut_15",
                "equivalent: with the escaped byte the last one, the "
                "loop ends past the data and the string is unterminated (-1) all the same",
            ),
            *(
                (f"_string_end__mutmut_{n}", "equivalent: the caller tests q > 0 only")
                for n in (22, 37)
            ),
            ("_got__mutmut_1", "equivalent: every kind whose value is read is given its text"),
            ("_got__mutmut_2", "equivalent: no action reads a punctuation token's value"),
            ("_got__mutmut_5", _AFTER_ERR),
        )
    },
    **{
        f"ioreqlab.toolstack.xlu_parse.x__syntax_error__mutmut_{n}": "equivalent: no state "
        "of libxlu's automaton expects more than 4 tokens (tests/test_xlu_tables.py pins it "
        "to bison's), so the bound never bites"
        for n in (6, 8)
    },
    "ioreqlab.toolstack.xlu_parse.x__store__mutmut_4": "equivalent: 'ASCII' names the same codec",
    "ioreqlab.toolstack.xlu_parse.x__store__mutmut_27": "pinned: tests/test_xlcfg.py::"
    "test_a_name_assigned_again_stands_where_its_newest_assignment_is",
    "ioreqlab.toolstack.xlu_parse.x__strtoul_used__mutmut_7": "equivalent: 'LATIN-1' names "
    "the same codec",
    "ioreqlab.toolstack.xlu_parse.xǁ_Ctxǁyyerror__mutmut_30": f"pinned: {_HAND} (NULs in "
    "a bad word)",
}

#: hv/ioreq.py, hv/server.py, hv/routing.py, hv/delivery.py, hv/vcpu_io.py (stage
#: hv-ioreq, the run at b29a00d).
HV_IOREQ_3: dict[str, str] = {
    **{
        _IO + f"access__mutmut_{n}": "equivalent: the read half is a read, which _ram answers "
        "before it looks at discard"
        for n in (63, 67)
    },
    _IO + "_ram__mutmut_26": "equivalent: an offset of 4095 or more only declines the "
    "one-slice path, and element by element writes the same bytes with the same effects",
    _IO + "_ram__mutmut_31": "equivalent: one element written as a one-slice rep is the same "
    "bytes with the same per-frame effects (since, one element is written before that test)",
    _IO + "_ram__mutmut_54": "equivalent: the first size bytes (at most 8) of a 9-byte "
    "little-endian value below 2**64 are those of the 8-byte one",
    _IO + "_write_ram__mutmut_14": "pinned: tests/test_hv_platform_edges.py::"
    "test_a_write_ending_at_or_before_its_frames_end_dirties_that_frame_only",
    _IOQ + "_next_ioservid__mutmut_5": "equivalent: ids wrap at 65,536, so one more turn "
    "looks at the first id again, which was taken",
    **{
        _IOQ + f"create_server__mutmut_{n}": "equivalent: the struct with range[3] and with "
        "range[4] cost the same TLSF block in both profiles (176 and 160 bytes)"
        for n in (13, 16)
    },
    _IOQ + "create_server__mutmut_68": "equivalent: the test guards only the "
    "ioreq_gfn_outside_pool counter; the frame is given back either way",
    _IOQ + "create_server__mutmut_114": "equivalent: the default server's pages are the "
    "params' frames, not gfn-mapped ones, so set_state never reads the domain for it",
}

_BC = "ioreqlab.toolstack.libxl.x_build_config__mutmut_"
_LX = "tests/test_libxl.py::"

_DC = "ioreqlab.toolstack.libxl.x_domain_create__mutmut_"

_XV = "ioreqlab.toolstack.xlcfg.x__value__mutmut_"

_ID = "ioreqlab.toolstack.libxl_idl.x__is_default__mutmut_"

_GL = "ioreqlab.toolstack.xlcfg.xǁXlConfigǁget_long__mutmut_"

_MAC = "ioreqlab.toolstack.xl_parse.x__mac__mutmut_"
_PAST = f"pinned: {_LX}test_a_mac_that_would_make_xl_read_past_its_copy_is_refused"

_TJ = "ioreqlab.toolstack.libxl.xǁDomainConfigǁto_json__mutmut_"

_PN = "ioreqlab.toolstack.xl_parse.x__parse_nic__mutmut_"

_PH = "ioreqlab.toolstack.xl_parse.xǁ_Parseǁhvm__mutmut_"

_PX = "ioreqlab.toolstack.xlcfg.x_parse_xl_cfg__mutmut_"

#: toolstack/libxl.py etc. (stage toolstack-libxl, the run at 2ca36dc).
LIBXL: dict[str, str] = {
    **{
        f"ioreqlab.toolstack.libxl.x__reason__mutmut_{n}": "pinned: code changed: the reason "
        "is the error's own message (OSError's filename); no text is split any more"
        for n in (4, 8, 9, 11, 13)
    },
    **{
        f"ioreqlab.toolstack.xl_parse.xǁ_Parseǁtimer_mode__mutmut_{n}": f"pinned: {_REAL_XL}"
        '[whole] (timer_mode = "-1")'
        for n in (40, 42, 43, 46)
    },
    "ioreqlab.toolstack.xl_parse.xǁ_Parseǁtimer_mode__mutmut_16": "equivalent: the text is "
    "read only when the number is None, and reading an atom's text prints nothing",
    **{
        f"ioreqlab.toolstack.xl_parse.xǁ_Parseǁdisplay__mutmut_{n}": f"pinned: {_REAL_XL}"
        "[whole] (a PV guest's vfb keymap)"
        for n in (122, 123, 124, 128, 129, 130, 131)
    },
    **{
        _PX + str(n): "pinned: tests/test_xlcfg.py::test_a_text_with_no_source_is_named_"
        "config_in_reports"
        for n in (1, 2)
    },
    **{_PX + str(n): f"pinned: {_HAND} (text that is not UTF-8)" for n in (7, 10, 11)},
    _PX + "9": "equivalent: 'UTF-8' names the same codec",
    _PX + "24": "equivalent: libxlu reports every failure it has, so the fallback line is "
    "never added (as its pragma says)",
    **{
        _PH + str(n): "equivalent: the last part after a '/' is the same however many are split off"
        for n in (11, 14)
    },
    **{
        _PH + str(n): f"pinned: {_LX}test_a_viridian_enlightenment_list_is_refused_as_not_modelled"
        for n in (59, 63, 64)
    },
    **{_PH + str(n): f'pinned: {_REAL_XL}[whole] (viridian = "x")' for n in (76, 80, 85)},
    **{
        f"ioreqlab.toolstack.xl_parse.xǁ_Parseǁhvm_devices__mutmut_{n}": "equivalent: the "
        "HVM path has put vnc into u by then, so the default is never taken"
        for n in (79, 81)
    },
    **{
        _PN + str(n): f"pinned: {_REAL_XL}[whole] (vif edges)" for n in (26, 27, 29, 30, 35, 40, 42)
    },
    **{_PN + str(n): _PAST for n in (28, 31)},
    **{
        _PN + str(n): "equivalent: leading commas are skipped first, so a comma found is "
        "past pos >= 0: end is -1 or at least 1, and < 0, <= 0 and < 1 agree"
        for n in (23, 24)
    },
    **{
        _TJ + str(n): f"pinned: {_LX}test_the_resolved_tree_fills_what_the_model_resolves_and_"
        "leaves_xls_alone"
        for n in (3, 6, 8, 12, 14, 41, 52, 55, 57, 74, 75)
    },
    _TJ + "84": "equivalent: the model's vgt is true only when xl's tree already holds vgt "
    "true (xl set it from the same key)",
    **{_MAC + str(n): f"pinned: {_REAL_XL}[whole] (mac= edges)" for n in (4, 5, 31, 48)},
    **{_MAC + str(n): _PAST for n in (8, 10, 26)},
    **{
        _MAC + str(n): "equivalent: strtoul stops at the first NUL (no hex digit), so "
        "what follows it in the text it is given does not count"
        for n in (34, 35, 36, 37)
    },
    **{
        _GL + str(n): "pinned: tests/test_xlcfg.py::test_a_bounded_long_warns_once_unless_quiet"
        for n in (13, 16, 23, 26, 38, 39, 40, 41, 42, 43, 47, 50)
    },
    _GL + "37": "pinned: tests/test_xlcfg.py::test_a_bounded_long_takes_both_of_its_bounds",
    **{
        _ID + str(n): f"pinned: {_REAL_XL}[whole] (a string list that starts with a list)"
        for n in (23, 24, 25)
    },
    **{
        _ID + str(n): "equivalent: the model's xl never stores an enum without an init "
        "value at its zero name (xl's own parse gives the modelled enums non-zero values), so "
        "the zero test is never the one that decides"
        for n in (10, 11)
    },
    **{
        _ID + str(n): "equivalent: no key the model's xl follows fills a key-value list, so "
        "a kvl field is always absent"
        for n in (18, 19)
    },
    **{
        _ID + str(n): "equivalent: xl always generates a uuid (libxl_uuid_generate), never "
        "the nil one, and an absent value returned before"
        for n in (36, 37, 38)
    },
    **{
        _ID + str(n): "equivalent: a string or defbool that is not None is printed either "
        "way: without the branch, the last test compares it with an init value of None"
        for n in (43, 44, 45, 46)
    },
    **{
        _XV + str(n): "equivalent: a value's line is kept but never read (xl prints only a "
        "setting's line)"
        for n in (2, 4, 22, 24, 38, 40)
    },
    **{_XV + str(n): "equivalent: 'UTF-8' names the same codec" for n in (10, 30)},
    **{
        _XV + str(n): f"pinned: {_HAND} (bytes that are not UTF-8 in values)"
        for n in (8, 11, 12, 28, 31, 32)
    },
    **{
        _DC + str(n): f"pinned: {_LX}test_domain_create_passes_hap_and_the_preallocation_on"
        for n in (1, 10, 16, 18, 21, 22, 23, 24)
    },
    **{
        _DC + str(n): f"pinned: {_LX}test_a_creation_xen_refuses_is_logged_with_the_models_reason"
        for n in (4, 29, 30)
    },
    **{
        _DC
        + str(n): f"pinned: {_LX}test_a_param_xen_refuses_names_its_option_and_destroys_the_domain"
        for n in (84, 87, 88)
    },
    **{
        _DC + str(n): "equivalent: the name shows only in a failure's message, and setting "
        "VIRIDIAN to 1 (the base feature set) does not fail on a domain libxl just made"
        for n in (45, 46)
    },
    _DC + "56": "equivalent: the value is read only when max_wp_ram_ranges is non-zero, so "
    "the 'or' never gives its right side",
    **{
        _BC + str(n): "pinned: dead code removed: xl refuses every other enum name first "
        f"({_LX}test_every_enum_field_holds_one_of_its_choices)"
        for n in (16, 17, 19, 21, 22, 24)
    },
    **{
        _BC + str(n): f"pinned: {_LX}test_each_setting_reaches_its_field_and_no_other"
        for n in (30, 31, 43, 47, 48, 49, 50, 117)
    },
    **{
        _BC + str(n): "equivalent: no field is of kind int (that member is gone since)"
        for n in (35, 36)
    },
    **{
        _BC + str(n): f"pinned: {_LX}test_an_hvm_only_setting_refuses_a_pv_guest"
        for n in (78, 80, 81, 82, 83, 85, 86)
    },
    **{
        _BC + str(n): f"pinned: {_LX}test_a_pv_guest_keeps_what_xl_built_and_no_hvm_field"
        for n in (99, 101)
    },
    **{
        f"ioreqlab.toolstack.libxl.x__raw__mutmut_{n}": "pinned: tests/test_libxl.py::"
        "test_each_setting_reaches_its_field_and_no_other"
        for n in (
            15,
            16,
            17,
            18,
            20,
            21,
            22,
            23,
            24,
            25,
            26,
            28,
            31,
            32,
            33,
            34,
            40,
            41,
            42,
            43,
            45,
            46,
            47,
            48,
            49,
            50,
            81,
            82,
            83,
            87,
            89,
            90,
            91,
            92,
            93,
            94,
            108,
            109,
            110,
            113,
            117,
            118,
            122,
            123,
            124,
            139,
            140,
            141,
            164,
            165,
            166,
            169,
            170,
            171,
            174,
            175,
            176,
        )
    },
    **{
        f"ioreqlab.toolstack.libxl.x__check_width__mutmut_{n}": "pinned: tests/test_libxl.py::"
        "test_a_number_fits_its_unsigned_field_from_0_to_its_top (no field is signed: that "
        "branch is gone since)"
        for n in (
            2,
            3,
            4,
            6,
            7,
            8,
            9,
            10,
            11,
            12,
            13,
            14,
            15,
            16,
            19,
            20,
            24,
            25,
            26,
            27,
            28,
            30,
            31,
            35,
            39,
        )
    },
}

#: hv/domain.py, second run of stage hv-params (session 12: write_ram's one-frame path)
_CROSS = "tests/test_hv_platform_edges.py::test_a_ram_write_across_a_frame_end_puts_each_part_in_its_frame"
HV_PARAMS_2: dict[str, str] = {
    **{
        f"ioreqlab.hv.domain.xǁDomainǁwrite_ram__mutmut_{n}": "equivalent: the one-frame path "
        "is the loop's single iteration; a write it declines the loop writes the same way"
        for n in (16, 19)
    },
    "ioreqlab.hv.domain.xǁDomainǁwrite_ram__mutmut_18": f"pinned: {_CROSS}",
    **{
        f"ioreqlab.hv.domain.xǁDomainǁwrite_ram__mutmut_{n}": f"pinned: {_CROSS} (and the "
        "loop now writes each part through write_block, so this copy of it is gone)"
        for n in (26, 27, 41)
    },
}

#: toolstack-libxl's last 57 (session 12), by the record at 2ca36dc
_IDL = "ioreqlab.toolstack.libxl_idl.x"
_XLP = "ioreqlab.toolstack.xl_parse.x"
_EDGE = "tests/test_xl_generated.py::test_the_model_answers_as_the_real_xl_did[whole]"
_DEPTH0 = (
    "equivalent: the generator's depth-0 state is only ever tested for map_key, map_val "
    "and in_array, which neither start nor complete (nor a misspelling of them) is: "
    "libxl prints one document, so yajl's refusal of a second never matters"
)
LIBXL_2: dict[str, str] = {
    **{f"{_IDL}ǁ_Yajlǁ__init____mutmut_{n}": _DEPTH0 for n in (5, 6)},
    **{f"{_IDL}ǁ_Yajlǁ_appended__mutmut_{n}": _DEPTH0 for n in (7, 8, 9, 10)},
    f"{_IDL}ǁ_Yajlǁstring__mutmut_7": f"pinned: {_EDGE} (a name with a tab, a quote, a "
    "backslash and BEL: yajl's escapes)",
    f"{_IDL}__gen__mutmut_22": "equivalent: an enum field with no value is at its default, "
    "which _gen_struct never prints, and no array holds enums",
    **{
        f"{_IDL}__gen__mutmut_{n}": "equivalent: a bool prints only when it is not its default "
        "(false): _gen_struct skips defaults (gentypes.py), and no array holds bools"
        for n in (50, 53, 54)
    },
    **{
        f"{_IDL}__gen_struct__mutmut_{n}": "equivalent: a keyed union with no type is looked up "
        "by a name no member has; any such name gives the same empty map"
        for n in (13, 15, 18, 19)
    },
    **{
        f"{_IDL}__gen_struct__mutmut_{n}": "equivalent: every build_info xl builds has its type "
        "set (hvm, pv or pvh, each a member): the empty-map fallback is never reached"
        for n in (28, 30)
    },
    f"{_IDL}__s__mutmut_1": "equivalent: the IDL's structs are built at import, before "
    "mutmut switches a mutant on; at run time _s() is called only for the union fallback, "
    "which is never reached",
    **{
        f"{_XLP}__int__mutmut_{n}": f"pinned: {_EDGE} (vncdisplay 2^31 - 1, 2^31, 2^32 - 1)"
        for n in (8, 9, 10)
    },
    f"{_XLP}ǁ_Parseǁmemory_and_vcpus__mutmut_32": f"pinned: {_EDGE} (vcpus = 4096) and "
    "tests/test_libxl.py::test_what_the_model_does_not_model_is_refused_by_name",
    **{
        f"{_XLP}ǁ_Parseǁmemory_and_vcpus__mutmut_{n}": "equivalent: max_memkb is printed only "
        "when it is not LIBXL_MEMKB_DEFAULT and None is not printed either; libxl's build "
        "reads the xl.cfg numbers, not this field"
        for n in (66, 68)
    },
    **{
        f"{_XLP}__uuid__mutmut_{n}": f"pinned: {_EDGE} (uuids with the dashes elsewhere, an X, "
        "one digit short)"
        for n in (5, 17)
    },
    f"{_XLP}ǁXlErrorǁ__init____mutmut_1": "pinned: dead code removed: every XlError is "
    "made with xl's exit code (the default was never used)",
    f"{_XLP}__nic_option__mutmut_6": "pinned: dead code removed: without '=', partition "
    "already leaves the whole token as the key",
    **{
        f"{_XLP}__nic_option__mutmut_{n}": "pinned: tests/test_libxl.py::"
        "test_what_the_model_does_not_model_is_refused_by_name (rate=)"
        for n in (125, 126)
    },
    **{
        f"ioreqlab.toolstack.libxl.xǁLibxlErrorǁ__init____mutmut_{n}": "pinned: dead code "
        "removed: by_xl and exit_code were never passed nor read (xl's refusals are XlError)"
        for n in (1, 2, 7, 8)
    },
    **{
        f"ioreqlab.toolstack.xlcfg.xǁ{m}ǁ__eq____mutmut_1": "pinned: tests/test_xlcfg.py::"
        "test_configs_are_equal_by_their_values_and_operators_only"
        for m in ("Atom", "ListValue")
    },
    **{
        f"ioreqlab.toolstack.xlcfg.xǁXlCfgErrorǁ__init____mutmut_{n}": "pinned: "
        "tests/test_xlcfg.py::test_a_parse_error_names_its_source_and_reads_as_its_messages"
        for n in (3, 4)
    },
    **{
        f"ioreqlab.toolstack.xlcfg.x__format_value__mutmut_{n}": "pinned: tests/test_xlcfg.py::"
        "test_a_string_with_a_newline_is_written_back_escaped"
        for n in (26, 27)
    },
    f"{_XLP}ǁ_Parseǁrun__mutmut_6": "pinned: tests/test_libxl.py::"
    "test_each_xl_key_the_model_leaves_out_is_named_first_in_sorted_order",
    "ioreqlab.toolstack.xlcfg.xǁXlConfigǁget_bool__mutmut_1": "pinned: tests/test_xlcfg.py::"
    "test_get_bool_warns_unless_quiet_as_libxlus_dont_warn",
    **{
        f"ioreqlab.toolstack.xlcfg.xǁXlConfigǁ{m}__mutmut_1": "pinned: dead code removed: every "
        "caller passes quiet"
        for m in ("_warn", "_atom")
    },
    **{
        f"ioreqlab.toolstack.xlcfg.xǁXlConfigǁget_string__mutmut_{n}": "pinned: dead code "
        "removed: no caller asked get_string to be quiet (xl reads strings with dont_warn 0)"
        for n in (4, 6)
    },
}

#: toolstack-xlu's run at 470ff7d (session 12): the disk rules made per spec
_COLO = f"pinned: {_EDGES} (COLO's strings, each in its field, each refused when given twice)"
XLU_DISK_2: dict[str, str] = {
    **{_XD + f"_rules__mutmut_{n}": _COLO for n in (141, 145, 146, 160, 165, 166, 180, 185, 186)},
    _XD + "_rules__mutmut_32": "equivalent: devtype=disk sets is_cdrom to its default, 0; "
    "None reads the same: is_cdrom is only tested for truth, and libxl prints neither",
    _XD + "_scan__mutmut_16": "equivalent: no rule's head can match nothing, so a match "
    "always ends past the position",
    **{
        _XD + f"_scan__mutmut_{n}": "equivalent: find from pos + 1 returns -1 or a position "
        "above pos >= 0, so < 0, <= 0 and < 1 agree"
        for n in (40, 41)
    },
}

#: dm/gvtg.py, its second run (at 63fb322, session 12: 603 mutants, 25 survivors)
_G = "ioreqlab.dm.gvtg.x"
_GB = "tests/test_gvtg_books.py::"
_FALSY = "equivalent: None is false as False is, and the flag is only ever tested for truth"
GVTG: dict[str, str] = {
    f"{_G}_links_table__mutmut_4": f"pinned: {_GB}test_the_shipped_policy_follows_only_present_links",
    **{
        f"{_G}_{m}__mutmut_{n}": "equivalent: read as signed, an entry has the same flag bits "
        "and, under ADDR_4K_MASK, the same frame"
        for m, n in (("child_tables", 7), ("root_tables", 8))
    },
    **{
        f"{_G}ǁMediatorBaseǁ__init____mutmut_{n}": "equivalent: the server's name only labels "
        "the DeviceModelServer object; nothing reads it"
        for n in (27, 30, 31, 32)
    },
    **{
        f"{_G}ǁMediatorBaseǁstart__mutmut_{n}": "pinned: code changed: BAR 0 is packed in "
        f"place (pack_into), no slice to mistake; {_GB}"
        "test_the_vgpu_is_an_intel_gpu_at_00_02_0_with_a_2m_register_bar reads it"
        for n in (4, 9)
    },
    f"{_G}ǁMediatorBaseǁio__mutmut_28": "equivalent: a write's return value is never read "
    "(the runtime completes every write with no data: dm/runtime.py)",
    **{
        f"{_G}ǁMediatorBaseǁ_snapshot__mutmut_{n}": "equivalent: a snapshot is only taken of "
        "a frame a walk found in RAM, and the model never takes guest RAM away"
        for n in (4, 7)
    },
    **{
        f"{_G}ǁMediatorBaseǁ_roots__mutmut_{n}": "equivalent: a 4-level root's tables are the "
        "root alone whatever the page says: mapping it anyway changes nothing"
        for n in (3, 7)
    },
    f"{_G}ǁMediatorBaseǁwalk__mutmut_10": f"pinned: {_GB}"
    "test_a_link_to_a_frame_that_is_not_ram_is_skipped_and_the_walk_goes_on",
    f"{_G}ǁMediatorBaseǁ_unprotect__mutmut_8": f"pinned: {_GB}test_each_refused_unprotect_is_counted",
    **{
        f"{_G}ǁGvtgMediatorǁdrop_all__mutmut_{n}": f"pinned: {_GB}"
        "test_stop_drops_every_tree_without_counting_evictions_and_destroys_the_server"
        for n in (2, 4, 5, 6)
    },
    f"{_G}ǁGvtgMediatorǁdrop_all__mutmut_3": _FALSY,
    f"{_G}ǁGvtgMediatorǁdestroy__mutmut_2": _FALSY,
    f"{_G}ǁGvtgMediatorǁ_submit__mutmut_20": f"pinned: {_GB}"
    "test_with_no_heap_left_nothing_is_protected_and_each_submission_rereads_the_tree",
    f"{_G}ǁGvtgMediatorǁ_submit__mutmut_33": _FALSY,
    f"{_G}ǁGvtgMediatorǁverify__mutmut_7": "equivalent: bad is still 0 at that line, so = 1 "
    "is += 1",
}

#: dm/gvt_shipped.py's last two (record at 756d896)
_GS = "ioreqlab.dm.gvt_shipped.xǁShippedMediatorǁ"
GVT_SHIPPED_2: dict[str, str] = {
    _GS + "_submit__mutmut_48": "equivalent: a failed flush is the first submission lost "
    "(every loss means failsafe, and once in failsafe a submission is counted above and "
    "returns), so the count is 0 there and = 1 is += 1",
    _GS + "check_invariants__mutmut_8": "pinned: tests/test_gvt_shipped_books.py::"
    "test_a_directory_listed_twice_in_a_legacy_context_holds_two_references",
    **{
        _GS + f"_remove__mutmut_{n}": "equivalent: bytes read past the entry land at bits 64 "
        "and up, above the address bits entry_gfn reads (ADDR_4K_MASK) and the flags "
        "links_table tests (a slice stops at the page's end)"
        for n in (10, 11)
    },
}

#: hv-ioreq's run at 470ff7d (session 12): session 11's RAM fast paths
_VIO = "ioreqlab.hv.vcpu_io.xǁVcpuIoǁ"
_FIRST = (
    "equivalent: the first frame's type only saves _write_ram one p2m read; without it "
    "_write_ram reads the same type"
)
_ONE_WAY = (
    "equivalent: the one-slice path and the element loop write the same bytes with the "
    "same per-frame effects whenever the rep stays in one frame, so sending a rep down "
    "the loop instead changes nothing"
)
HV_IOREQ_4: dict[str, str] = {
    **{_VIO + f"access__mutmut_{n}": _FIRST for n in (80, 84)},
    **{_VIO + f"_ram__mutmut_{n}": _FIRST for n in (25, 30)},
    _VIO + "_write_ram__mutmut_21": _FIRST,
    _VIO + "_write_ram__mutmut_24": "pinned: tests/test_hv_platform_edges.py::"
    "test_a_write_across_a_frame_end_dirties_the_next_frame_by_its_own_type",
    _VIO + "_ram__mutmut_19": "equivalent: one element (or none) down the rep paths writes "
    "the same bytes with the same per-frame effects as the one-element path",
    _VIO + "_ram__mutmut_20": "pinned: tests/test_hv_rep.py::"
    "test_rep_stos_of_two_and_three_elements_writes_each_one",
    **{_VIO + f"_ram__mutmut_{n}": _ONE_WAY for n in (37, 44)},
    _VIO + "_ram__mutmut_62": "equivalent: little-endian, the low size bytes of a uint64 are "
    "the same in 8 bytes or 9 (data is checked to 64 bits)",
    "ioreqlab.hv.ioreq.x_destroy_server__mutmut_3": "pinned: tests/test_pins.py::"
    "test_destroying_a_disabled_server_leaves_its_frame_as_the_guest_wrote_it",
}

TRIAGE: dict[str, str] = {
    **HV_IOREQ_3,
    **LIBXL,
    **CNUM,
    **XLU_DISK,
    **XLU_GRAMMAR,
    **HV_IOREQ_2,
    **HV_HEAP_2,
    **NAMES,
    **HV_HEAP,
    **HV_DMOP,
    **GVT_GPU,
    **GVT_SHIPPED,
    **P2M_P2T,
    **HV_IOREQ,
    **HV_PARAMS,
    # pinned by tests added after the rangeset stage ran (re-run against them: killed)
    **{
        _R + m: f"pinned: {_BLOCKS}::{t}"
        for m, t in {
            "xǁRangeSetBaseǁpurge__mutmut_5": "test_purge_leaves_nothing",
            "xǁRangeSetBaseǁ_check_swap__mutmut_20": "test_swap_moves_heap_charges_between_accounts",
            "xǁRangeSetBaseǁ_check_swap__mutmut_37": "test_swap_moves_heap_charges_between_accounts",
            "xǁRangeSetBaseǁ_check_swap__mutmut_38": "test_swap_moves_heap_charges_between_accounts",
            "xǁRangeSetǁ_split_block__mutmut_10": "test_small_blocks_agree_with_the_linked_list_everywhere",
            "xǁRangeSetǁ_split_block__mutmut_16": "test_small_blocks_agree_with_the_linked_list_everywhere",
            "xǁRangeSetǁ_split_block__mutmut_22": "test_small_blocks_agree_with_the_linked_list_everywhere",
            "xǁRangeSetǁadd_range__mutmut_47": "test_small_blocks_agree_with_the_linked_list_everywhere",
            "xǁRangeSetǁadd_range__mutmut_50": "test_small_blocks_agree_with_the_linked_list_everywhere",
            "xǁRangeSetǁ_add_general__mutmut_8": "test_small_blocks_agree_with_the_linked_list_everywhere",
            "xǁRangeSetǁ_add_general__mutmut_38": "test_at_the_limit_an_add_reaching_the_next_range_needs_no_node",
            "xǁRangeSetBaseǁ__init____mutmut_6": "test_names_keep_any_string_and_print_cut_characters",
            "xǁRangeSetBaseǁ__init____mutmut_22": "test_names_keep_any_string_and_print_cut_characters",
            "xǁRangeSetBaseǁ__str____mutmut_4": "test_names_keep_any_string_and_print_cut_characters",
            "xǁRangeSetBaseǁ__init____mutmut_32": "test_the_layout_is_what_was_asked",
        }.items()
    },
    # code the mutants showed dead, now removed (the next run has no such mutant)
    **{
        _R + f"xǁRangeSetBaseǁ_check_swap__mutmut_{n}": "pinned: dead code removed: when the "
        "other side is refused this side never grew (the growths have opposite signs)"
        for n in (27, 28, 29)
    },
    **{
        _R + f"xǁRangeSetǁ_splice__mutmut_{n}": "pinned: dead code removed: no caller passes "
        "one past the last range (an add beyond every range takes add_range's fast path)"
        for n in (8, 9, 10, 11)
    },
    **{_R + f"x__check_range__mutmut_{n}": _NAME_ARG for n in (1, 5, 6, 7, 11, 12)},
    **{_R + f"xǁRangeSetǁcontains_singleton__mutmut_{n}": _NAME_ARG for n in (23, 27, 28)},
    _R + "xǁRangeSetǁadd_range__mutmut_8": f"pinned: {_BLOCKS}::"
    "test_a_value_that_is_not_an_integer_is_einval (a str end compared with an int start "
    "raised TypeError, not -EINVAL)",
    **{_R + f"xǁRangeSetǁadd_range__mutmut_{n}": _GUARD for n in (5, 7, 9, 10, 11, 12)},
    **{
        _R + f"xǁRangeSetǁadd_range__mutmut_{n}": "message: only reached for invalid input, "
        "where _check_value(None) raises the same -EINVAL with another text"
        for n in (13, 14)
    },
    **{_R + f"xǁRangeSetǁ__iter____mutmut_{n}": _ZIP for n in (3, 6, 7, 10, 13, 14)},
    **{_R + f"xǁRangeSetǁcheck_invariants__mutmut_{n}": _ZIP for n in (4, 7, 8)},
    **{_R + f"xǁRangeSetǁcheck_invariants__mutmut_{n}": _ORACLE for n in (12, 16, 17)},
    **{_R + f"xǁRangeSetBaseǁcheck_invariants__mutmut_{n}": _ORACLE for n in (3, 10, 11, 20, 21)},
    **{
        _R + f"xǁRangeSetBaseǁ_check_swap__mutmut_{n}": _SWAP_SIGN
        for n in (18, 23, 24, 31, 32, 33, 35, 36)
    },
    **{_R + f"xǁRangeSetǁ_find__mutmut_{n}": _FIND for n in (11, 12, 13)},
    _R + "xǁRangeSetǁ_splice__mutmut_42": _LAYOUT,
    _R + "xǁRangeSetǁ_split_block__mutmut_4": _LAYOUT,
    _R + "xǁRangeSetǁadd_range__mutmut_69": _LAYOUT,
    _R + "xǁRangeSetǁadd_range__mutmut_70": _LAYOUT
    + " (2 / LOAD splits every block: slower, same answers)",
    **{
        _R + f"xǁRangeSetǁ_splice__mutmut_{n}": "equivalent: firsts[b] is set to the block's "
        "first start before _splice returns"
        for n in (5, 6)
    },
    **{
        _R + f"xǁRangeSetǁ_splice__mutmut_{n}": "equivalent: `while rest` stops on None as on 0"
        for n in (29, 34)
    },
    _R + "xǁRangeSetǁ_splice__mutmut_37": _LAYOUT,
    **{
        _R + f"xǁRangeSetBaseǁ_last_value__mutmut_{n}": "equivalent: purge, its only caller, "
        "asks only a non-empty set, so the first range always replaces the initial value"
        for n in (1, 2, 3)
    },
    _R + "xǁRangeSetǁ_run__mutmut_6": "equivalent: last_e only feeds max(e, last_e), and e >= 0",
    _R + "xǁRangeSetǁ_run__mutmut_16": "equivalent: every range before position i starts below "
    "the bound, so bisecting the whole block finds the same j",
    _R + "xǁRangeSetBaseǁfrom_ranges__mutmut_16": "equivalent: starts are >= 0, so s > -1 and "
    "s > -2 both hold for the first range",
    _R + "xǁRangeSetǁadd_range__mutmut_24": "equivalent: one block too low, the next start it "
    "finds is firsts[b] <= s, so the fast path always defers to the general one",
    **{_R + f"xǁRangeSetǁadd_range__mutmut_{n}": _TO_GENERAL for n in (25, 26, 39, 53, 54, 57)},
    _R + "xǁRangeSetǁadd_range__mutmut_37": "equivalent: a range ending exactly at e with another "
    "starting at e + 1 cannot exist (adjacent ranges are always merged), so the general path "
    "adds nothing either",
}

#: hv-dmop's run at 4b2a127 and toolstack-libxl's at 25c7c11 (session 12)
_DMOP = "ioreqlab.hv.dmop.x_"
_ANY_INT = "pinned: tests/test_hv_badinput.py::test_dm_op_takes_any_integer_as_its_ids_and_refuses_anything_else"
HV_DMOP_2: dict[str, str] = {
    **{_DMOP + f"dispatch_dm_op__mutmut_{n}": _ANY_INT for n in (2, 5, 6)},
    _DMOP + "dispatch_dm_op__mutmut_27": "equivalent: every XenError carries its errno (each "
    "class sets it; the base class is given one), so `or` never chooses",
    **{
        _DMOP + f"_copy_in__mutmut_{n}": "equivalent: unpack_from's offset defaults to 0"
        for n in (9, 21)
    },
    _DMOP + "_copy_in__mutmut_35": "equivalent: the padding past the op's own size is what "
    "Xen did not copy, and nothing reads it: each op decodes and copies back only its own "
    "struct (checked by hand against every hv test)",
    **{
        f"ioreqlab.hv.dmop_ops.x__destroy__mutmut_{n}": "message: the name only labels the "
        "-EINVAL's text (same errno, same state)"
        for n in (2, 5)
    },
}
LIBXL_3: dict[str, str] = {
    **{
        f"ioreqlab.toolstack.libxl.x__reason__mutmut_{n}": "pinned: tests/test_libxl.py::"
        "test_a_refusals_reason_is_its_message_or_else_the_errnos_text"
        for n in (2, 4)
    },
    "ioreqlab.toolstack.xl_parse.x__nic_option__mutmut_3": "pinned: tests/test_xl_generated.py"
    "::test_the_model_answers_as_the_real_xl_did[whole] (bridge=br=0: the value runs to "
    "the comma)",
}

# This session's verdicts, given against today's records, win over an older
# verdict of the same name (its binding tells which mutant each was for).
TRIAGE.update(
    {
        **HV_PARAMS_2,
        **LIBXL_2,
        **XLU_DISK_2,
        **GVTG,
        **GVT_SHIPPED_2,
        **HV_IOREQ_4,
        **HV_DMOP_2,
        **LIBXL_3,
    }
)
