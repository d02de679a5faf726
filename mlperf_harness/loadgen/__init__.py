"""What every workload shares around LoadGen: test settings and user.conf (settings), LoadGen's logs (logs),
the test lifecycle (lifecycle), the one worker pool and SUT/QSL wiring (pool) and the one run skeleton
(run) that calls a workload's hooks (mlperf_harness.workloads.base.Runner)."""
