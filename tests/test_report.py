"""`mlperfctl report`: the official summary's columns and value rules per round, the self-contained page
loaded in headless chromium (every plot rendered, no console error), two trees side by side, bad input."""

import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import mlperf_rules
from mlperfctl import report, submission
from mlperfctl.errors import UserError
from mlperfctl.submission.mllog import MLLog
from tests.test_submission import SYSTEM, run_tiny_sut, runs, set_mllog, system_json  # noqa: F401 (runs)
from tests.test_submission import write as write_tree

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "out" / "test-artifacts"
DATA = Path(__file__).parent / "data"

# The official checker's --csv header, transcribed (not imported) from mlcommons/inference:
# v6.x: tools/submission/submission_checker/results.py, ResultExporter.head, commit
#       b66003e10e2db4b8c36a448b0545ec90fcc6e9e9
OFFICIAL_V6 = ("Organization,Availability,Division,SystemType,SystemName,Platform,Model,MlperfModel,Scenario,Result,"
               "Accuracy,number_of_nodes,host_processor_model_name,host_processors_per_node,host_processor_core_count,"
               "accelerator_model_name,accelerators_per_node,total_accelerators,Location,framework,operating_system,"
               "notes,compliance,errors,version,inferred,has_power,Units,weight_data_types,design_power_watts,"
               "PrivateID")
# v4.x/v5.x: tools/submission/submission_checker.py, check_results_dir's head, tag v5.1
#       (commit 75f297d44c5e68d24a2f7643fe1eb11e49313238)
OFFICIAL_V5 = ("Organization,Availability,Division,SystemType,SystemName,Platform,Model,MlperfModel,Scenario,Result,"
               "Accuracy,number_of_nodes,host_processor_model_name,host_processors_per_node,host_processor_core_count,"
               "accelerator_model_name,accelerators_per_node,Location,framework,operating_system,notes,compliance,"
               "errors,version,inferred,has_power,Units,weight_data_types")


LEDGER = {"cell": "python-onnxruntime-cpu-resnet50", "exit_status": 0,
          "runs": [{"mode": "performance", "peak_rss_mib": 321.5}, {"mode": "accuracy", "peak_rss_mib": 123.0}]}


@pytest.fixture(scope="module")
def llm_run(tmp_path_factory):
    """A real tiny-LoadGen llama2-70b Server performance run (token latencies logged): 100 queries, as an
    audit.config that sets min_query_count and min_duration makes it."""
    base = tmp_path_factory.mktemp("llm")
    conf, audit, out = base / "user.conf", base / "audit.config", base / "server"
    conf.write_text("llama2-70b.Server.target_qps = 200\n")
    # no sample concatenation: else LoadGen rounds the 100 queries up to the 24576-sample set (2 minutes)
    audit.write_text("*.*.mode = 2\n*.*.min_query_count = 100\n*.*.min_duration = 0\n"
                     "*.*.sample_concatenate_permutation = 0\n")
    subprocess.run([sys.executable, str(DATA / "tiny_llm_sut.py"), str(out), str(conf), "--scenario", "Server",
                    "--audit-config", str(audit)], check=True)
    shutil.copy(conf, out / "user.conf")  # as the harness leaves it beside the logs
    return out


@pytest.fixture(scope="module")
def trees(tmp_path_factory, runs, llm_run):  # noqa: F811 (the imported fixture)
    """A valid v6.1 tree (truncated), the same with the 200 ms run (invalid), a v5.1 tree, and a v6.1 tree
    with the resnet50 result and a llama2-70b-99.9 Server one."""
    base = tmp_path_factory.mktemp("trees")
    good, short, v51, mixed = base / "good", base / "short", base / "v51", base / "mixed"
    write_tree(good, runs, ledger=LEDGER)
    submission.truncate_accuracy_logs(good, base / "backup-good")
    write_tree(short, runs, perf="short")
    write_tree(v51, runs, version="v5.1")
    write_tree(mixed, runs, ledger=LEDGER)
    llm = submission.ResultSet(
        model="llama2-70b-99.9", scenario="Server", performance_dir=llm_run, accuracy_dir=None,
        measurements=submission.measurements_for("llama2-70b-99.9", "fp8", "llama2-70b"),
        readme="# llama2-70b-99.9 Server\n\n    mlperfctl run --model llama2-70b-99.9\n", ledger={"exit_status": 0})
    submission.write_results(mixed, division="open", submitter="acme", system_name=SYSTEM,
                             system_json=system_json("open"), results=[llm], src_dir=runs["src"],
                             rnd=mlperf_rules.get_round("v6.1"))
    return {"good": good, "short": short, "v51": v51, "mixed": mixed}


def detail(tree: Path, layout_version="v6.1") -> MLLog:
    lay = mlperf_rules.get_round(layout_version).layout
    return MLLog(tree / "open" / "acme" / lay.perf_run_dir(SYSTEM, "resnet50", "Offline") / "mlperf_log_detail.txt")


