"""llama2-70b and gptj runs end to end on tiny demo checkpoints, natively, and their bad inputs."""

import json
import re
import shutil

import pytest

from .conftest import flags, harness

LLAMA = "llama2-70b-99"
GPTJ = "gptj-99"


def _needs_torch():
    pytest.importorskip("torch", reason="torch is not installed in this environment")
    pytest.importorskip("transformers", reason="transformers is not installed (the `generative` extra)")


@pytest.fixture(scope="module")
def llama_demo(tmp_path_factory):
    _needs_torch()
    root = tmp_path_factory.mktemp("llama-demo")
    proc = harness("demo-data", root, "--model", LLAMA, "--images", 8, "--seed", 3)
    assert proc.returncode == 0, proc.stderr
    assert "RANDOM" in proc.stderr
    return root


@pytest.fixture(scope="module")
def gptj_demo(tmp_path_factory):
    _needs_torch()
    root = tmp_path_factory.mktemp("gptj-demo")
    proc = harness("demo-data", root, "--model", GPTJ, "--images", 6, "--seed", 3)
    assert proc.returncode == 0, proc.stderr
    return root


def _args(model, root, out, **over):
    llama = model.startswith("llama2")
    opts = {
        "model": model,
        "backend": "pytorch",
        "device": "cpu",
        "scenario": "Offline",
        "mode": "performance",
        "execution-mode": "test",
        "dataset-dir": root / "datasets" / ("open-orca" if llama else "cnn-dailymail"),
        "model-path": root / "models" / ("Llama-2-70b-chat-hf" if llama else "checkpoint-final"),
        "output-dir": out,
        "threads": 1,
    }
    args = ["run", *flags(opts, over)]
    return args


def _ok(proc):
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.mark.slow
@pytest.mark.parametrize("scenario,key,limits", [
    ("Server", "llama2-70b.Server", (2000, 200)),
    # Interactive: LoadGen's Server scenario under the llama2-70b-interactive settings (TTFT/TPOT 450/40 ms)
    ("Interactive", "llama2-70b-interactive.Server", (450, 40)),
])
def test_llama2_server_reports_first_token_and_per_token_latencies(llama_demo, tmp_path, scenario, key, limits):
    out = tmp_path / "out"
    _ok(harness(*_args(LLAMA, llama_demo, out, scenario=scenario, target_qps=20)))
    summary = (out / "mlperf_log_summary.txt").read_text()
    assert "Scenario : Server" in summary
    assert f"ttft_latency (ns): {limits[0] * 1000000}\n" in summary
    assert f"tpot_latency (ns): {limits[1] * 1000000}\n" in summary
    assert f"{key}.target_qps = 20\n" in (out / "user.conf").read_text()
    assert f"{key}.ttft_latency = {limits[0]}\n" in (out / "mlperf.conf").read_text()
    assert json.loads((out / "result.json").read_text())["scenario"] == scenario
    assert "Completed tokens per second" in summary
    for stat in ("Mean First Token latency (ns)", "Mean Time per Output Token (ns)"):
        value = re.search(re.escape(stat) + r"\s*:\s*(\d+)", summary)
        assert value and int(value.group(1)) > 0, stat
    assert f"{key}.use_token_latencies = 1" in (out / "user.conf").read_text()
    result = json.loads((out / "result.json").read_text())
    assert result["metric"]["unit"] == "tokens/s" and result["metric"]["value"] > 0
    assert result["token_latencies"]["ttft_mean_ms"] > 0
    assert result["token_latencies"]["tpot_mean_ms"] > 0


@pytest.mark.parametrize("model,version,message", [
    (LLAMA, "v5.0", "llama2-70b-99 has no Interactive scenario in v5.0"),
    (LLAMA, "v4.1", "llama2-70b-99 has no Interactive scenario in v4.1"),
    (GPTJ, None, "gptj-99 has no Interactive scenario in v5.0"),
])
def test_interactive_where_the_round_has_none_is_a_usage_error(tmp_path, model, version, message):
    """Refused from the arguments alone, before the dataset or the model is read."""
    extra = {"version": version} if version else {}
    proc = harness(*_args(model, tmp_path / "nowhere", tmp_path / "out", scenario="Interactive", target_qps=1,
                          **extra))
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and not (tmp_path / "out").exists()


