"""The model's ``xl -N create`` against the real xl's answers, in this process.

``tests/data/xl-generated.json`` holds what Debian's real ``xl`` 4.17 printed
for :data:`~tests.xl_outputs.GOLDEN_COUNT` generated configs and as many
generated disk specs and HVM guests, and for pairs of disk-spec pieces
and of vif options (exit code, a digest of the JSON document, stderr);
``tests/test_xl_real.py`` checks the file against the real xl.  Here the
model runs in-process, so that the toolstack's mutation stages
(``tests/mutation.py``) are checked against real code as well.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from tests.xl_outputs import GOLDEN, golden_texts, model_outcomes, summary, write_configs

KINDS = ("configs", "disks", "hvm", "pairs", "nics", "edges", "whole")


@pytest.mark.parametrize("kind", KINDS)
def test_the_model_answers_as_the_real_xl_did(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    golden = json.loads(GOLDEN.read_text())
    texts = golden_texts()[kind]
    assert len(golden[kind]) == len(texts)
    fixed = uuid.UUID("00112233-4455-6677-8899-aabbccddeeff")
    monkeypatch.setattr(uuid, "uuid4", lambda: fixed)
    got = [summary(o, model=True) for o in model_outcomes(write_configs(tmp_path, texts, kind[0]))]
    bad = [
        f"{kind[0]}{i:04d}.cfg: {texts[i]!r}\n real  {want}\n model {mine}"
        for i, (want, mine) in enumerate(zip(golden[kind], got, strict=True))
        if want != mine
    ]
    assert bad == [], f"{len(bad)} of {len(texts)} disagree:\n" + "\n".join(bad[:5])


def test_the_golden_answers_reach_every_outcome() -> None:
    # Worth something only if the real xl accepted, warned and refused among them.
    golden = json.loads(GOLDEN.read_text())
    rows = [row for kind in KINDS for row in golden[kind]]
    assert {row[0] for row in rows} == {0, 1, 2, 3}  # 2: the disk scanner jammed
    assert any("warning:" in row[2] for row in rows)
    assert any("disk specification" in row[2] for row in rows)
    assert len({row[1] for row in rows}) > 300  # many distinct documents