def test_v61_summary_has_the_official_columns_and_values(trees, tmp_path):
    out = tmp_path / "rep"
    written = report.build([trees["good"]], out, mlperf_rules.get_round("v6.1"))
    text = (out / "summary.csv").read_text()
    header, line = text.splitlines()
    assert header == OFFICIAL_V6 == ",".join(report.COLUMNS_V6)  # the header bare, as results.py writes it
    assert line.startswith('"acme","available","open",') and line.endswith('"fp32","",""')  # every value quoted
    row = next(csv.DictReader(io.StringIO(text)))
    expected_result = float(detail(trees["good"]).get("result_samples_per_second"))
    assert row == {
        "Organization": "acme", "Availability": "available", "Division": "open", "SystemType": "edge",
        "SystemName": SYSTEM, "Platform": SYSTEM, "Model": "resnet50", "MlperfModel": "resnet",
        "Scenario": "Offline", "Result": str(expected_result), "Accuracy": "acc: 76.500", "number_of_nodes": "1",
        "host_processor_model_name": "Test CPU", "host_processors_per_node": "1",
        "host_processor_core_count": "2", "accelerator_model_name": "N/A", "accelerators_per_node": "0",
        "total_accelerators": "0", "Location": f"open/acme/results/{SYSTEM}/resnet50/Offline/performance/run_1",
        "framework": "onnxruntime 1.32.0", "operating_system": "Debian 12", "notes": "", "compliance": "open",
        "errors": "0", "version": "v6.1", "inferred": "0", "has_power": "False", "Units": "Samples/s",
        "weight_data_types": "fp32", "design_power_watts": "", "PrivateID": ""}
    assert json.loads((out / "summary.json").read_text()) == [
        {**row, "Result": expected_result, "errors": 0, "inferred": 0, "has_power": False, "total_accelerators": 0}]
    res = written["trees"][0]["results"][0]
    assert res["valid"] and not res["problems"]
    assert res["peak_rss_mib"] == {"performance": 321.5, "accuracy": 123.0}
    assert res["accuracy"] == [{"metric": "acc", "value": 76.5, "target": pytest.approx(76.46 * 0.99),
                                "upper": None, "ok": True}]
    assert set(res["latency_ms"]) == {"p50", "p90", "p95", "p97", "p99", "p99.9"}


def test_v51_summary_follows_the_v5_checker(trees, tmp_path):
    out = tmp_path / "rep"
    report.build([trees["v51"]], out, mlperf_rules.get_round("v5.1"))
    header, line = (out / "summary.csv").read_text().splitlines()
    assert header == OFFICIAL_V5 == ",".join(report.COLUMNS_V5)
    # bare values, the free-text ones quoted; Location is the scenario directory; compliance 1 in open
    result = float(detail(trees["v51"], "v5.1").get("result_samples_per_second"))
    assert line.startswith(f'acme,available,open,"edge","{SYSTEM}",{SYSTEM},resnet50,resnet,Offline,{result},'
                           'acc: 76.500,1,"Test CPU",1,2,"N/A","0",'
                           f'open/acme/results/{SYSTEM}/resnet50/Offline,"onnxruntime 1.32.0","Debian 12","",1,')
    assert line.endswith(',v5.1,0,False,Samples/s,"fp32"')


def test_an_invalid_result_counts_its_problems(trees, tmp_path):
    written = report.build([trees["short"]], tmp_path / "rep", mlperf_rules.get_round("v6.1"))
    res = written["trees"][0]["results"][0]
    assert not res["valid"]
    assert any("min_duration is 200 ms" in p for p in res["problems"])
    assert res["summary"]["errors"] == len(res["problems"]) > 0


def chromium() -> str | None:
    return shutil.which("chromium")


@pytest.mark.skipif(chromium() is None, reason="Debian's chromium is not installed (scripts/browser-setup.sh, "
                                               "run by `make setup`, installs it)")
