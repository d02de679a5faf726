"""`run --model sdxl`: one LoadGen test of Stable Diffusion XL on pytorch, from captions to result.json."""

import json
import sys
from pathlib import Path

from .. import logs, settings
from ..errors import UsageError
from ..loadgen_run import check_positive, cpu_count, prepare_output, result_fields, start_test
from . import accuracy, dataset

CONF_MODEL = "stable-diffusion-xl"  # the model's name in LoadGen's mlperf.conf
SCENARIOS = ("Offline", "Server", "SingleStream")
# test execution mode: a few queries (Offline: samples) instead of settings.TEST_MIN_QUERIES, sdxl being slow
TEST_MIN_QUERIES = {"Offline": 4, "Server": 4, "SingleStream": 4}


def _score(a, out: Path, result: dict) -> None:
    """Accuracy mode: CLIP and FID of the logged images, accuracy.txt, and the round's window."""
    device = "cpu" if a.device == "cpu" else "cuda"
    scores = accuracy.score(out / "mlperf_log_accuracy.json", Path(a.dataset_dir), device)
    text = accuracy.lines(scores)
    (out / "accuracy.txt").write_text("\n".join(text) + "\n")
    win = accuracy.window(scores)
    for line in (*text, accuracy.verdict_line(win)):
        print(line)
    result["metric"] = {"name": "CLIP_SCORE", "value": round(scores["CLIP_SCORE"], 6), "unit": ""}
    result["accuracy"] = {"samples": scores["samples"], **win}
    result["accuracy_pass"] = all(v["pass"] for v in win.values())
    if not result["accuracy_pass"] and scores["samples"] < 5000:
        result["validity_notes"].append(
            f"accuracy on {scores['samples']} of the 5000 captions: the window applies to the full set"
        )


def run(a) -> int:
    from . import pipeline

    pipeline.quiet()
    import torch

    from .sut import ImagePool

    if a.scenario not in SCENARIOS:
        raise UsageError(f"sdxl has no {a.scenario} scenario", f"use one of {', '.join(SCENARIOS)}")
    if a.backend != "pytorch":
        raise UsageError(f"sdxl runs on the pytorch backend, not {a.backend}", "pass --backend pytorch")
    for name, value in (("--threads", a.threads), ("--max-batchsize", a.max_batchsize), ("--count", a.count)):
        check_positive(name, value)
    out = Path(a.output_dir).resolve()
    data = Path(a.dataset_dir)
    audit_config = Path(a.audit_config).resolve() if a.audit_config else None
    rs = settings.RunSettings(
        CONF_MODEL, a.scenario, a.mode, a.execution_mode, a.target_qps, a.target_latency, a.samples
    )
    conf_text = settings.user_conf(rs, TEST_MIN_QUERIES)
    rules = settings.official(CONF_MODEL, a.scenario)
    dtype = pipeline.torch_dtype(a.precision)
    device = pipeline.torch_device(a.device)
    captions = dataset.read_captions(data / dataset.CAPTIONS, a.count)
    latents = dataset.load_latents(data / dataset.LATENTS, dtype, device)
    pipeline.locate(Path(a.model_path))
    threads, batch = a.threads or cpu_count(), a.max_batchsize or 1
    torch.set_num_threads(threads)
    prepare_output(out, audit_config)
    (out / "user.conf").write_text(conf_text)
    gen = pipeline.Generator(Path(a.model_path), a.precision, a.device)
    gen.check_latents(latents)
    prompts = dataset.Prompts(captions, gen.tokenizers)
    size = gen.image_size(latents)
    print(
        f"mlperf_harness: sdxl pytorch/{a.device} {a.scenario} {a.mode} ({a.execution_mode}): {len(captions)} "
        f"captions, {size}x{size} images, {pipeline.STEPS} steps, guidance {pipeline.GUIDANCE}, {a.precision}, "
        f"threads={threads}, batch={batch}",
        flush=True,
    )
    gen.generate(prompts.batch([0]), latents)  # warm-up, untimed
    total = len(captions)
    perf_count = min(total, a.samples or rules.performance_sample_count)
    pool = ImagePool(gen, prompts, latents, batch)
    duration = start_test(pool, prompts, rs, out, audit_config, total, perf_count)
    detail = logs.read_detail(out / "mlperf_log_detail.txt")
    facts = {
        "sample_count": total,
        "performance_sample_count": perf_count,
        "threads": threads,
        "batch_size": batch,
        "workers": 1,
        "image_size": size,
        "steps": pipeline.STEPS,
        "guidance_scale": pipeline.GUIDANCE,
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
