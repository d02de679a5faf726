"""Tests of the in-container harness (mlperf_harness)."""
