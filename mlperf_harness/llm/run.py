"""`run` for llama2-70b-99/-99.9 and gptj-99/-99.9: one LoadGen test, from dataset to result.json."""

import json
import sys
from pathlib import Path

from .. import loadgen_run as common
from .. import logs, settings
from ..errors import UsageError
from . import accuracy, datasets, generate, sut
from .spec import BENCHMARKS, Benchmark

# scenario -> (detail key, metric name, unit) when LoadGen counts tokens
TOKEN_METRICS = {
    "Offline": ("result_tokens_per_second", "tokens_per_second", "tokens/s"),
    "Server": ("result_completed_tokens_per_second", "completed_tokens_per_second", "tokens/s"),
}
# result.json name -> detail key, in ms
TOKEN_LATENCIES = {
    "ttft_mean_ms": "result_first_token_mean_latency_ns",
    "ttft_p99_ms": "result_first_token_99.00_percentile_latency_ns",
    "tpot_mean_ms": "result_time_to_output_token_mean",
    "tpot_p99_ms": "result_time_per_output_token_99.00_percentile_ns",
}


def dataset_path(bench: Benchmark, dataset_dir: Path) -> Path:
    """The dataset file in --dataset-dir (or --dataset-dir itself when it names the file)."""
    return dataset_dir if dataset_dir.is_file() else dataset_dir / bench.dataset_file


def _read_samples(bench: Benchmark, dataset_file: Path, model_dir: Path, count: int | None):
    """(samples, tokenizer); the OpenOrca pickle holds token ids, so it is checked before the tokenizer loads."""
    if bench.family == "llama2":
        samples = datasets.read_openorca(dataset_file, count)
        return samples, generate.load_tokenizer(model_dir)
    tokenizer = generate.load_tokenizer(model_dir)
    return datasets.read_cnndm(dataset_file, tokenizer, bench.prompt_max_tokens, count), tokenizer


def rescore(model: str, accuracy_log: Path, dataset_file: Path, model_dir: Path) -> str:
    """`accuracy-llm`: the accuracy.txt line of a run's accuracy log, as the reference evaluation script."""
    bench = BENCHMARKS[model]
    samples, tokenizer = _read_samples(bench, dataset_file, model_dir, None)
    tokens = accuracy.read_log(accuracy_log, len(samples))
    return accuracy.format_line(accuracy.evaluate(bench, tokens, samples.targets, tokenizer))


def _metric(detail: dict, bench: Benchmark, scenario: str) -> dict | None:
    if bench.token_latencies and scenario in TOKEN_METRICS:
        key, name, unit = TOKEN_METRICS[scenario]
        if detail.get(key):
            return {"name": name, "value": round(float(detail[key]), 6), "unit": unit}
    return logs.main_metric(detail, scenario)


def _token_latencies(detail: dict) -> dict:
    return {name: round(float(detail[key]) * 1e-6, 6) for name, key in TOKEN_LATENCIES.items() if detail.get(key)}


def _read_detail(path: Path) -> dict:
    """The detail log; with token latencies LoadGen reports early stopping for TTFT and TPOT apart, so both are
    joined into the one early_stopping_result the shared validity notes read."""
    detail = logs.read_detail(path)
    parts = [str(detail[k]) for k in ("early_stopping_ttft_result", "early_stopping_tpot_result") if k in detail]
    if parts and "early_stopping_result" not in detail:
        detail["early_stopping_result"] = "\n".join(parts)
    return detail


