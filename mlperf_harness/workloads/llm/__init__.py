"""The MLPerf LLM benchmarks (llama2-70b-99/-99.9, gptj-99/-99.9) on PyTorch with Hugging Face transformers.
The declarations; standard library only (the host imports them)."""

from ..base import ACCURACY_ARGS, Workload
from .spec import BENCHMARKS

_HERE = __name__
# frameworks.torch.DTYPES: the checkpoint is loaded in any of them, on the CPU and on GPUs
_PYTORCH = {device: {"pytorch": ("fp32", "fp16", "bf16")} for device in ("cpu", "cuda", "rocm")}
_ACCURACY_ARGS = (*ACCURACY_ARGS, "--model-path", "{model_path}")  # the tokenizer is the checkpoint's


def _llm(names: tuple[str, ...], dataset_name: str, demo_dataset_dir: str, demo_writer: str,
         preparer: str) -> Workload:
    bench = BENCHMARKS[names[0]]
    return Workload(
        names=names,
        family="llm",
        loadgen_model=bench.loadgen_model,
        dataset_name=dataset_name,
        dataset_files=(bench.dataset_file,),
        model_files={"pytorch": bench.model_dir},
        model_folders=("pytorch",),
        support=_PYTORCH,
        scenarios=("Offline", "Server", "SingleStream", "Interactive"),  # Interactive where the round lists it
        accuracy_args=_ACCURACY_ARGS,
        demo_writer=f"{_HERE}.demo:{demo_writer}",
        demo_dataset_dir=demo_dataset_dir,
        demo_model_dir="models",
        runner_class=f"{_HERE}.runner:LlmRunner",
        scorer=f"{_HERE}.runner:command",
        dataset_preparer=f"{_HERE}.prepare:{preparer}",
    )


GPTJ = _llm(("gptj-99", "gptj-99.9"), "CNN/DailyMail validation", "datasets/cnn-dailymail", "write_gptj",
            "prepare_cnndm")
LLAMA2_70B = _llm(("llama2-70b-99", "llama2-70b-99.9"), "OpenOrca MLPerf subset", "datasets/open-orca", "write_llama2",
                  "prepare_openorca")
