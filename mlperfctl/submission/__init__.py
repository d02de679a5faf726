"""The submission tree: change it all or nothing under its lock (transaction), write harness results into
it (writer), probe the system description (sysinfo), truncate accuracy logs and package the tree (archive),
read LoadGen logs (mllog), and check it against a round's rules (check/).
Every round fact comes from the rulebook, mlperf_rules."""

from . import sysinfo
from .archive import accuracy_dirs, package, truncate_accuracy_logs
from .mllog import MLLog
from .transaction import LOCK_NAME, STAGING_PREFIX, Transaction, tree_lock
from .writer import (
    DIVISIONS,
    MODES,
    ResultSet,
    check_name,
    check_version,
    existing_results,
    measurements_for,
    refuse_existing,
    write_results,
)

__all__ = [
    "DIVISIONS", "LOCK_NAME", "MODES", "STAGING_PREFIX", "MLLog", "ResultSet", "Transaction", "accuracy_dirs",
    "check_name", "check_version", "existing_results", "measurements_for", "package", "refuse_existing", "sysinfo",
    "tree_lock", "truncate_accuracy_logs", "write_results",
]
