"""Command line: run, accuracy (aliases accuracy-imagenet, accuracy-coco, accuracy-llm), prepare (alias for
3d-unet: preprocess), demo-data, info.
Exit 0 ok, 2 bad input (one line), 1 otherwise."""

import argparse
import json
import sys
from pathlib import Path

from . import workloads
from .errors import UsageError

# model -> "module:function" of its `preprocess` command (the workloads whose raw data needs one)
PREPROCESSORS = {
    "3d-unet-99": "mlperf_harness.workloads.unet3d.preprocess:command",
    "3d-unet-99.9": "mlperf_harness.workloads.unet3d.preprocess:command",
}


class _Parser(argparse.ArgumentParser):
    """argparse that reports bad input as a UsageError instead of printing usage and exiting."""

    def error(self, message: str):
        raise UsageError(message, f"see `python -m mlperf_harness {self.prog.split()[-1]} --help`")


def _readable(root: Path) -> None:
    """Demo assets readable by everyone: the containers run as their own non-root user, and some
    writers (safetensors) create owner-only files."""
    for path in [root, *root.rglob("*")]:
        path.chmod(path.stat().st_mode | (0o555 if path.is_dir() else 0o444))


def _imagenet_options(p, alias: bool) -> None:
    p.add_argument("--imagenet-val-file", required=alias, help="the dataset's val_map.txt")
    p.add_argument(
        "--dtype",
        choices=("float32", "int32", "int64"),
        help="the log's data type (default: resnet50 float32, rnnt int64)",
    )


def _coco_options(p) -> None:
    p.add_argument("--clip-model", help="HF CLIP model dir (default: DATASET_DIR/clip)")
    p.add_argument("--inception-weights", help="FID Inception state dict (default: DATASET_DIR/inception/...)")
    p.add_argument("--statistics-path", help="FID statistics .npz (default: DATASET_DIR/statistics/val2014.npz)")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"))


def _version_option(p) -> None:
    p.add_argument(
        "--version", metavar="ROUND",
        help="the MLPerf round (e.g. v6.1) whose rules judge accuracy (default: the model's newest closed round)",
    )  # fmt: skip


