"""llama3.1-8b and the vllm backend, the parts that need no engine: the reference's dataset layout, the accuracy
line the checker reads, the round's rules, the checkpoint and --tensor-parallel checks (host and harness)."""

import json
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import mlperf_rules
from mlperf_harness.errors import UsageError
from mlperf_harness.frameworks import vllm
from mlperf_harness.workloads import get
from mlperf_harness.workloads.llm import accuracy, datasets, spec

ROUNDS = ("v5.1", "v6.0", "v6.1")


class _Tokens:
    words = {0: "the", 1: "cat", 3: "sat", 4: "mat"}

    def batch_decode(self, rows, skip_special_tokens):
        return [" ".join(self.words[t] for t in row if t in self.words) for row in rows]


def _checkpoint(tmp_path: Path, config) -> Path:
    d = tmp_path / "ckpt"
    d.mkdir()
    if config is not None:
        (d / "config.json").write_text(json.dumps(config) if not isinstance(config, str) else config)
    return d


@pytest.mark.parametrize("config,needle", [
    (None, "has no config.json: not a vLLM-loadable checkpoint"),
    ("[1, 2", "is not a JSON object"),
    ({"architectures": ["BertForQuestionAnswering"]}, "is not a causal language model"),
    ({"model_type": "llama"}, "architectures [] is not a causal language model"),
])
def test_not_a_vllm_checkpoint_is_one_line(tmp_path, config, needle):
    with pytest.raises(UsageError) as e:
        vllm.check_checkpoint(_checkpoint(tmp_path, config))
    assert needle in str(e.value) and "\n" not in str(e.value)


def test_a_causal_lm_checkpoint_passes(tmp_path):
    vllm.check_checkpoint(_checkpoint(tmp_path, {"architectures": ["LlamaForCausalLM"]}))


def test_the_host_runs_the_vllm_model_check(tmp_path):
    w = get("llama3.1-8b")
    with pytest.raises(UsageError, match="config.json"):
        w.check_model("vllm", _checkpoint(tmp_path, None))
    get("gptj-99").check_model("pytorch", tmp_path / "ckpt")  # no check declared: nothing raised


def test_tokenized_json_layout(tmp_path):
    path = tmp_path / "cnn_eval.json"
    path.write_text(json.dumps([{"instruction": {"llama": "x"}, "input": "a", "tok_input": [1, 5, 6], "output": "s"},
                                {"instruction": {"llama": "x"}, "input": "b", "tok_input": [1, 7], "output": "t"}]))
    samples = datasets.read_tokenized_json(path, 1)
    assert samples.input_ids == [[1, 5, 6]] and samples.targets == ["s"]
    path.write_text(json.dumps([{"input": "a", "output": "s"}]))
    with pytest.raises(UsageError, match="record 0 lacks the field"):
        datasets.read_tokenized_json(path)
    path.write_text(json.dumps([{"tok_input": [], "output": "s"}]))
    with pytest.raises(UsageError, match="not a non-empty list of token ids"):
        datasets.read_tokenized_json(path)


@pytest.mark.parametrize("version", ROUNDS)
@pytest.mark.parametrize("model", ["llama3.1-8b", "llama3.1-8b-edge"])
def test_accuracy_line_is_the_references_and_the_checker_reads_it(tmp_path, version, model):
    rules = mlperf_rules.resolve(version, model).rules
    bench = spec.BENCHMARKS[model]
    assert bench.log_dtype(rules) == "int32"  # SUT_VLLM.py responses; evaluation.py --dtype int32
    log = tmp_path / "acc.json"
    log.write_text(json.dumps([{"qsl_idx": i, "data": np.asarray(t, np.int32).tobytes().hex()}
                               for i, t in ((0, [0, 1]), (1, [3, 4]))]))
    result = accuracy.evaluate(bench, accuracy.read_log(log, 2, "int32"), ["the cat", "sat mat"], _Tokens())
    line = accuracy.format_line(result)
    assert line == ("{'rouge1': '100.0', 'rouge2': '100.0', 'rougeL': '100.0', 'rougeLsum': '100.0', "
                    "'gen_len': 14, 'gen_num': 2}")
    values = mlperf_rules.accuracy_values(rules, model, line)
    assert values == {"ROUGE1": 100.0, "ROUGE2": 100.0, "ROUGEL": 100.0, "ROUGELSUM": 100.0, "GEN_LEN": 14}
    # a demo subset meets every ROUGE target and misses only the dataset-wide generated length
    assert [p.split("=")[0] for p in mlperf_rules.accuracy_check(rules, model, line)] == ["GEN_LEN"]


