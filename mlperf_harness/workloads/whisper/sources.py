"""whisper: where the reference gets its data (see workloads/sources.py). Nothing `mlperfctl get` fetches as plain
files yet: the reference publishes its repackaged dataset and its checkpoint through the MLCommons R2 downloader,
and raw LibriSpeech would need the reference's conversion and 30-s repackaging, which no `prepare` step does yet."""

_WHY = ("the reference fetches the prepared dev-all-repack set and the whisper-large-v3 checkpoint with the MLCommons "
        "R2 downloader (https://inference.mlcommons-storage.org/metadata/whisper-dataset.uri and whisper-model.uri), "
        "or builds the set from LibriSpeech dev-clean + dev-other with speech2text/download_dataset.sh")
UNDECLARED = {"whisper": _WHY}
