"""Command line: run, accuracy-imagenet, accuracy-coco, demo-data, info.
Exit 0 ok, 2 bad input (one line), 1 otherwise."""

import argparse
import json
import sys
from pathlib import Path

from .errors import UsageError

# model -> (its `run(args)`, its `demo-data` writer `write(dir, count, seed)`), as "module:function"
WORKLOADS = {
    "resnet50": ("mlperf_harness.run:run", "mlperf_harness.demo:write"),
    "sdxl": ("mlperf_harness.sdxl.run:run", "mlperf_harness.sdxl.demo:write"),
    "gptj-99": ("mlperf_harness.llm.run:run", "mlperf_harness.llm.demo:write_gptj"),
    "gptj-99.9": ("mlperf_harness.llm.run:run", "mlperf_harness.llm.demo:write_gptj"),
    "llama2-70b-99": ("mlperf_harness.llm.run:run", "mlperf_harness.llm.demo:write_llama2"),
    "llama2-70b-99.9": ("mlperf_harness.llm.run:run", "mlperf_harness.llm.demo:write_llama2"),
}


def _load(ref: str):
    import importlib

    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)


class _Parser(argparse.ArgumentParser):
    """argparse that reports bad input as a UsageError instead of printing usage and exiting."""

    def error(self, message: str):
        raise UsageError(message, f"see `python -m mlperf_harness {self.prog.split()[-1]} --help`")


def _readable(root: Path) -> None:
    """Demo assets readable by everyone: the containers run as their own non-root user, and some
    writers (safetensors) create owner-only files."""
    for path in [root, *root.rglob("*")]:
        path.chmod(path.stat().st_mode | (0o555 if path.is_dir() else 0o444))


def _parser() -> argparse.ArgumentParser:
    from .backends import BACKENDS, DEVICES
    from .llm.spec import BENCHMARKS as LLM_BENCHMARKS
    from .settings import EXECUTION_MODES, MODES, SCENARIOS

    p = _Parser(prog="mlperf_harness", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    r = sub.add_parser("run", help="run one LoadGen test")
    r.add_argument("--model", required=True, choices=sorted(WORKLOADS))
    r.add_argument("--backend", required=True, choices=BACKENDS)
    r.add_argument("--device", required=True, choices=DEVICES)
    r.add_argument("--scenario", required=True, choices=SCENARIOS)
    r.add_argument("--mode", required=True, choices=MODES)
    r.add_argument("--execution-mode", required=True, choices=EXECUTION_MODES)
    r.add_argument("--dataset-dir", required=True, help="ImageNet validation dir with val_map.txt")
    r.add_argument("--model-path", required=True, help="model file (.onnx, or a torchvision .pth)")
    r.add_argument("--output-dir", required=True, help="LoadGen logs, user.conf, result.json go here")
    r.add_argument("--cache-dir", help="preprocessed .npy cache (default: OUTPUT_DIR/cache)")
    r.add_argument("--precision", default="fp32")
    r.add_argument("--target-qps", type=float, help="Offline expected / Server target queries per second")
    r.add_argument("--target-latency", type=float, help="ms: SingleStream/MultiStream expected, Server bound")
    r.add_argument("--threads", type=int, help="intra-op threads (default: all usable cores)")
    r.add_argument("--max-batchsize", type=int, help="samples per inference call (default: 8 on CPU, 32 on GPU)")
    r.add_argument("--count", type=int, help="dataset samples to use (QSL total count)")
    r.add_argument("--samples", type=int, help="performance sample count override")
    r.add_argument("--audit-config", help="compliance audit.config to run with")

    acc = sub.add_parser("accuracy-imagenet", help="top-1 accuracy from mlperf_log_accuracy.json")
    acc.add_argument("--mlperf-accuracy-file", required=True)
    acc.add_argument("--imagenet-val-file", required=True)
    acc.add_argument("--dtype", default="float32", choices=("float32", "int32", "int64"))
    acc.add_argument("--output", help="also write the result line to this file")

    coco = sub.add_parser("accuracy-coco", help="sdxl: CLIP score and FID from mlperf_log_accuracy.json")
    coco.add_argument("--mlperf-accuracy-file", required=True)
    coco.add_argument("--dataset-dir", required=True, help="COCO-2014 subset dir with captions/captions.tsv")
    coco.add_argument("--clip-model", help="HF CLIP model dir (default: DATASET_DIR/clip)")
    coco.add_argument("--inception-weights", help="FID Inception state dict (default: DATASET_DIR/inception/...)")
    coco.add_argument("--statistics-path", help="FID statistics .npz (default: DATASET_DIR/statistics/val2014.npz)")
    coco.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    coco.add_argument("--output", help="also write the accuracy.txt lines to this file")

    llm = sub.add_parser("accuracy-llm", help="ROUGE (+ token counts) of an LLM run's mlperf_log_accuracy.json")
    llm.add_argument("--model", required=True, choices=sorted(LLM_BENCHMARKS))
    llm.add_argument("--mlperf-accuracy-file", required=True)
    llm.add_argument("--dataset-file", required=True, help="the OpenOrca pickle or cnn_eval.json")
    llm.add_argument("--model-path", required=True, help="checkpoint directory holding the tokenizer")
    llm.add_argument("--output", help="also write the result line to this file")

    d = sub.add_parser("demo-data", help="random-weight models and synthetic data for dev and tests")
    d.add_argument("dir")
    d.add_argument("--model", default="resnet50", choices=sorted(WORKLOADS))
    d.add_argument("--images", type=int, default=64, help="dataset samples to write")
    d.add_argument("--seed", type=int, default=0)

    sub.add_parser("info", help="harness, LoadGen and framework versions as JSON")
    return p


def _dispatch(a) -> int:
    if a.command == "run":
        return _load(WORKLOADS[a.model][0])(a)
    if a.command == "accuracy-imagenet":
        from . import accuracy

        good, total = accuracy.imagenet(Path(a.mlperf_accuracy_file), Path(a.imagenet_val_file), a.dtype)
        line = accuracy.format_line(good, total)
        print(line)
        if a.output:
            Path(a.output).write_text(line + "\n")
        return 0
    if a.command == "accuracy-coco":
        from .sdxl.accuracy import command

        return command(a)
    if a.command == "accuracy-llm":
        from .llm.run import rescore

        line = rescore(a.model, Path(a.mlperf_accuracy_file), Path(a.dataset_file), Path(a.model_path))
        print(line)
        if a.output:
            Path(a.output).write_text(line + "\n")
        return 0
    if a.command == "demo-data":
        if a.images < 1:
            raise UsageError(f"--images {a.images} must be positive", "pass --images 1 or more")
        _load(WORKLOADS[a.model][1])(Path(a.dir), a.images, a.seed)
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
