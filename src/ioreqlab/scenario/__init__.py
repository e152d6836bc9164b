"""Scenarios: what to build and run (spec), how (runner), and the built-in one."""

from ioreqlab.scenario.builtin import XENGT_BDW
from ioreqlab.scenario.runner import DesignResult, Sample, run_design, run_scenario
from ioreqlab.scenario.spec import Scenario, ScenarioError, load_scenario

__all__ = [
    "XENGT_BDW",
    "DesignResult",
    "Sample",
    "Scenario",
    "ScenarioError",
    "load_scenario",
    "run_design",
    "run_scenario",
]
