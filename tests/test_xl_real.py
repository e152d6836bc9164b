"""``ioreqlab xl -N create`` against the real ``xl -N create`` of Debian's Xen 4.17 (issue 13).

The real ``xl`` runs here without Xen: ``tests/c/xl_dryrun_shim.c``, compiled
at test time and preloaded, answers the few calls a dry run makes.  Both get
every config of the corpus (Debian's examples and ``tests/data/xl``) and
generated ones (``tests/xl_configs.py``: settings over every key the model's
xl follows, and disk specs made of libxlu's keywords); exit code, stderr and
stdout — the JSON document — must be byte-identical, apart from

- the uuid (xl generates a random one; both are checked to be well formed), and
- the model's own keys: the seed's ``max_wp_ram_ranges`` and XenGT's ``vgt*``,
  which real xl does not know.  Their lines are taken out of the model's
  document before comparing (SPEC's deviations).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from ioreqlab.realdm.build import BuildError, compile_c
from tests.xl_configs import configs, disk_configs
from tests.xl_outputs import (
    GOLDEN,
    golden_from,
    golden_texts,
    masked,
    model_outcomes,
    without_model_keys,
    write_configs,
)

ROOT = Path(__file__).resolve().parents[1]
XL = Path("/usr/lib/xen-4.17/bin/xl")
DATA = ROOT / "tests" / "data" / "xl"
ALL = sorted(Path("/etc/xen").glob("xlexample.*")) + sorted(DATA.glob("*.cfg"))
#: Generated configs per test, and their seed.
GENERATED, SEED = 1500, 13


def _unavailable() -> str | None:
    if not XL.exists():
        return f"{XL} is missing: install xen-utils-4.17"
    try:
        _shim()
    except BuildError as err:
        return f"cannot build the dry-run shim: {err}"
    return None


def _shim() -> Path:
    return compile_c(ROOT / "tests" / "c" / "xl_dryrun_shim.c", shared=True)


_why = _unavailable()
if _why is not None and os.environ.get("CI") == "true":  # CI must run it
    raise RuntimeError(_why)
pytestmark = pytest.mark.skipif(_why is not None, reason=_why or "")


def run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[int, str]:
    code, _out, err = run_bytes(cmd, cwd, env)
    return code, err.decode("utf-8", "surrogateescape")


def run_bytes(
    cmd: list[str], cwd: Path, env: dict[str, str] | None = None
) -> tuple[int, bytes, bytes]:
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, env=env, timeout=120, check=False)
    return done.returncode, done.stdout, done.stderr


def real_xl_batch(cfgs: list[Path]) -> list[tuple[int, bytes, bytes]]:
    env = {**os.environ, "LD_PRELOAD": str(_shim())}
    return [run_bytes([str(XL), "-N", "create", c.name], c.parent, env) for c in cfgs]


def disagreements(cfgs: list[Path]) -> list[str]:
    """Each config whose exit code, stderr or (masked) stdout differs, with both sides."""
    bad = []
    for cfg, real, model in zip(cfgs, real_xl_batch(cfgs), model_outcomes(cfgs), strict=True):
        mine = (model[0], masked(without_model_keys(model[1])), model[2])
        theirs = (real[0], masked(real[1]), real[2])
        if mine != theirs:
            bad.append(f"{cfg.name}: {cfg.read_bytes()!r}\n real  {theirs!r}\n model {mine!r}")
    return bad


def real_xl(cfg: Path) -> tuple[int, str]:
    env = {**os.environ, "LD_PRELOAD": str(_shim())}
    return run([str(XL), "-N", "create", cfg.name], cfg.parent, env)


def model_xl(cfg: Path) -> tuple[int, str]:
    cmd = [sys.executable, "-m", "ioreqlab", "xl", "-N", "create", "--xen", "4.17", cfg.name]
    return run(cmd, cfg.parent)


def test_the_corpus_is_byte_identical_to_the_real_xl() -> None:
    # Every config, the seed's included (their model-only lines taken out).
    assert disagreements(ALL) == []


def test_generated_configs_are_byte_identical_to_the_real_xl(tmp_path: Path) -> None:
    bad = disagreements(write_configs(tmp_path, configs(SEED, GENERATED)))
    assert bad == [], f"{len(bad)} of {GENERATED} disagree:\n" + "\n".join(bad[:5])


def test_generated_disk_specs_are_parsed_as_libxlu_does(tmp_path: Path) -> None:
    bad = disagreements(write_configs(tmp_path, disk_configs(SEED, GENERATED)))
    assert bad == [], f"{len(bad)} of {GENERATED} disagree:\n" + "\n".join(bad[:5])


def test_generated_configs_reach_every_outcome() -> None:
    # The generator is worth something only if it makes xl accept, warn and refuse.
    texts = configs(SEED, GENERATED)[:300] + disk_configs(SEED, GENERATED)[:300]
    outcomes: set[object] = set()
    with tempfile.TemporaryDirectory() as where:
        for code, out, err in real_xl_batch(write_configs(Path(where), texts)):
            outcomes.add(code)
            outcomes.add("json" if out else "no json")
            outcomes.add("warning" if b"warning:" in err else "quiet")
            outcomes.add("disk error" if b"disk specification" in err else "")
    assert {0, 1, 3, "json", "no json", "warning", "quiet", "disk error"} <= outcomes


def test_the_model_checks_the_seeds_key_after_xl_as_libxl() -> None:
    above = DATA / "hvm-wp-above-half.cfg"
    assert real_xl(above)[0] == 0  # xl knows no max_wp_ram_ranges
    assert model_xl(above)[0] == 0  # -N stops after xl, as the real one does
    code, err = run(
        [sys.executable, "-m", "ioreqlab", "xl", "-N", "create", "--resolved", above.name], DATA
    )
    assert code == 1
    assert "exceeds nr_pages/2" in err


def test_the_corpus_has_configs_real_xl_accepts_and_refuses() -> None:
    codes = {real_xl(cfg)[0] for cfg in ALL}
    assert codes == {0, 1, 3}  # 3: xl's exit(-ERROR_FAIL)


def test_a_path_with_utf8_is_kept_intact(tmp_path: Path) -> None:
    # The CLI reads config files as bytes: an é in a value stays an é.
    cfg = tmp_path / "u.cfg"
    cfg.write_bytes('name = "vm"\ntype = "hvm"\ndisk = [ "/img/é.raw,raw,xvda,w" ]\n'.encode())
    done = subprocess.run(
        [sys.executable, "-m", "ioreqlab", "xl", "-N", "create", str(cfg)],
        capture_output=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0
    assert "é.raw" in done.stdout.decode("utf-8")
    assert "Ã" not in done.stdout.decode("utf-8")


def test_the_golden_file_is_what_the_real_xl_prints(tmp_path: Path) -> None:
    # tests/test_xl_generated.py checks the model in-process against this file
    # (for mutation testing); here the file itself is checked against the real xl.
    got = {
        kind: real_xl_batch(write_configs(tmp_path, texts, kind[0]))
        for kind, texts in golden_texts().items()
    }
    assert json.loads(GOLDEN.read_text()) == golden_from(got), (
        "tests/data/xl-generated.json is stale: .venv/bin/python -m tests.xl_outputs"
    )
