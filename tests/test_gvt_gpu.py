"""What a physical GPU's vGPUs share: vgpu.c's instance count, the shadow-page
budget with its LRU reclaim, and the out-of-sync pool (issue 17's mutants).

Sources: Linux drivers/gpu/drm/i915/gvt/vgpu.c ``intel_gvt_init_vgpu_types``
(``low_avail = aperture - HOST_LOW_GM_SIZE``, ``high_avail = hidden -
HOST_HIGH_GM_SIZE``, each type's ``avail_instance`` the smaller quotient);
gtt.c ``reclaim_one_ppgtt_mm`` (the LRU list's head, pinned mms skipped) and
``ppgtt_allocate_oos_page`` (the oldest page synced and taken when the pool is
empty).
"""

from __future__ import annotations

import pytest

from ioreqlab.dm.gvt_gpu import PhysicalGpu, vgpu_slots

MIB = 1 << 20


@pytest.mark.parametrize(
    ("gpu", "vgpu_type", "aperture_mib", "slots"),
    [
        # low (aperture - 128 MiB) / low_gm, high (GGTT - aperture - 384 MiB) / high_gm
        ("bdw", "8", 512, 6),  # low 384/64 = 6 binds
        ("hsw", "8", 1024, 1),  # high (2048-1024-384)/384 = 1 binds, low 14
        ("hsw", "8", 768, 2),  # high 896/384 = 2.33: whole instances only
        ("bdw", "8", 640, 7),  # low 8, high 8: the generation's 7 vGPUs bind
        ("bdw", "4", 1024, 5),  # low 896/128 = 7, high 2688/512 = 5.25
        ("bdw", "1", 1024, 1),
        ("bdw", "8", 128, 0),  # no aperture left above the host's share
    ],
)
def test_vgpu_slots_follow_vgpu_c(gpu: str, vgpu_type: str, aperture_mib: int, slots: int) -> None:
    got = vgpu_slots(gpu, vgpu_type, aperture_mib * MIB)
    assert got == slots
    assert type(got) is int


@pytest.mark.parametrize("bad", [{"oos_pages": -1}, {"oos_pages": 4, "shadow_pages": -1}])
def test_counts_below_zero_are_refused(bad: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="counts"):
        PhysicalGpu("bdw", **bad)


def test_a_new_gpu_reports_nothing_used() -> None:
    assert PhysicalGpu("skl", oos_pages=8, shadow_pages=4).statistics() == {
        "oos_pages": 8,
        "oos_pages_in_use": 0,
        "oos_pages_peak": 0,
        "oos_steals": 0,
        "shadow_pages_in_use": 0,
        "shadow_pages_peak": 0,
        "lru_reclaims": 0,
    }


def test_the_shadow_budget_reclaims_least_recently_used_first() -> None:
    gpu = PhysicalGpu(oos_pages=0, shadow_pages=2)
    gone: list[str] = []

    def space(name: str, pages: int) -> tuple[int, int]:
        key = (1, len(gone) * 100 + ord(name))

        def reclaim() -> None:
            gone.append(name)
            gpu.free_shadow(pages)

        gpu.touch(key, reclaim)
        return key

    a = space("a", 1)
    space("b", 1)
    assert gpu.alloc_shadow()
    assert gpu.alloc_shadow()  # the budget, exactly
    assert gone == []
    gpu.touch(a, gpu.lru[a])  # a used again: b is now the oldest
    assert gpu.alloc_shadow()  # at the budget: one space must go
    assert gone == ["b"]
    gpu.pinned.add(a)
    assert not gpu.alloc_shadow()  # only a is left, and it is pinned
    gpu.pinned.clear()
    assert not gpu.alloc_shadow(busy=lambda k: k == a)  # in use by the submission
    gpu.forget(a)  # a is gone: nothing to reclaim
    assert not gpu.alloc_shadow()
    assert gone == ["b"]
    assert gpu.statistics()["lru_reclaims"] == 1
    space("c", 1)
    gpu.free_shadow()
    assert gpu.alloc_shadow()
    space("d", 2)
    assert gpu.alloc_shadow()
    assert gpu.statistics()["lru_reclaims"] == 2
    assert gpu.statistics()["shadow_pages_peak"] == 2


def test_the_oos_pool_steals_the_oldest_page() -> None:
    gpu = PhysicalGpu(oos_pages=2)
    synced: list[int] = []

    def sync(gfn: int, ok: bool = True) -> bool:
        synced.append(gfn)
        return ok

    assert gpu.take_oos((1, 10), lambda: sync(10))
    assert gpu.take_oos((2, 20), lambda: sync(20))
    assert gpu.statistics()["oos_pages_peak"] == 2
    assert gpu.take_oos((1, 30), lambda: sync(30))  # 10, the oldest, is synced and taken
    assert gpu.take_oos((2, 40), lambda: sync(40))  # then 20
    assert synced == [10, 20]
    assert list(gpu.oos_in_use) == [(1, 30), (2, 40)]
    assert gpu.statistics()["oos_steals"] == 2
    gpu.oos_in_use[(1, 30)] = lambda: sync(30, ok=False)
    assert not gpu.take_oos((1, 50), lambda: sync(50))  # the sync failed: nothing taken
    assert list(gpu.oos_in_use) == [(1, 30), (2, 40)]
    gpu.give_oos((2, 40))
    gpu.give_oos((2, 40))  # given back once only
    assert gpu.statistics()["oos_pages_in_use"] == 1


def test_the_cost_model_names_its_fields_in_order() -> None:
    from dataclasses import fields  # noqa: PLC0415

    from ioreqlab.dm.gvt_gpu import CostModel  # noqa: PLC0415

    names = CostModel().names()
    assert names == tuple(f.name for f in fields(CostModel))
    assert names[:3] == ("trap_ns", "protect_call_ns", "protect_page_ns")
