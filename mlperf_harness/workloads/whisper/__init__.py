"""whisper: the MLPerf speech-to-text benchmark (Whisper large-v3 on LibriSpeech dev-clean + dev-other,
closed from round v5.1). The declaration; standard library only (the host imports it).

dataset   the reference's dev-all-repack.json manifest and wav layout, its 42 output characters, wav loading
model     the checkpoint check (host side), the pytorch engine: WhisperForConditionalGeneration with the
          reference's prompt and greedy decoding, the response (label ids)
runner    the run skeleton's hooks: Offline, batched, int64 label ids with generated token counts; ENGINES maps
          a backend to its engine: pytorch (model.Transcriber) or vllm (vllm_engine, as the reference runs it)
accuracy  Whisper's English normaliser, the reference's concatenation-aware WER, its accuracy.txt line
demo      a tiny Whisper of large-v3's architecture (seeded weights, a tokenizer made locally), synthetic audio
"""

from ..base import Workload

_HERE = __name__
_TORCH_DTYPES = ("fp32", "fp16", "bf16")  # frameworks.torch.DTYPES: on the CPU and on GPUs

WHISPER = Workload(
    names=("whisper",),
    family="whisper",
    loadgen_model="whisper",
    dataset_name="LibriSpeech dev-clean + dev-other (the reference's dev-all-repack)",
    dataset_files=("dev-all-repack.json",),  # dataset.MANIFEST; the wav files it names are checked when read
    # a Hugging Face checkpoint folder (demo.MODEL_DIR's name), the same for both engines
    model_files={"pytorch": "whisper-large-v3", "vllm": "whisper-large-v3"},
    model_folders=("pytorch", "vllm"),
    support={device: {"pytorch": _TORCH_DTYPES, **({} if device == "rocm" else {"vllm": _TORCH_DTYPES})}
             for device in ("cpu", "cuda", "rocm")},
    scenarios=("Offline",),  # the rulebook's only scenario for whisper (v5.1, v6.0, v6.1)
    demo_writer=f"{_HERE}.demo:write",
    demo_dataset_dir="datasets/whisper",
    demo_model_dir="models/whisper-large-v3",
    runner_class=f"{_HERE}.runner:WhisperRunner",
    scorer=f"{_HERE}.accuracy:command",
    dataset_check=f"{_HERE}.dataset:check",  # the manifest and every wav it names, before any container
    # config.json says Whisper with 128 mel bins, the tokenizer is there
    model_checks={"pytorch": f"{_HERE}.model:check_model_dir", "vllm": f"{_HERE}.model:check_model_dir"},
)
