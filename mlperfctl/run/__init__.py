"""`mlperfctl run`: plan -> preflight -> containers -> results.

- `plan`: pick the cell, the scenarios, the modes and each scenario's target; every option
  combination is checked here, before anything starts;
- `preflight`: data, model, device and permissions, before any container starts;
- `container`: the harness command line and the neutral, hardened ContainerSpec;
- `results`: what a run leaves for the results table, the ledger and the README;
- `execute`: run one container per (scenario, mode) and write the submission tree.
"""
