"""The submission tree: write harness results into it (writer), probe the system description (sysinfo),
truncate accuracy logs and package the tree (archive), read LoadGen logs (mllog), and check it against
a round's rules (check/). Every round fact comes from the rulebook, mlperf_rules."""

from . import sysinfo
from .archive import accuracy_dirs, package, truncate_accuracy_logs
from .mllog import MLLog
from .writer import (
    DIVISIONS,
    MODES,
    STAGING_PREFIX,
    ResultSet,
    check_name,
    check_version,
    existing_results,
    measurements_for,
    refuse_existing,
    write_results,
)

__all__ = [
    "DIVISIONS", "MODES", "STAGING_PREFIX", "MLLog", "ResultSet", "accuracy_dirs", "check_name", "check_version",
    "existing_results", "measurements_for", "package", "refuse_existing", "sysinfo", "truncate_accuracy_logs",
    "write_results",
]
