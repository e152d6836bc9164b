"""``ioreqlab xl -N create`` against the real ``xl -N create`` of Debian's Xen 4.17 (issue 13).

The real ``xl`` runs here without Xen: ``tests/c/xl_dryrun_shim.c``, compiled
at test time and preloaded, answers the few calls a dry run makes.  Both get
every config of the corpus (Debian's examples and ``tests/data/xl``); their
exit codes and stderr must be identical.

Compared so far: the exit code and stderr.  Not yet: stdout, the JSON
document (xl prints the config as it built it, in libxl's IDL shape, before
libxl's defaults; the model prints its own resolved config) — listed as
open in issue 13's note.  Deliberately different: configs that use the
seed's ``max_wp_ram_ranges``, a key real xl does not know (it ignores it; the
model validates it, SPEC's deviations).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ioreqlab.realdm.build import BuildError, compile_c

ROOT = Path(__file__).resolve().parents[1]
XL = Path("/usr/lib/xen-4.17/bin/xl")
DATA = ROOT / "tests" / "data" / "xl"
#: The seed's own key: real xl ignores it, the model checks it.
SEED_KEY = "max_wp_ram_ranges"
ALL = sorted(Path("/etc/xen").glob("xlexample.*")) + sorted(DATA.glob("*.cfg"))
#: Every config that does not use the seed's key (those are the deliberate difference).
CONFIGS = [p for p in ALL if SEED_KEY not in p.read_text(errors="replace")]


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
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, env=env, timeout=60, check=False)
    return done.returncode, done.stderr.decode("utf-8", "surrogateescape")


def real_xl(cfg: Path) -> tuple[int, str]:
    env = {**os.environ, "LD_PRELOAD": str(_shim())}
    return run([str(XL), "-N", "create", cfg.name], cfg.parent, env)


def model_xl(cfg: Path) -> tuple[int, str]:
    cmd = [sys.executable, "-m", "ioreqlab", "xl", "-N", "create", "--xen", "4.17", cfg.name]
    return run(cmd, cfg.parent)


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda p: p.name)
def test_exit_code_and_stderr_are_the_real_xls(cfg: Path) -> None:
    assert model_xl(cfg) == real_xl(cfg)


def test_real_xl_ignores_the_seeds_key_which_the_model_checks() -> None:
    above = DATA / "hvm-wp-above-half.cfg"
    assert real_xl(above)[0] == 0  # xl knows no max_wp_ram_ranges
    code, err = model_xl(above)
    assert code == 1
    assert "exceeds nr_pages/2" in err


def test_the_corpus_has_configs_real_xl_accepts_and_refuses() -> None:
    codes = {real_xl(cfg)[0] for cfg in CONFIGS}
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
