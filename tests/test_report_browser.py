"""``--report FILE.html`` rendered in a real headless browser, Debian's chromium (issue 16).

The page is loaded offline (every host name resolves to nothing) with a probe
script appended to a copy of it: on ``load`` the probe records what the
browser shows — the visible text, each table's shape, each image's decoded
size, any resource fetched — into the DOM, which ``--dump-dom`` prints.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium")
_why = None if CHROMIUM else "chromium is missing: install Debian's chromium package"
if _why is not None and os.environ.get("CI") == "true":  # CI must run it
    raise RuntimeError(_why)
pytestmark = pytest.mark.skipif(_why is not None, reason=_why or "")

PROBE = """
<script>
window.addEventListener("load", () => {
  const out = {
    title: document.title,
    text: document.body.innerText,
    tables: [...document.querySelectorAll("table")].map(t => [t.className, t.rows.length,
             t.rows[0].cells.length]),
    images: [...document.images].map(i => [i.alt, i.naturalWidth, i.naturalHeight, i.complete]),
    fetched: performance.getEntriesByType("resource").map(r => r.name),
  };
  const pre = document.createElement("pre");
  pre.id = "probe";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>
"""


def shown(page: Path, tmp: Path) -> Any:
    """What chromium shows of ``page``: the probe's record."""
    probed = tmp / f"probed-{page.name}"
    probed.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"))
    assert CHROMIUM is not None
    done = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--host-resolver-rules=MAP * ~NOTFOUND", "--virtual-time-budget=10000",
         f"--user-data-dir={tmp / 'profile'}", "--dump-dom", probed.as_uri()],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    m = re.search(r'<pre id="probe">(.*?)</pre>', done.stdout, re.S)
    assert m, done.stdout[-2000:]
    return json.loads(m.group(1).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&"))


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ioreqlab", *args], capture_output=True, text=True, check=False
    )


SMALL = """
name = "small <&> report"
description = "two vGPU guests & a plain one"
seed = 7
rounds = 5

[host]
xen_heap_mib = 16

[[domain]]
count = 2
xl_cfg = '''
name = "vm"
type = "hvm"
memory = 1024
vgt = 1
max_wp_ram_ranges = 64
'''
[domain.workload]
kind = "gpu"
processes = 3
leaves = 30

[[domain]]
xl_cfg = '''
name = "plain"
type = "hvm"
memory = 256
'''
[domain.workload]
kind = "devices"
"""


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("report") / "small.toml"
    path.write_text(SMALL)
    return path


def test_the_run_report_shows_everything_offline(scenario: Path, tmp_path: Path) -> None:
    page = tmp_path / "run.html"
    proc = cli("run", str(scenario), "--report", str(page))
    assert proc.returncode == 0, proc.stderr
    got = shown(page, tmp_path)
    text = str(got["text"])
    assert got["title"] == "ioreqlab run: small <&> report"  # escaped in, shown as written
    assert "two vGPU guests & a plain one" in text
    for needed in ("Comparison", "What each row counts", "Per guest", "Plots", "Settings",
                   "rangeset", "p2m", "p2t", "tracked pages", "not Xen's", "xen_heap_mib",
                   "protections refused"):  # fmt: skip
        assert needed in text, needed
    tables = {name: (rows, cols) for name, rows, cols in got["tables"]}
    assert tables["comparison"] == (20, 4)  # a header and 19 quantities; a column per design
    assert tables["guests"][0] == 1 + 3 * 3  # every design x every guest
    images = got["images"]
    assert [i[0] for i in images] == [
        "heap_and_ranges.png", "reshadow_vs_limit.png", "routing_vs_tracked.png"
    ]  # fmt: skip
    assert all(w > 400 and h > 300 and done for _, w, h, done in images)
    assert got["fetched"] == []  # nothing from outside the page


def test_the_plan_report_shows_the_sweep_and_the_answer(scenario: Path, tmp_path: Path) -> None:
    page = tmp_path / "plan.html"
    proc = cli("plan", str(scenario), "--seeds", "1", "--limits", "16", "64", "--report", str(page))
    assert proc.returncode == 0, proc.stderr
    got = shown(page, tmp_path)
    text = str(got["text"])
    assert "recommended max_wp_ram_ranges" in text
    assert "one seed (the percentile is that seed's value)" in text
    tables = {name: (rows, cols) for name, rows, cols in got["tables"]}
    # A header and a row per limit: the two asked for, the measured need and the cap.
    assert tables["sweep"] == (5, 6)
    images = got["images"]
    assert len(images) == 1
    assert images[0][1] > 400
    assert got["fetched"] == []


def test_a_report_is_checked_before_any_work(tmp_path: Path) -> None:
    proc = cli("run", "--report", str(tmp_path / "no" / "such" / "r.html"))
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1
    assert "no such directory" in proc.stderr
    assert "Traceback" not in proc.stderr