def _parser() -> argparse.ArgumentParser:
    from .loadgen.settings import EXECUTION_MODES, MODES, SCENARIOS

    models = workloads.names()
    llm_models = [m for m in models if workloads.get(m).family == "llm"]
    p = _Parser(prog="mlperf_harness", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    r = sub.add_parser("run", help="run one LoadGen test")
    r.add_argument("--model", required=True, choices=models)
    r.add_argument("--backend", required=True, choices=workloads.BACKENDS)
    r.add_argument("--device", required=True, choices=workloads.DEVICES)
    r.add_argument("--scenario", required=True, choices=SCENARIOS)
    r.add_argument("--mode", required=True, choices=MODES)
    r.add_argument("--execution-mode", required=True, choices=EXECUTION_MODES)
    r.add_argument("--dataset-dir", required=True, help="the dataset folder (resnet50: with val_map.txt)")
    r.add_argument("--model-path", required=True, help="model file or checkpoint folder (.onnx, .pth, HF dir)")
    r.add_argument("--output-dir", required=True, help="LoadGen logs, user.conf, result.json go here")
    r.add_argument("--cache-dir", help="preprocessed .npy cache (default: OUTPUT_DIR/cache)")
    r.add_argument("--precision", default="fp32")
    r.add_argument("--target-qps", type=float, help="Offline expected / Server target queries per second")
    r.add_argument("--target-latency", type=float, help="ms: SingleStream/MultiStream expected, Server bound")
    r.add_argument("--threads", type=int, help="intra-op threads (default: all usable cores)")
    r.add_argument("--max-batchsize", type=int, help="samples per inference call (default: 8 on CPU, 32 on GPU)")
    r.add_argument("--count", type=int, help="dataset samples to use (QSL total count)")
    r.add_argument(
        "--performance-sample-count", "--samples", dest="performance_sample_count", type=int,
        help="LoadGen's performance sample count override (valid runs: at least the round's)",
    )  # fmt: skip
    r.add_argument(
        "--test-query-count", type=int, help="min query count (Offline: samples) in test/fast execution mode"
    )
    r.add_argument("--audit-config", help="compliance audit.config to run with")
    r.add_argument("--tensor-parallel", type=int,
                   help="vllm: GPUs the model is split over (default: every GPU the run was given; cpu: 1)")
    _version_option(r)

    acc = sub.add_parser("accuracy", help="score an accuracy run's mlperf_log_accuracy.json for --model")
    acc.add_argument("--model", required=True, choices=models)
    acc.add_argument("--mlperf-accuracy-file", required=True)
    acc.add_argument("--dataset-dir", help="the dataset the run used")
    acc.add_argument("--model-path", help="LLMs: the checkpoint directory holding the tokenizer")
    acc.add_argument(
        "--dataset-file", help="LLMs: the dataset file itself, instead of --dataset-dir; rnnt: another manifest"
    )
    _imagenet_options(acc, alias=False)
    _coco_options(acc)
    acc.add_argument("--output", help="also write the accuracy.txt lines to this file (and print their verdict)")
    _version_option(acc)

    alias = sub.add_parser("accuracy-imagenet", help="= accuracy --model resnet50: top-1 accuracy")
    alias.add_argument("--mlperf-accuracy-file", required=True)
    _imagenet_options(alias, alias=True)
    alias.add_argument("--output", help="also write the result line to this file (and print its verdict)")
    _version_option(alias)
    alias.set_defaults(model="resnet50")

    coco = sub.add_parser("accuracy-coco", help="= accuracy --model sdxl: CLIP score and FID")
    coco.add_argument("--mlperf-accuracy-file", required=True)
    coco.add_argument("--dataset-dir", required=True, help="COCO-2014 subset dir with captions/captions.tsv")
    _coco_options(coco)
    coco.add_argument("--output", help="also write the accuracy.txt lines to this file (and print their verdict)")
    _version_option(coco)
    coco.set_defaults(model="sdxl")

    llm = sub.add_parser("accuracy-llm", help="= accuracy --model M: ROUGE (+ token counts) of an LLM run")
    llm.add_argument("--model", required=True, choices=llm_models)
    llm.add_argument("--mlperf-accuracy-file", required=True)
    llm.add_argument("--dataset-file", required=True, help="the OpenOrca pickle or cnn_eval.json")
    llm.add_argument("--model-path", required=True, help="checkpoint directory holding the tokenizer")
    llm.add_argument("--output", help="also write the result line to this file (and print its verdict)")
    _version_option(llm)

    pre = sub.add_parser(
        "preprocess", help="3d-unet: KiTS19 NIfTI -> the layout `run` reads (= prepare; --cases, --no-nifti)"
    )
    pre.add_argument("--model", required=True, choices=[m for m in models if m in PREPROCESSORS])
    pre.add_argument("--raw-data-dir", required=True, help="3d-unet: the KiTS19 data dir holding case_XXXXX/")
    pre.add_argument("--results-dir", required=True, help="where the preprocessed layout is written")
    pre.add_argument("--cases", nargs="*", help="case names (default: every case_* dir)")
    pre.add_argument("--no-nifti", action="store_true", help="skip the nifti/ copies of the preprocessed cases")

    prep = sub.add_parser("prepare", help="raw download -> the layout `run` reads (the workload's declared preparer)")
    prep.add_argument("--model", required=True, choices=models)
    prep.add_argument("--raw", required=True, help="the raw files (`mlperfctl get --dest`), read only")
    prep.add_argument("--dest", required=True, help="where the prepared layout is written")
    prep.add_argument("--checkpoint", action="store_true", help="prepare the model checkpoint, not the dataset")
    prep.add_argument("--count", type=int, help="prepare only the first N samples")

    d = sub.add_parser("demo-data", help="random-weight models and synthetic data for dev and tests")
    d.add_argument("dir")
    d.add_argument("--model", default="resnet50", choices=models)
    d.add_argument("--images", type=int, default=64, help="dataset samples to write")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument(
        "--backend",
        choices=workloads.BACKENDS,
        help="write only this backend's model file (and the data); default: the model's default files, without "
        "the TensorFlow frozen graphs (.pb), which only `--backend tf` writes (they need tensorflow, and resnet50's "
        "is ~100 MB)",
    )

    sub.add_parser("info", help="harness, LoadGen and framework versions as JSON")
    return p


def _accuracy(a) -> int:
    """The family's scorer, given the round (`a.round`); with --output, the verdict of the lines it wrote, on
    stderr (stdout stays the scorer's: the reference script's lines)."""
    from . import verdict

    a.round = verdict.choose(a.version, a.model)
    code = workloads.get(a.model).score(a)
    if code == 0 and a.output:
        print(verdict.line(verdict.judge(a.round, a.model, Path(a.output).read_text())), file=sys.stderr)
    return code


def _dispatch(a) -> int:
    if a.command == "run":
        from .run import run

        return run(a)
    if a.command in ("accuracy", "accuracy-imagenet", "accuracy-coco", "accuracy-llm"):
        return _accuracy(a)
    if a.command == "prepare":
        from .prepare import command

        return command(a)
    if a.command == "preprocess":
        from .workloads.base import load

        return load(PREPROCESSORS[a.model])(a)
    if a.command == "demo-data":
        if a.images < 1:
            raise UsageError(f"--images {a.images} must be positive", "pass --images 1 or more")
        workloads.get(a.model).write_demo(Path(a.dir), a.images, a.seed, a.backend)
        _readable(Path(a.dir))
        return 0
    from .info import collect

    print(json.dumps(collect(), indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    try:
        return _dispatch(_parser().parse_args(argv))
    except UsageError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
