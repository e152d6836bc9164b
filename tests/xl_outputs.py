"""What ``xl -N create`` printed, made comparable: the real xl's and the model's.

The real xl needs its dry-run shim and a subprocess per config
(``tests/test_xl_real.py``); the model runs in this process.  So that
mutation testing, which only sees mutants in this process, is checked
against the real xl too, the real xl's answers for the generated configs
(:data:`GOLDEN_SEED`, :data:`GOLDEN_COUNT` of each kind: any settings,
disk specs, HVM guests that mostly build; and every pair of disk\nspec pieces that set the same thing) are kept in
``tests/data/xl-generated.json``: exit code, a digest of the document on
stdout, stderr.  ``tests/test_xl_real.py`` checks that file against the
real xl; ``tests/test_xl_generated.py`` checks the model against the file.

    .venv/bin/python -m tests.xl_outputs     # rewrite the file from the real xl
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
from pathlib import Path

from tests.xl_configs import (
    CONFIG_EDGES,
    configs,
    disk_configs,
    disk_edge_configs,
    hvm_configs,
    nic_pair_configs,
    paired_disk_configs,
)

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "data" / "xl-generated.json"
GOLDEN_SEED, GOLDEN_COUNT = 29, 600

UUID = re.compile(rb'"uuid": "([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"')
MODEL_KEY = re.compile(rb'^\s*"(max_wp_ram_ranges|vgt[a-z_]*)": ')

#: (exit code, stdout, stderr) of one ``xl -N create``.
Outcome = tuple[int, bytes, bytes]


def without_model_keys(doc: bytes) -> bytes:
    """The document with the model's own keys' lines taken out (and the comma before
    a removed last member)."""
    out: list[bytes] = []
    lines = doc.split(b"\n")
    for i, line in enumerate(lines):
        if MODEL_KEY.match(line):
            closes = i + 1 < len(lines) and lines[i + 1].strip().startswith((b"}", b"]"))
            if closes and out and out[-1].endswith(b","):
                out[-1] = out[-1][:-1]
            continue
        out.append(line)
    return b"\n".join(out)


def masked(doc: bytes) -> bytes:
    """The document with its (random) uuid replaced by ``U``."""
    assert len(UUID.findall(doc)) == (1 if doc else 0), doc[:200]
    return UUID.sub(b'"uuid": U', doc)


def golden_texts() -> dict[str, list[str]]:
    """The generated configs the golden file answers, by kind."""
    return {
        "configs": configs(GOLDEN_SEED, GOLDEN_COUNT),
        "disks": disk_configs(GOLDEN_SEED, GOLDEN_COUNT),
        "hvm": hvm_configs(GOLDEN_SEED, GOLDEN_COUNT),
        "pairs": paired_disk_configs(),
        "nics": nic_pair_configs(),
        "edges": disk_edge_configs(),
        "whole": list(CONFIG_EDGES),
    }


def summary(outcome: Outcome, *, model: bool) -> list[object]:
    """``[exit, digest of the masked stdout, stderr]`` (the model's keys taken out)."""
    code, out, err = outcome
    doc = masked(without_model_keys(out) if model else out)
    return [code, hashlib.sha256(doc).hexdigest()[:16], err.decode("utf-8", "surrogateescape")]


def model_outcomes(paths: list[Path]) -> list[Outcome]:
    """The model's ``xl -N create --xen 4.17`` of each file, here, as the CLI runs it."""
    from ioreqlab.cli import main  # noqa: PLC0415  (after the caller's monkeypatching)

    results: list[Outcome] = []
    here = Path.cwd()
    try:
        for path in paths:
            os.chdir(path.parent)
            out, err = io.BytesIO(), io.BytesIO()
            o = io.TextIOWrapper(out, "utf-8", "surrogateescape")
            e = io.TextIOWrapper(err, "utf-8", "surrogateescape")
            with contextlib.redirect_stdout(o), contextlib.redirect_stderr(e):
                code = main(["xl", "-N", "create", "--xen", "4.17", path.name])
            o.flush()
            e.flush()
            results.append((code, out.getvalue(), err.getvalue()))
    finally:
        os.chdir(here)
    return results


def write_configs(where: Path, texts: list[str], prefix: str = "g") -> list[Path]:
    """Each text as ``where/<prefix>NNNN.cfg``."""
    paths = []
    for i, text in enumerate(texts):
        path = where / f"{prefix}{i:04d}.cfg"
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


def golden_from(outcomes: dict[str, list[Outcome]]) -> dict[str, object]:
    """The golden file's content from the real xl's outcomes, by kind."""
    return {
        "seed": GOLDEN_SEED,
        "count": GOLDEN_COUNT,
        **{kind: [summary(o, model=False) for o in got] for kind, got in outcomes.items()},
    }


def dump(golden: dict[str, object]) -> str:
    """The golden file's text: one outcome per line, so a change reads as a diff."""
    parts = []
    for key, value in golden.items():
        if isinstance(value, list):
            rows = ",\n".join(json.dumps(row, ensure_ascii=False) for row in value)
            parts.append(f"{json.dumps(key)}: [\n{rows}\n]")
        else:
            parts.append(f"{json.dumps(key)}: {json.dumps(value)}")
    return "{\n" + ",\n".join(parts) + "\n}\n"


def main() -> int:
    """Rewrite the golden file from the real xl (``tests/test_xl_real.py``'s shim)."""
    import tempfile  # noqa: PLC0415

    from tests.test_xl_real import real_xl_batch  # noqa: PLC0415  (needs the real xl)

    with tempfile.TemporaryDirectory() as where:
        got = {
            kind: real_xl_batch(write_configs(Path(where), texts, kind[0]))
            for kind, texts in golden_texts().items()
        }
    GOLDEN.write_text(dump(golden_from(got)))
    print(f"{GOLDEN}: {sum(len(v) for v in got.values())} outcomes of the real xl")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
