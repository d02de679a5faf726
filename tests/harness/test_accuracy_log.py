"""The one reader of LoadGen's mlperf_log_accuracy.json that every workload's accuracy command uses."""

import pytest

from mlperf_harness.errors import UsageError
from mlperf_harness.loadgen.logs import first_responses, read_accuracy_log


@pytest.mark.parametrize(
    "text, needle",
    [
        (None, "does not exist"),
        ("[{", "is not valid JSON"),
        ('{"qsl_idx": 0, "data": "00"}', "is not a LoadGen accuracy log"),
        ('[{"qsl_idx": 0}]', "is not a LoadGen accuracy log"),
    ],
)
def test_bad_logs_are_one_line_naming_the_file(tmp_path, text, needle):
    log = tmp_path / "mlperf_log_accuracy.json"
    if text is not None:
        log.write_text(text)
    with pytest.raises(UsageError) as e:
        read_accuracy_log(log)
    assert needle in str(e.value) and str(log) in str(e.value) and "\n" not in str(e.value)


def test_first_response_per_sample_wins_in_log_order(tmp_path):
    log = tmp_path / "log.json"
    log.write_text('[{"seq_id": 0, "qsl_idx": 3, "data": "0a"}, {"seq_id": 1, "qsl_idx": 1, "data": "0b"},'
                   ' {"seq_id": 2, "qsl_idx": 3, "data": "ff"}]')
    assert list(first_responses(read_accuracy_log(log)).items()) == [(3, b"\x0a"), (1, b"\x0b")]
