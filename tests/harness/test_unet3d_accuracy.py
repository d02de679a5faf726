"""3d-unet DICE scoring on hand-made masks and hand-written accuracy logs."""

import json
import pickle
import re

import numpy as np
import pytest

from mlperf_harness import cli
from mlperf_harness.errors import UsageError
from mlperf_harness.workloads.unet3d import accuracy

CHECKER_DICE = r"Accuracy\:\s*mean\s*=\s*([\d\.]+).*"  # the submission checker's pattern


def masks():
    """Target: kidney 10 voxels, tumour 2. Prediction: 6 of the kidney voxels plus 4 elsewhere, the tumour exact.
    DICE kidney = 2*6/(10+10) = 0.6, tumour = 1.0, composite 0.8."""
    target = np.zeros((1, 128, 128, 128), np.uint8)
    pred = np.zeros_like(target)
    target[0, 0, 0, :10] = 1
    target[0, 5, 5, :2] = 2
    pred[0, 0, 0, :6] = 1
    pred[0, 9, 9, :4] = 1
    pred[0, 5, 5, :2] = 2
    return pred, target


def test_dice_of_known_masks():
    pred, target = masks()
    kidney, tumour = accuracy.dice(pred, target)
    assert kidney == pytest.approx(0.6, abs=1e-7)  # the 1e-6 smoothing terms
    assert tumour == pytest.approx(1.0, abs=1e-7)


def test_dice_of_empty_classes_is_one():
    empty = np.zeros((4, 4, 4), np.uint8)
    assert accuracy.dice(empty, empty) == (1.0, 1.0)


def write_preprocessed(d, labels):
    d.mkdir(parents=True, exist_ok=True)
    names = [f"case_{k:05d}" for k in range(len(labels))]
    for name, label in zip(names, labels, strict=True):
        with open(d / f"{name}.pkl", "wb") as f:
            pickle.dump([np.zeros(label.shape, np.float32), label], f)
    info = {"file_list": names, "cases": {n: {"image_shape": lab.shape} for n, lab in zip(names, labels, strict=True)}}
    with open(d / "preprocessed_files.pkl", "wb") as f:
        pickle.dump(info, f)
    return names


def write_log(path, preds, dup: bool = False):
    entries = [{"seq_id": i, "qsl_idx": i, "data": p.tobytes().hex().upper()} for i, p in enumerate(preds)]
    if dup:
        entries.append({"seq_id": 99, "qsl_idx": 0, "data": np.zeros_like(preds[0]).tobytes().hex()})
    path.write_text(json.dumps(entries))


def test_accuracy_command_prints_the_reference_line(tmp_path, capsys):
    pred, target = masks()
    # second case: everything right but no tumour in either -> kidney 1, tumour 1 (both empty)
    t2 = np.zeros_like(target)
    t2[0, 1, 1, :3] = 1
    write_preprocessed(tmp_path / "pre", [target, t2])
    write_log(tmp_path / "acc.json", [pred, t2.copy()], dup=True)
    rc = cli.main(
        [
            "accuracy",
            "--model",
            "3d-unet-99",
            "--mlperf-accuracy-file",
            str(tmp_path / "acc.json"),
            "--dataset-dir",
            str(tmp_path / "pre"),
            "--output",
            str(tmp_path / "accuracy.txt"),
        ]
    )
    assert rc == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    # means over the two cases: kidney (0.6+1)/2, tumour (1+1)/2, composite (0.8+1)/2
    assert line == "Accuracy: mean = 0.90000, kidney = 0.8000, tumor = 1.0000"
    assert float(re.match(CHECKER_DICE, line).group(1)) == pytest.approx(0.9)
    assert (tmp_path / "accuracy.txt").read_text().strip() == line


def test_accuracy_rejects_a_log_of_the_wrong_size(tmp_path):
    _, target = masks()
    write_preprocessed(tmp_path / "pre", [target])
    write_log(tmp_path / "acc.json", [np.zeros(100, np.uint8)])
    with pytest.raises(UsageError, match=r"case_00000 has 100 bytes"):
        accuracy.score(tmp_path / "acc.json", tmp_path / "pre")


def test_accuracy_cli_bad_input_is_one_line_exit_2(tmp_path, capsys):
    rc = cli.main(
        ["accuracy", "--model", "3d-unet-99.9", "--mlperf-accuracy-file", str(tmp_path / "none.json"),
         "--dataset-dir", str(tmp_path)]
    )  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert len(err.splitlines()) == 1 and "preprocessed_files.pkl does not exist" in err
