"""The round passed into the harness (`run --version`) and result.json's one accuracy verdict, judged by the run
skeleton for every family with the rules of the round asked for."""

import dataclasses
import json

import pytest

import mlperf_rules
from mlperf_harness import verdict
from mlperf_harness.cli import main
from mlperf_harness.errors import UsageError

from .conftest import harness


def test_unknown_version_is_one_line_and_exit_2(run_args, tmp_path):
    proc = harness(*run_args(mode="accuracy", version="v9.9"))
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "--version v9.9 is not a known MLPerf round" in lines[0]
    assert all(v in lines[0] for v in mlperf_rules.versions())
    assert not (tmp_path / "out").exists()  # refused before anything was written


def test_one_model_under_two_rounds_with_different_targets(run_args, tmp_path, monkeypatch, capsys):
    """resnet50 on the demo data (whose labels are the demo model's own answers: top-1 100%) run in accuracy mode
    under v6.1 and under a second round whose only difference is a top-1 target above 100: the verdict names each
    round, carries each round's target and passes only where the target allows it. (No two rounds of the rulebook
    give a model the harness runs different targets, so the second round is v6.1's rules with that one target
    changed.)"""
    v61 = mlperf_rules.get_round("v6.1")
    name = v61.canonical("resnet50")
    bench = v61.benchmarks[name]
    (top1,) = bench.accuracy
    lax = dataclasses.replace(bench, accuracy=(dataclasses.replace(top1, target=100.5),))
    monkeypatch.setitem(mlperf_rules.ROUNDS, "v0.9", dataclasses.replace(
        v61, version="v0.9", benchmarks={**v61.benchmarks, name: lax}))  # fmt: skip
    verdicts = {}
    for version in ("v6.1", "v0.9"):
        out = tmp_path / version
        assert main(run_args(mode="accuracy", version=version, output_dir=out)) == 0
        result = json.loads((out / "result.json").read_text())
        assert not any(k in result for k in ("accuracy_pass", "accuracy_targets_met"))
        verdicts[version] = result["accuracy_verdict"]
        assert capsys.readouterr().err.splitlines()[-2].startswith(f"accuracy verdict ({version}): {top1.key}=")
    real, strict = verdicts["v6.1"], verdicts["v0.9"]
    assert (real["round"], real["rules_round"]) == ("v6.1", "v6.1")
    assert (strict["round"], strict["rules_round"]) == ("v0.9", "v0.9")
    assert real["targets"] == [{"key": top1.key, "target": top1.target, "upper": None}]
    assert strict["targets"] == [{"key": top1.key, "target": 100.5, "upper": None}]
    assert real["values"] == strict["values"] == {top1.key: 100.0}
    assert real["pass"] is True and real["problems"] == []
    assert strict["pass"] is False and "below the target 100.5000" in strict["problems"][0]


def test_version_reaches_the_accuracy_command(run_args, demo, tmp_path):
    out = tmp_path / "out"
    assert harness(*run_args(mode="accuracy", version="v5.1")).returncode == 0
    assert json.loads((out / "result.json").read_text())["accuracy_verdict"]["round"] == "v5.1"
    proc = harness(
        "accuracy",
        "--model",
        "resnet50",
        "--mlperf-accuracy-file",
        out / "mlperf_log_accuracy.json",
        "--dataset-dir",
        demo / "datasets/imagenet",
        "--output",
        tmp_path / "acc.txt",
        "--version",
        "v5.1",
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stderr.splitlines()[-1] == "accuracy verdict (v5.1): acc=100.0 (>= 75.6954): PASS"
    assert proc.stdout.splitlines()[-1] == (out / "accuracy.txt").read_text().strip()  # stdout: the scorer's


def test_rules_round_and_models_without_rules():
    """gptj-99 under v6.1 is judged by v5.0's rules; a choice with no rules round gives no targets and pass None."""
    choice = verdict.choose("v6.1", "gptj-99")
    judged = verdict.judge(choice, "gptj-99", "{'rouge1': 1.0}")
    assert (judged["round"], judged["rules_round"]) == ("v6.1", "v5.0")
    assert judged["pass"] is False and {t["key"] for t in judged["targets"]} >= {"ROUGE1", "GEN_LEN"}
    assert "(rules of v5.0)" in verdict.line(judged)
    none = verdict.judge(dataclasses.replace(choice, rules=None), "gptj-99", "")
    assert (none["pass"], none["targets"], none["rules_round"]) == (None, [], None)
    assert verdict.line(none).endswith("no accuracy targets for this model")
    with pytest.raises(UsageError):
        verdict.choose("v1.0", "resnet50")
