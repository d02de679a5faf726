"""`mlperfctl run` and `mlperfctl demo-data`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from .. import matrix as matrix_mod
from ..errors import UserError
from ..models import demo_run_command
from ..options import build_options, run_options
from ..run import execute as run_execute
from ..run import findperf
from ..run import submission_flow as flow
from ..run.session import Overhead
from . import launch_commands
from .build_commands import CaOpt, EngineNameOpt, EngineOpt, RegistryOpt, RichReporter, WheelDirOpt
from .common import BaseOpt, MatrixOpt, err, out

Opt = typer.Option


def run(
    model: Annotated[str, Opt("--model", "-m", help="The benchmark: resnet50, sdxl, llama2-70b-99, ...")],
    scenario: Annotated[str | None, Opt(help="Offline, Server, Interactive (a Server run with the round's tighter "
                                             "LLM token latencies), SingleStream, MultiStream, or all (every "
                                             "scenario the round's rulebook lists for the category; default: "
                                             "Offline, all with --submission).")] = None,
    mode: Annotated[str, Opt(help="performance, accuracy, or all.")] = "all",
    execution_mode: Annotated[str, Opt(help="test (seconds, smoke), fast (shortened) or valid "
                                            "(the round's official durations).")] = "test",
    device: Annotated[str | None, Opt("--device", "-d", help="cpu, cuda or rocm (default: detected).")] = None,
    backend: Annotated[str | None, Opt("--backend", "-b", help="Default: the model's first backend.")] = None,
    implementation: Annotated[str | None, Opt("--implementation", "-i",
                                              help="Default: the built-in harness.")] = None,
    precision: Annotated[str | None, Opt(help="Default: the model's first precision (fp32).")] = None,
    dataset_dir: Annotated[Path | None, Opt(help="The dataset folder, mounted read-only.")] = None,
    model_path: Annotated[Path | None, Opt(help="The model file, or a folder holding it (in it or one level below), "
                                                "mounted read-only.")] = None,
    submission_dir: Annotated[Path, Opt(help="Root of the MLPerf submission tree.")] = Path("mlperf-submission"),
    division: Annotated[str, Opt(help="open or closed.")] = "open",
    category: Annotated[str, Opt(help="edge, datacenter or datacenter,edge (the system_type).")] = "edge",
    submitter: Annotated[str, Opt(help="Your organisation's name.")] = "mlperfctl",
    system_name: Annotated[str | None, Opt(
        help="Default: <host>_<device>_<backend>. Refused when the tree describes another system under it.")] = None,
    system_json: Annotated[Path | None, Opt(help="JSON file whose fields override the host probe.")] = None,
    version: Annotated[str | None, Opt(help="Submission round (its rules and tree layout), v6.1 ... v4.0. "
                                            "Default: the newest round in which the model is a closed "
                                            "benchmark (rnnt: v4.0, gptj-99: v5.0).")] = None,
    target_qps: Annotated[float | None, Opt(help="Target QPS for Offline, Server and Interactive (user.conf), "
                                                 "unless their own option is given.")] = None,
    target_latency: Annotated[float | None, Opt(help="Target latency (ms) for SingleStream and MultiStream, "
                                                     "unless their own option is given.")] = None,
    offline_target_qps: Annotated[float | None, Opt(help="Offline's target QPS (wins over --target-qps).")] = None,
    server_target_qps: Annotated[float | None, Opt(help="Server's target QPS (wins over --target-qps).")] = None,
    interactive_target_qps: Annotated[float | None, Opt(
        help="Interactive's target QPS (wins over --target-qps).")] = None,
    singlestream_target_latency: Annotated[float | None, Opt(
        help="SingleStream's target latency in ms (wins over --target-latency).")] = None,
    multistream_target_latency: Annotated[float | None, Opt(
        help="MultiStream's target latency in ms (wins over --target-latency).")] = None,
    performance_sample_count: Annotated[int | None, Opt(
        help="LoadGen's performance sample count (samples held in memory), passed to the harness.")] = None,
    test_query_count: Annotated[int | None, Opt(
        help="LoadGen's test query count, passed to the harness.")] = None,
    threads: Annotated[int | None, Opt(help="Inference threads (default: the harness's choice).")] = None,
    batch_size: Annotated[int | None, Opt(help="Maximum batch size.")] = None,
    tensor_parallel: Annotated[int | None, Opt(
        help="vllm: GPUs the model is split over (default: every GPU the run is given; cpu: 1).")] = None,
    count: Annotated[int | None, Opt(help="Use only this many dataset samples.")] = None,
    gpus: Annotated[int | None, Opt(
        help="GPUs each run gets, cuda/rocm cells (default: all): a docker device request or podman CDI devices "
             "0..N-1, HIP_VISIBLE_DEVICES for rocm, Slurm --gres=gpu:N.")] = None,
    cache_dir: Annotated[Path | None, Opt(help="Writable cache for preprocessed data (default: "
                                               "~/.cache/mlperfctl/preprocessed).")] = None,
    find_performance: Annotated[bool, Opt(
        "--find-performance",
        help="Measure the targets of the scenarios given none, with short test-mode runs: Offline's QPS from an "
             "Offline run; Server's by a search from the Offline rate down (halving, then bisecting) to the highest "
             f"QPS meeting the round's latency bound (and TTFT/TPOT for LLMs), at most {findperf.MAX_SERVER_PROBES} "
             "Server probes; SingleStream/MultiStream latency from the 90th/99th percentile. Measured targets are "
             "cached per cell and system and reused by later runs; this option measures again. Server without a "
             "target is measured (or taken from the cache) even without it.")] = False,
    force: Annotated[bool, Opt(help="Replace an existing result (the old one is kept until the new "
                                    "one is in).")] = False,
    base_image: BaseOpt = None,
    ca_cert: CaOpt = None,
    registry: RegistryOpt = None,
    engine: EngineNameOpt = None, engine_url: EngineOpt = None,
    wheel_dir: WheelDirOpt = None,
    matrix: MatrixOpt = None,
    submission_flow: Annotated[bool, Opt(
        "--submission", help="The whole submission: every scenario the round lists for the category (or --scenario), "
                             "performance, accuracy, the round's "
                             "compliance tests (closed), truncation, check and package; resumes from the "
                             "ledger.")] = False,
    results_dir: Annotated[Path | None, Opt(help="Raw LoadGen outputs, each run's console.log beside them (and with "
                                                 "--submission the run ledger), outside the tree (default: "
                                                 "<submission-dir>-raw beside it).")] = None,
    compliance_retries: Annotated[int, Opt(help="--submission: extra attempts for an INVALID compliance run "
                                                "(valid mode; never TEST06).")] = 1,
    compliance_server_qps_reduction: Annotated[float, Opt(
        help="--submission: run the Server compliance tests this many percent below the Server target QPS "
             f"(0 to below {flow.MAX_COMPLIANCE_QPS_REDUCTION:g}: TEST01's performance check accepts a compliance "
             "run within 10% of the performance run).")] = 0.0,
    skip_dataset_size_check: Annotated[bool, Opt(
        "--skip-dataset-size-check",
        help="--submission: the check accepts accuracy runs on a dataset subset.")] = False,
    rerun: Annotated[list[str] | None, Opt(
        help="--submission: run this piece again although the ledger holds it: <Scenario>/<piece> (performance, "
             "accuracy, TEST01, ...) or <Scenario> for all of its pieces; repeatable. E.g. after a compliance "
             "performance check failed on a busy machine.")] = None,
    as_json: Annotated[bool, Opt("--json", help="Print the summary as JSON.")] = False,
    launcher: launch_commands.LauncherOpt = "local",
    partition: launch_commands.PartitionOpt = None,
    nodes: launch_commands.NodesOpt = None,
    bundle: launch_commands.BundleOpt = None,
    no_wait: launch_commands.NoWaitOpt = False,
):
    """Run an MLPerf benchmark in its container and write the results into the submission tree."""
    lm = matrix_mod.load(matrix)
    opts = run_options(
        model=model, scenario=scenario or ("all" if submission_flow else "Offline"), mode=mode,
        execution_mode=execution_mode,
        implementation=implementation, backend=backend, device=device, precision=precision,
        dataset_dir=dataset_dir, model_path=model_path, submission_dir=submission_dir,
        division=division, category=category, submitter=submitter, system_name=system_name,
        version=version, target_qps=target_qps, target_latency=target_latency,
        offline_target_qps=offline_target_qps, server_target_qps=server_target_qps,
        interactive_target_qps=interactive_target_qps,
        singlestream_target_latency=singlestream_target_latency,
        multistream_target_latency=multistream_target_latency,
        performance_sample_count=performance_sample_count, test_query_count=test_query_count, threads=threads,
        batch_size=batch_size, tensor_parallel=tensor_parallel, count=count, gpus=gpus, force=force,
        find_performance=find_performance,
        system_json=system_json, cache_dir=cache_dir)
    build_opts = build_options(lm, base_image=base_image, ca_cert=ca_cert, registry=registry,
                               engine=engine, engine_url=engine_url, wheel_dir=wheel_dir, quiet=as_json)
    console = err if as_json else out
    if rerun and not submission_flow:
        raise UserError(f"--rerun {rerun[0]}: only with --submission (a run without it always runs; add "
                        f"--submission, or drop --rerun)")
    if launcher != "local":
        if submission_flow:
            raise UserError(f"--submission with --launcher {launcher} is not supported yet: run --submission "
                            f"locally, or submit each scenario with --launcher {launcher} and no --submission")
        if results_dir is not None:
            raise UserError(f"--results-dir with --launcher {launcher} is not supported yet: each job keeps its raw "
                            f"outputs beside the tree, in <submission-dir>-raw (drop --results-dir)")
        launch_commands.launch(lm, opts, build_opts, launcher=launcher, partition=partition, nodes=nodes,
                               bundle=bundle, no_wait=no_wait, as_json=as_json, console=console)
        return

    def log_line(tag: str, line: str) -> None:
        console.print(f"[dim]{tag:>22} |[/dim] {escape(line)}", highlight=False)

    if submission_flow:
        sopts = flow.SubmissionOptions(results_dir=results_dir, compliance_retries=compliance_retries,
                                       skip_dataset_size_check=skip_dataset_size_check,
                                       compliance_server_qps_reduction=compliance_server_qps_reduction,
                                       rerun=tuple(rerun or ()))
        summary = flow.execute_submission(lm, opts, build_opts, sopts, console=console, log_line=log_line,
                                          reporter=RichReporter(quiet=as_json))
        _submission_report(summary, as_json)
        return
    summary = run_execute.execute(lm, opts, build_opts, console=console, log_line=log_line,
                                  reporter=RichReporter(quiet=as_json), results_dir=results_dir)
    if as_json:
        print(json.dumps(summary, indent=2))
        return
    table = Table(title=f"{summary['cell']} on {summary['system']}")
    for col in ("scenario", "mode", "result", "validity", "accuracy", "seconds"):
        table.add_column(col)
    for r in summary["results"]:
        metric = r.get("metric") or {}
        result = f"{metric.get('value', '')} {metric.get('unit', '')}".strip() if isinstance(metric, dict) \
            else str(metric)
        table.add_row(r["scenario"], r["mode"], result if r["mode"] == "performance" else "",
                      str(r.get("result_validity", "")), r.get("accuracy", ""), str(r["seconds"]))
    out.print(table)
    out.print(f"time: {Overhead.line(summary['overhead'])}", highlight=False)
    out.print(f"raw outputs and console logs: {summary['results_dir']}", highlight=False)
    out.print(f"submission tree: {summary['submission_dir']}", highlight=False)


def _submission_report(summary: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(summary, indent=2))
    else:
        tests = sorted({t for r in summary["scenarios"] for t in r["compliance"]})
        table = Table(title=f"{summary['cell']} on {summary['system']} ({summary['division']} {summary['version']})")
        for col in ("scenario", "result", "validity", "accuracy", "target", *tests):
            table.add_column(col)
        for r in summary["scenarios"]:
            meets = "" if not r["accuracy"] else ("[green]meets[/]" if r["accuracy_meets_target"] else "[red]below[/]")
            table.add_row(r["scenario"], r["result"], str(r["validity"]), escape(r["accuracy"]),
                          f"{meets} {escape(r['accuracy_target'])}".strip(),
                          *[escape(r["compliance"].get(t, "")) for t in tests])
        out.print(table)
        check = summary["check"]
        out.print(f"pieces run {summary['pieces_run']}, reused {summary['pieces_reused']}; raw outputs and ledger in "
                  f"{summary['results_dir']}", highlight=False)
        out.print(f"submission check: {'ok' if check['ok'] else str(len(check['problems'])) + ' problem(s)'}",
                  highlight=False)
        for problem in check["problems"][:20]:
            out.print(f"  {problem}", highlight=False, markup=False)
        out.print(f"time: {Overhead.line(summary['overhead'])}", highlight=False)
        for hint in summary.get("hints", []):
            out.print(f"hint: {hint}", highlight=False, markup=False)
        out.print(f"submission tree: {summary['submission_dir']}"
                  + (f"  archive: {summary['archive']}" if summary["archive"] else ""), highlight=False)


def demo_data(
    directory: Annotated[Path, typer.Argument(help="Where to write models/ and datasets/.")],
    model: Annotated[str, Opt("--model", "-m", help="The benchmark whose demo assets to write.")] = "resnet50",
    images: Annotated[int, Opt(help="How many dataset samples (images, prompts, articles).")] = 64,
    seed: Annotated[int, Opt(help="Seed for the weights and images.")] = 0,
    backend: Annotated[str | None, Opt("--backend", "-b", help=(
        "Write only this backend's model file (and the data), e.g. `--backend tf` for the TensorFlow "
        "frozen graph (.pb), which is written only when asked for; default: the model's default files."))] = None,
):
    """Write demo assets: the model's real architecture with seeded random weights and a small
    synthetic dataset, in the on-disk formats real users mount (accuracy is meaningless)."""
    cmd = [sys.executable, "-m", "mlperf_harness", "demo-data", str(directory), "--model", model,
           "--images", str(images), "--seed", str(seed)] + (["--backend", backend] if backend else [])
    code = subprocess.call(cmd)
    if code == 2:  # bad input: the harness said so in one line
        raise typer.Exit(2)
    if code:
        raise UserError(f"demo data generation failed (exit code {code})")
    out.print(f"next: {demo_run_command(directory, model, backend)}", highlight=False, markup=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add these commands to the main app."""
    app.command()(run)
    app.command("demo-data")(demo_data)
