"""Launchers: run a plan somewhere else than this host (Slurm)."""
