"""Guest behaviour: seeded, deterministic workloads that drive the model (layer 4)."""
