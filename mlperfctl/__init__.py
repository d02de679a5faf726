"""mlperfctl: container-first build-and-run system for MLPerf Inference."""

__version__ = "0.1.0"