def _result(a, bench: Benchmark, gen, samples, out: Path, rules, facts: dict) -> dict:
    detail = _read_detail(out / "mlperf_log_detail.txt")
    perf = a.mode == "performance"
    metric = _metric(detail, bench, a.scenario) if perf else None
    result = common.result_fields(a, detail, metric, {"name": "pytorch", "version": gen.torch.__version__},
                                  facts, rules)
    if perf and bench.token_latencies and (latencies := _token_latencies(detail)):
        result["token_latencies"] = latencies
    if not perf:
        tokens = accuracy.read_log(out / "mlperf_log_accuracy.json", len(samples))
        scores = accuracy.evaluate(bench, tokens, samples.targets, gen.tokenizer)
        line = accuracy.format_line(scores)
        (out / "accuracy.txt").write_text(line + "\n")
        print(line)
        result["metric"] = {"name": "rougeL", "value": scores["rougeL"], "unit": "%"}
        result["accuracy"] = scores
        misses = accuracy.unmet(bench, scores)
        result["accuracy_targets_met"] = not misses
        result["validity_notes"] += [f"below the {a.model} accuracy target: {m}" for m in misses]
    return result


def run(a) -> int:
    bench = BENCHMARKS.get(a.model)
    if bench is None:
        raise UsageError(f"unknown model {a.model!r}", f"use one of {', '.join(BENCHMARKS)}")
    if a.backend != "pytorch":
        raise UsageError(f"{a.model} runs on the pytorch backend only, not {a.backend}", "pass --backend pytorch")
    if a.scenario == "MultiStream":
        raise UsageError(f"{a.model} defines no MultiStream scenario", "use Offline, Server or SingleStream")
    for name, value in (("--threads", a.threads), ("--max-batchsize", a.max_batchsize), ("--count", a.count)):
        common.check_positive(name, value)
    out = Path(a.output_dir).resolve()
    audit_config = Path(a.audit_config).resolve() if a.audit_config else None
    rs = settings.RunSettings(
        bench.loadgen_model, a.scenario, a.mode, a.execution_mode, a.target_qps, a.target_latency, a.samples
    )
    conf_text = settings.user_conf(rs)
    if bench.token_latencies:
        conf_text += f"{bench.loadgen_model}.{a.scenario}.use_token_latencies = 1\n"
    rules = settings.official(bench.loadgen_model, a.scenario)
    model_dir = Path(a.model_path)
    generate.check_model_dir(model_dir)
    if a.precision not in generate.DTYPES:
        raise UsageError(
            f"precision {a.precision} is not implemented for {a.model}", f"use one of {', '.join(generate.DTYPES)}"
        )
    dataset_file = dataset_path(bench, Path(a.dataset_dir))
    if not dataset_file.is_file():
        raise UsageError(
            f"dataset file {dataset_file} does not exist", f"pass --dataset-dir holding {bench.dataset_file}"
        )
    samples, tokenizer = _read_samples(bench, dataset_file, model_dir, a.count)
    threads, batch, _ = common.defaults(a.backend, a.device, a.threads, a.max_batchsize)
    gen = generate.Generator(model_dir, tokenizer, a.device, a.precision, threads, bench.generation)
    common.prepare_output(out, audit_config)
    (out / "user.conf").write_text(conf_text)
    batching = a.scenario == "Offline"
    print(
        f"mlperf_harness: {a.model} pytorch/{a.device} {a.scenario} {a.mode} ({a.execution_mode}): "
        f"{len(samples)} samples, threads={threads}, batch={batch if batching else 1}, {bench.generation}",
        flush=True,
    )
    total = len(samples)
    perf_count = min(total, a.samples or rules.performance_sample_count)
    gen.generate([samples.input_ids[0]])  # warm-up, untimed
    pool = sut.Pool(gen, samples, 1, batch, batching, bench.token_latencies)
    duration = common.start_test(pool, samples, rs, out, audit_config, total, perf_count)
    facts = {
        "sample_count": total,
        "performance_sample_count": perf_count,
        "threads": threads,
        "batch_size": batch if batching else 1,
        "workers": 1,
        "duration_s": round(duration, 3),
        "generated_tokens": pool.generated_tokens,
        "generation": bench.generation,
        "compliance_audit": audit_config is not None,
    }
    result = _result(a, bench, gen, samples, out, rules, facts)
    (out / "result.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out / 'result.json'}", file=sys.stderr)
    return 0