@pytest.mark.slow
def test_llama2_accuracy_reports_rouge_and_tokens_per_sample(llama_demo, tmp_path):
    out = tmp_path / "out"
    _ok(harness(*_args(LLAMA, llama_demo, out, mode="accuracy", max_batchsize=3)))
    line = (out / "accuracy.txt").read_text().strip()
    for key in ("rouge1", "rouge2", "rougeL", "tokens_per_sample"):
        assert re.match(rf".*'{key}':\s([\d.]+).*", line), key
    result = json.loads((out / "result.json").read_text())
    acc = result["accuracy"]
    assert acc["gen_num"] == 8
    assert acc["gen_tok_len"] == result["generated_tokens"]  # every token logged is one LoadGen was told about
    assert acc["tokens_per_sample"] == round(acc["gen_tok_len"] / 8, 1)
    assert result["accuracy_verdict"]["pass"] is False  # random weights
    # the accuracy-llm subcommand scores the same log to the same line
    model = llama_demo / "models/Llama-2-70b-chat-hf"
    dataset = llama_demo / "datasets/open-orca/open_orca_gpt4_tokenized_llama.sampled_24576.pkl"
    proc = harness(
        "accuracy-llm",
        "--model",
        LLAMA,
        "--mlperf-accuracy-file",
        out / "mlperf_log_accuracy.json",
        "--dataset-file",
        dataset,
        "--model-path",
        model,
    )
    _ok(proc)
    assert proc.stdout.strip() == line


@pytest.mark.slow
def test_gptj_offline_accuracy_writes_checker_lines(gptj_demo, tmp_path):
    out = tmp_path / "out"
    _ok(harness(*_args(GPTJ, gptj_demo, out, mode="accuracy", max_batchsize=4)))
    line = (out / "accuracy.txt").read_text().strip()
    for key in ("rouge1", "rouge2", "rougeL", "gen_len"):
        assert re.match(rf".*'{key}':\s([\d.]+).*", line), key
    acc = json.loads((out / "result.json").read_text())["accuracy"]
    assert acc["gen_num"] == 6 and "tokens_per_sample" not in acc
    # beam search with min_new_tokens 30: every summary has at least 30 tokens, so some text
    assert acc["gen_len"] > 0


@pytest.mark.slow
def test_llama2_tokenizer_missing(llama_demo, tmp_path):
    model = tmp_path / "model"
    shutil.copytree(llama_demo / "models" / "Llama-2-70b-chat-hf", model)
    (model / "tokenizer.json").unlink()
    proc = harness(*_args(LLAMA, llama_demo, tmp_path / "out", model_path=model))
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "no tokenizer" in proc.stderr


@pytest.mark.slow
def test_llama2_wrong_dataset_columns(llama_demo, tmp_path):
    import pandas as pd

    data = tmp_path / "data"
    data.mkdir()
    frame = pd.read_pickle(llama_demo / "datasets/open-orca/open_orca_gpt4_tokenized_llama.sampled_24576.pkl")
    frame.drop(columns=["tok_input"]).to_pickle(data / "open_orca_gpt4_tokenized_llama.sampled_24576.pkl")
    proc = harness(*_args(LLAMA, llama_demo, tmp_path / "out", dataset_dir=data))
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "lacks the column(s) tok_input" in proc.stderr


def test_gptj_dataset_file_missing(tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    (model / "tokenizer.json").write_text("{}")
    proc = harness(*_args(GPTJ, tmp_path, tmp_path / "out", model_path=model, dataset_dir=tmp_path / "none"))
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "cnn_eval.json does not exist" in proc.stderr


@pytest.mark.slow
def test_left_padded_batch_generates_what_single_prompts_do(llama_demo):
    from mlperf_harness.workloads.llm import datasets, generate, spec

    bench = spec.BENCHMARKS[LLAMA]
    model = llama_demo / "models" / bench.model_dir
    samples = datasets.read_openorca(llama_demo / "datasets/open-orca" / bench.dataset_file, 4)
    assert len({len(p) for p in samples.input_ids}) > 1  # prompts of different lengths: padding is exercised
    gen = generate.Generator(model, generate.load_tokenizer(model), "cpu", "fp32", 1, bench.generation)
    firsts = []
    batched = gen.generate(samples.input_ids, on_first=firsts.append)
    single = [gen.generate([p])[0] for p in samples.input_ids]
    assert [b.tolist() for b in batched] == [s.tolist() for s in single]
    assert firsts == [[int(b[0]) for b in batched]]  # one callback with every prompt's first token
    assert all(len(b) >= 1 for b in batched)


def test_offline_batches_group_prompts_by_length():
    from mlperf_harness.loadgen.pool import WorkerPool
    from mlperf_harness.workloads.llm import datasets
    from mlperf_harness.workloads.llm.runner import length_batches

    samples = datasets.Samples([[1] * n for n in (5, 1, 9, 3, 7)], [""] * 5)
    pool = WorkerPool(None, 0, 2, split=length_batches(samples.input_ids, 2, batch_offline=True), combine=False)
    pool.issue([10, 11, 12, 13, 14], [0, 1, 2, 3, 4])
    batches = [pool.queue.get_nowait() for _ in range(3)]
    assert batches == [([12, 14], [2, 4]), ([10, 13], [0, 3]), ([11], [1])]
    assert pool.queue.empty()
    single = WorkerPool(None, 0, 2, split=length_batches(samples.input_ids, 2, batch_offline=False), combine=False)
    single.issue([20], [3])
    assert single.queue.get_nowait() == ([20], [3])
