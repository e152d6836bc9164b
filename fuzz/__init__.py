"""Coverage-guided fuzz harnesses (atheris); see docs/reliability.md for the commands."""