@pytest.mark.parametrize("version", ROUNDS)
def test_llama31_rules(version):
    rules = mlperf_rules.resolve(version, "llama3.1-8b").rules
    dc, edge = rules.benchmark("llama3.1-8b"), rules.benchmark("llama3.1-8b-edge")
    assert dc.required == {"datacenter": ("Offline",), "datacenter,edge": ("Offline",)}
    assert dc.optional["datacenter"] == ("Interactive", "Server")
    assert dc.token_latency_ms == {"Server": (2000, 100), "Interactive": (500, 30)}
    assert dc.compliance == ("TEST06",) and edge.compliance == ()
    assert (dc.dataset_size, edge.dataset_size) == (13368, 5000)
    assert edge.required == {"edge": ("SingleStream", "Offline"), "datacenter,edge": ("SingleStream", "Offline")}
    targets = {m.key: (m.target, m.upper) for m in dc.accuracy}
    assert targets["ROUGELSUM"][0] == pytest.approx(35.793 * 0.99)
    assert targets["GEN_LEN"] == pytest.approx((8167644 * 0.9, 8167644 * 1.1))
    assert {m.key: m.target for m in edge.accuracy}["ROUGE1"] == pytest.approx(39.06 * 0.99)
    assert edge.result_fields["SingleStream"] == "result_90.00_percentile_latency_ns"
    assert (dc.loadgen_name, edge.loadgen_name) == ("llama3_1-8b", "llama3_1-8b-edge")


def test_generation_is_the_references():
    g = spec.BENCHMARKS["llama3.1-8b"].generation
    assert (g["max_new_tokens"], g["min_new_tokens"], g["num_beams"], g["do_sample"]) == (128, 1, 1, False)


def test_engine_args_and_precision():
    args = vllm.engine_args(Path("/m"), "cpu", "bf16", 1, None)
    assert args["dtype"] == "bfloat16" and args["tensor_parallel_size"] == 1 and args["enforce_eager"]
    assert args["distributed_executor_backend"] == "uni" and "max_num_seqs" not in args
    assert vllm.engine_args(Path("/m"), "cuda", "fp16", 4, 64)["max_num_seqs"] == 64
    with pytest.raises(UsageError, match="--precision int8 is not supported by vLLM"):
        vllm.engine_args(Path("/m"), "cpu", "int8", 1, None)
    with pytest.raises(UsageError, match="--tensor-parallel 2: vLLM on the CPU runs one worker"):
        vllm.engine_args(Path("/m"), "cpu", "fp32", 2, None)


def test_harness_refuses_tensor_parallel_off_vllm():
    from mlperf_harness.workloads.llm.runner import LlmRunner

    r = LlmRunner(get("gptj-99"), SimpleNamespace(model="gptj-99", backend="pytorch", scenario="Offline",
                                                  tensor_parallel=2))
    with pytest.raises(UsageError, match="runs on one device"):
        r.check()


@pytest.mark.parametrize("backend,device,tp,given,needle", [
    ("vllm", "cpu", 2, 0, "a cpu run is given no GPUs"),
    ("vllm", "cuda", 8, 4, "--tensor-parallel 8 is more than the 4 GPU(s) this run is given"),
    ("pytorch", "cuda", 2, 4, "the pytorch backend runs a model on one device"),
])
def test_host_refuses_tensor_parallel(backend, device, tp, given, needle):
    from mlperfctl.errors import UserError
    from mlperfctl.run.preflight import check_tensor_parallel

    p = SimpleNamespace(cell=SimpleNamespace(backend=backend, device=device))
    def opts(tp):  # no --gpus: the host's count decides
        return SimpleNamespace(tensor_parallel=tp, gpus=None)

    with pytest.raises(UserError) as e:
        check_tensor_parallel(p, opts(tp), gpus=lambda d: given)
    assert needle in str(e.value)
    check_tensor_parallel(p, opts(None), gpus=lambda d: given)
    if backend == "vllm" and device == "cuda":
        check_tensor_parallel(p, opts(4), gpus=lambda d: given)
        check_tensor_parallel(p, opts(8), gpus=lambda d: None)  # host cannot tell


def test_vllm_module_imports_no_numpy_or_vllm_at_load():
    """The host imports it for the checkpoint check: standard library (and mlperf_harness.errors) only."""
    src = Path(vllm.__file__).read_text()
    top = [ln for ln in src.splitlines() if re.match(r"^(import|from) ", ln)]
    assert all(re.match(r"^(import (asyncio|os|sys|threading)|from (pathlib|mlperf_harness\.errors) )", ln)
               for ln in top), top
