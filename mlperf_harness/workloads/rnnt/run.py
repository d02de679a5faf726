"""`run --model rnnt`: one LoadGen test of the RNN-T on pytorch, from the manifest to result.json (the
lifecycle of sdxl/run.py, until the shared run skeleton takes the workload's hooks)."""

import json
import sys
from pathlib import Path

from ... import logs, settings
from ...errors import UsageError
from ...loadgen_run import check_positive, cpu_count, prepare_output, result_fields, start_test
from . import accuracy, dataset, model

CONF_MODEL = "rnnt"  # the model's name in LoadGen's mlperf.conf
SCENARIOS = ("Offline", "Server", "SingleStream")
MODEL_FILE = "DistributedDataParallel_1576581068.9962234-epoch-100.pt"
# v4.0 closed division: accuracy >= (100 - 7.452) * 0.99 (the checker's accuracy-target for WER)
TARGET = 91.62252
CPU_BATCH, GPU_BATCH = 8, 64


def torch_device(device: str) -> str:
    import torch

    if device == "cpu":
        return "cpu"
    if not torch.cuda.is_available():
        raise UsageError(f"--device {device} but torch sees no GPU", "run on a GPU host or pass --device cpu")
    return "cuda"  # ROCm builds of torch expose the GPU as cuda too


def model_file(path: Path) -> Path:
    return path / MODEL_FILE if path.is_dir() else path


def _score(a, out: Path, result: dict) -> None:
    scores = accuracy.score(out / "mlperf_log_accuracy.json", Path(a.dataset_dir))
    text = accuracy.line(scores["wer"])
    (out / "accuracy.txt").write_text(text + "\n")
    value = (1 - scores["wer"]) * 100
    print(text)
    result["metric"] = {"name": "WER", "value": round(scores["wer"] * 100, 6), "unit": "%"}
    result["accuracy"] = {
        "samples": scores["samples"],
        "words": scores["words"],
        "edits": scores["edits"],
        "accuracy": {"value": round(value, 6), "min": TARGET, "pass": value >= TARGET},
    }
    result["accuracy_pass"] = value >= TARGET


def run(a) -> int:
    import torch

    from .sut import TranscriptPool

    if a.scenario not in SCENARIOS:
        raise UsageError(f"rnnt has no {a.scenario} scenario", f"use one of {', '.join(SCENARIOS)}")
    if a.backend != "pytorch":
        raise UsageError(f"rnnt runs on the pytorch backend, not {a.backend}", "pass --backend pytorch")
    for name, value in (("--threads", a.threads), ("--max-batchsize", a.max_batchsize), ("--count", a.count)):
        check_positive(name, value)
    out = Path(a.output_dir).resolve()
    audit_config = Path(a.audit_config).resolve() if a.audit_config else None
    rs = settings.RunSettings(
        CONF_MODEL, a.scenario, a.mode, a.execution_mode, a.target_qps, a.target_latency, a.samples
    )
    conf_text = settings.user_conf(rs)
    rules = settings.official(CONF_MODEL, a.scenario)
    device = torch_device(a.device)
    utterances = dataset.read_manifest(Path(a.dataset_dir), count=a.count)
    path = model_file(Path(a.model_path))
    threads = a.threads or cpu_count()
    batch = 1 if a.scenario == "SingleStream" else a.max_batchsize or (CPU_BATCH if device == "cpu" else GPU_BATCH)
    torch.set_num_threads(threads)
    prepare_output(out, audit_config)
    (out / "user.conf").write_text(conf_text)
    recognizer = model.Recognizer(path, device, a.precision)
    qsl = dataset.Utterances(utterances)
    print(
        f"mlperf_harness: rnnt pytorch/{a.device} {a.scenario} {a.mode} ({a.execution_mode}): {len(qsl)} "
        f"utterances, {a.precision}, threads={threads}, batch={batch}",
        flush=True,
    )
    recognizer.transcribe(qsl.batch([0]))  # warm-up, untimed
    total = len(qsl)
    perf_count = min(total, a.samples or rules.performance_sample_count)
    pool = TranscriptPool(recognizer, qsl, batch)
    duration = start_test(pool, qsl, rs, out, audit_config, total, perf_count)
    detail = logs.read_detail(out / "mlperf_log_detail.txt")
    facts = {
        "sample_count": total,
        "performance_sample_count": perf_count,
        "threads": threads,
        "batch_size": batch,
        "workers": 1,
        "audio_seconds": round(sum(u.duration for u in utterances), 3),
        "duration_s": round(duration, 3),
        "compliance_audit": audit_config is not None,
    }
    metric = logs.main_metric(detail, a.scenario) if a.mode == "performance" else None
    result = result_fields(a, detail, metric, {"name": "pytorch", "version": torch.__version__}, facts, rules)
    if a.mode == "accuracy":
        _score(a, out, result)
    (out / "result.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out / 'result.json'}", file=sys.stderr)
    return 0
