"""The MLPerf LLM benchmarks (llama2-70b-99/-99.9, gptj-99/-99.9, llama3.1-8b, llama3.1-8b-edge): on PyTorch with
Hugging Face transformers (`pytorch`) and on vLLM (`vllm`: llama2-70b and llama3.1-8b; gptj's reference decodes
with 4-beam search, which vLLM's engine no longer samples, so gptj stays on pytorch). The declarations; standard
library only (the host imports them). A new LLM: its Benchmark in spec.py and one `_llm(...)` line here."""

from ..base import ACCURACY_ARGS, Workload
from .spec import BENCHMARKS

_HERE = __name__
# frameworks.torch.DTYPES: the checkpoint is loaded in any of them, on the CPU and on GPUs
_PYTORCH = {device: {"pytorch": ("fp32", "fp16", "bf16")} for device in ("cpu", "cuda", "rocm")}
# frameworks.vllm.DTYPES (vLLM's x86 CPU backend runs all three too); no ROCm build on PyPI (matrix.yaml's rule)
_VLLM = {device: {"vllm": ("fp32", "fp16", "bf16")} for device in ("cpu", "cuda")}


def _support(*parts: dict) -> dict:
    out: dict = {}
    for part in parts:
        for device, backends in part.items():
            out.setdefault(device, {}).update(backends)
    return out


_ACCURACY_ARGS = (*ACCURACY_ARGS, "--model-path", "{model_path}")  # the tokenizer is the checkpoint's


def _llm(names: tuple[str, ...], dataset_name: str, demo_dataset_dir: str, demo_writer: str,
         preparer: str = "", backends: tuple[str, ...] = ("pytorch",)) -> Workload:
    bench = BENCHMARKS[names[0]]
    support = _support(*({"pytorch": _PYTORCH, "vllm": _VLLM}[b] for b in backends))
    return Workload(
        names=names,
        family="llm",
        loadgen_model=bench.loadgen_model,
        dataset_name=dataset_name,
        dataset_files=(bench.dataset_file,),
        model_files={b: bench.model_dir for b in backends},
        model_folders=backends,
        support=support,
        scenarios=("Offline", "Server", "SingleStream", "Interactive"),  # Interactive where the round lists it
        accuracy_args=_ACCURACY_ARGS,
        demo_writer=f"{_HERE}.demo:{demo_writer}",
        demo_dataset_dir=demo_dataset_dir,
        demo_model_dir="models",
        runner_class=f"{_HERE}.runner:LlmRunner",
        scorer=f"{_HERE}.runner:command",
        dataset_preparer=f"{_HERE}.prepare:{preparer}" if preparer else "",
        model_checks={"vllm": "mlperf_harness.frameworks.vllm:check_checkpoint"} if "vllm" in backends else {},
    )


GPTJ = _llm(("gptj-99", "gptj-99.9"), "CNN/DailyMail validation", "datasets/cnn-dailymail", "write_gptj",
            "prepare_cnndm")
LLAMA2_70B = _llm(("llama2-70b-99", "llama2-70b-99.9"), "OpenOrca MLPerf subset", "datasets/open-orca", "write_llama2",
                  "prepare_openorca", ("pytorch", "vllm"))
# no preparer yet: the reference's llama3.1-8b set is its own processed CNN/DailyMail (Llama 3.1 tokens), fetched
# with the MLCommons R2 downloader
LLAMA31_8B = _llm(("llama3.1-8b",), "CNN/DailyMail validation (13368 articles, Llama 3.1 tokens)",
                  "datasets/cnn-dailymail-llama3", "write_llama31", backends=("vllm",))
LLAMA31_8B_EDGE = _llm(("llama3.1-8b-edge",), "CNN/DailyMail validation, 5000-article edge sample (Llama 3.1 tokens)",
                       "datasets/cnn-dailymail-llama3", "write_llama31", backends=("vllm",))
