"""In-container MLPerf Inference harness: LoadGen SUT/QSL wiring, backends and datasets."""

__version__ = "0.1.0"