def test_the_page_renders_every_plot_in_headless_chromium(trees, tmp_path):
    out = tmp_path / "rep"
    report.build([trees["mixed"], trees["short"]], out, mlperf_rules.get_round("v6.1"))
    page = out / "report.html"
    text = page.read_text()
    assert "<script src" not in text and "<link" not in text  # nothing to fetch at view time
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "report.png"
    shot.unlink(missing_ok=True)
    common = [chromium(), "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
              f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0",
              "--virtual-time-budget=15000"]
    dom = subprocess.run([*common, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120)
    console = [line for line in dom.stderr.splitlines() if ":CONSOLE" in line]
    assert not console, console
    # throughput, latency percentiles, LLM token latencies, memory: four plots, each drawn (plotly's svg)
    assert 'data-plots-rendered="4"' in dom.stdout, dom.stdout[-2000:]
    assert not re.search(r"<body[^>]*data-plot-error=", dom.stdout)
    assert all(f'id="plot-{k}"' in dom.stdout for k in ("throughput", "latency", "tokens", "memory"))
    assert dom.stdout.count('class="main-svg"') >= 4
    subprocess.run([*common, "--window-size=1280,2600", f"--screenshot={shot}", page.as_uri()],
                   capture_output=True, text=True, timeout=120, check=True)
    assert shot.stat().st_size > 20_000


def test_a_broken_plot_is_caught(trees, tmp_path):
    """The marker appears only when every plot rendered: a page whose plot data is broken gets none."""
    if chromium() is None:
        pytest.skip("Debian's chromium is not installed (scripts/browser-setup.sh, run by `make setup`)")
    out = tmp_path / "rep"
    report.build([trees["good"]], out, mlperf_rules.get_round("v6.1"))
    page = out / "report.html"
    page.write_text(page.read_text().replace('"id":"plot-latency"', '"id":"no-such-div"'))
    dom = subprocess.run([chromium(), "--headless=new", "--no-sandbox", "--disable-gpu",
                          f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0",
                          "--virtual-time-budget=15000", "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=120)
    assert not re.search(r"<body[^>]*data-plots-rendered=", dom.stdout)
    assert re.search(r"<body[^>]*data-plot-error=", dom.stdout)
    assert any(":CONSOLE" in line for line in dom.stderr.splitlines())


def test_two_trees_side_by_side(trees, tmp_path):
    out = tmp_path / "rep"
    report.build([trees["good"], trees["short"]], out, mlperf_rules.get_round("v6.1"))
    page = (out / "report.html").read_text()
    good = json.loads((out / "summary.json").read_text())[0]["Result"]
    short = json.loads((out / "summary2.json").read_text())[0]["Result"]
    section = page[page.index('<h2 id=comparison>'):page.index("</table>", page.index('<h2 id=comparison>'))]
    assert "Result good" in section and "Result short" in section
    assert f"{good} Samples/s" in section and f"{short} Samples/s" in section
    assert ">valid<" in section and ">invalid<" in section


def cli(*args):
    return subprocess.run([sys.executable, "-m", "mlperfctl", *args], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_cli_json_and_files(trees, tmp_path):
    r = cli("report", str(trees["good"]), "-o", str(tmp_path / "rep"), "--json")
    assert r.returncode == 0, r.stderr
    written = json.loads(r.stdout)
    assert written["html"] == str(tmp_path / "rep" / "report.html")
    assert [t["csv"] for t in written["trees"]] == [str(tmp_path / "rep" / "summary.csv")]
    assert written["trees"][0]["results"][0]["summary"]["Model"] == "resnet50"


@pytest.mark.parametrize("case", ["not-a-dir", "not-a-tree", "no-parent", "out-is-a-file"])
def test_bad_input_is_one_line_and_exit_2(trees, tmp_path, case):
    tree, out = str(trees["good"]), tmp_path / "rep"
    expected = {"not-a-dir": "missing: not a directory", "not-a-tree": "not a submission tree",
                "no-parent": "does not exist; create it", "out-is-a-file": "is not a directory"}[case]
    if case == "not-a-dir":
        tree = str(tmp_path / "missing")
    elif case == "not-a-tree":
        (tmp_path / "plain").mkdir()
        tree = str(tmp_path / "plain")
    elif case == "no-parent":
        out = tmp_path / "nope" / "rep"
    else:
        out.write_text("x")
    r = cli("report", tree, "-o", str(out))
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], r.stderr
    assert not (out / "report.html").exists()


def test_unwritable_output_is_a_user_error(trees, tmp_path, monkeypatch):
    monkeypatch.setattr(os, "access", lambda *a, **k: False)  # root ignores modes; stand in for a read-only dir
    with pytest.raises(UserError, match="is not writable"):
        report.build([trees["good"]], tmp_path / "rep", mlperf_rules.get_round("v6.1"))


def test_llm_result_tokens_against_the_rounds_limits(trees, tmp_path, llm_run):
    rnd = mlperf_rules.get_round("v6.1")
    written = report.build([trees["mixed"]], tmp_path / "rep", rnd)
    res = next(r for r in written["trees"][0]["results"] if r["summary"]["Model"] == "llama2-70b-99.9")
    log = MLLog(llm_run / "mlperf_log_detail.txt")
    bench = rnd.benchmark("llama2-70b-99.9")
    ttft_limit, tpot_limit = bench.token_latency_ms.get("Server") or bench.token_latency_ms["*"]
    assert res["tokens"] == {"ttft_p99_ms": log.get("result_first_token_99.00_percentile_latency_ns") / 1e6,
                             "tpot_p99_ms": log.get("result_time_per_output_token_99.00_percentile_ns") / 1e6,
                             "ttft_limit_ms": ttft_limit, "tpot_limit_ms": tpot_limit}
    row = res["summary"]
    assert row["Units"] == "Tokens/s" and row["MlperfModel"] == "llama2-70b-99.9"
    assert row["Result"] == float(log.get(rnd.result_field("llama2-70b-99.9", "Server")))
    # results.py's rule: inferred when the directory's scenario differs from LoadGen's (here both Server)
    assert row["inferred"] == 0
