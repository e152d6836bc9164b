"""atheris harness: the xl.cfg parser and the scenario loader on arbitrary text.

    .venv/bin/python fuzz/fuzz_xlcfg.py -atheris_runs=500000

The property: only the parser's own error type (XlCfgError / ScenarioError),
every message located, never anything else.
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    from ioreqlab.scenario import ScenarioError, load_scenario
    from ioreqlab.toolstack import XlCfgError, format_xl_cfg, parse_xl_cfg


def test_one_input(data: bytes) -> None:
    text = data.decode("latin-1")
    try:
        cfg = parse_xl_cfg(text, "fuzz.cfg")
    except XlCfgError as err:
        assert all(m.startswith(("fuzz.cfg:", "warning:")) for m in err.messages)
    else:
        for name in cfg.settings:
            cfg.get_long(name)
            cfg.get_list(name)
        assert parse_xl_cfg(format_xl_cfg(cfg), "again") == cfg
    try:
        load_scenario(text, "fuzz.toml")
    except ScenarioError as err:
        assert "\n" not in str(err)


if __name__ == "__main__":
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
