"""rnnt: the MLPerf RNN-T speech recognizer (LibriSpeech dev-clean, last a closed benchmark in round v4.0).
The declaration; standard library only (the host imports it).

dataset   the dev-clean-wav.json manifest, transcripts as label ids, wav loading (soundfile)
features  the reference's log-mel filterbank: preemphasis, STFT, Slaney mel filters, log, frame splicing,
          per-feature normalisation
model     the RNN-T (LSTM encoder with time stacking, prediction network, joint) loading the reference
          checkpoint, and its batched greedy decoder
runner    the run skeleton's hooks: Offline/Server batched, SingleStream at batch 1, int64 label-id responses
accuracy  word error rate of the accuracy log's token ids, printed as the reference's line
demo      seeded random weights in the reference checkpoint format, synthetic wav files and a manifest
"""

from ..base import Workload

_HERE = __name__
_TORCH_DTYPES = ("fp32", "fp16", "bf16")  # model.load's precisions; each runs on the CPU and on GPUs

RNNT = Workload(
    names=("rnnt",),
    family="rnnt",
    loadgen_model="rnnt",
    dataset_name="LibriSpeech dev-clean",
    dataset_files=("dev-clean-wav.json",),  # dataset.MANIFEST; the wav files it names are checked when read
    model_files={"pytorch": "DistributedDataParallel_1576581068.9962234-epoch-100.pt"},  # demo.MODEL_FILE's name
    support={device: {"pytorch": _TORCH_DTYPES} for device in ("cpu", "cuda", "rocm")},
    scenarios=("Offline", "Server", "SingleStream"),
    demo_writer=f"{_HERE}.demo:write",
    demo_dataset_dir="datasets/librispeech",
    demo_model_dir="models/rnnt",
    runner_class=f"{_HERE}.runner:RnntRunner",
    scorer=f"{_HERE}.accuracy:command",
    dataset_check=f"{_HERE}.dataset:check",  # the manifest and every wav it names, before any container
    dataset_preparer=f"{_HERE}.prepare:prepare",  # dev-clean flac + transcripts -> wav files, dev-clean-wav.json
)
