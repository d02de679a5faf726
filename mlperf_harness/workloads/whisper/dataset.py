"""LibriSpeech dev-clean + dev-other as the whisper reference prepares it (speech2text/download_dataset.sh).

DATASET_DIR/dev-all-repack.json               the manifest: a JSON list, one entry per repackaged sample
DATASET_DIR/dev-all-repack/<speaker>-<chapter>_<n>.wav   16 kHz mono 16-bit PCM

The reference converts both dev sets to wav (convert_librispeech.py: lower-cased transcripts), then
repackages each speaker-chapter's utterances into samples of at most 30 s, 0.5 s of silence between them
(repackage_librispeech.py). Each entry holds "transcript", "original_duration" (s) and "files": one dict
("fname", "speed" 1, "duration", "num_samples", ...). As the reference's Manifest reads it: entries over
MAX_DURATION_S are dropped, the speed-1 file is the audio (its "fname" joined to DATASET_DIR; the
reference's own preparation writes absolute paths such as /data/dev-all-repack/x.wav, which are looked up
as DATASET_DIR/dev-all-repack/x.wav), and the transcript keeps only the characters of LABELS (qsl_idx i is
the i-th kept entry). Standard library only but for the audio (numpy, soundfile, imported when read): the
host checks the manifest with it before any container starts.
"""

import json
import string
from dataclasses import dataclass
from pathlib import Path, PurePath

from ...errors import UsageError

MANIFEST = "dev-all-repack.json"
WAV_DIR = "dev-all-repack"
SAMPLE_RATE = 16000
MAX_DURATION_S = 30.0  # the reference's MAX_DURATION default
SAMPLES = 1633  # the full set (the rulebook's performance_sample_count)
# The reference's 42 output characters: a response is the transcript's label ids (int64), one per character.
LABELS = (" ", *string.ascii_lowercase, "'", *string.digits, "$", "%", "+", "-")
_INDEX = {c: i for i, c in enumerate(LABELS)}
_FIX = "use the reference's dev-all-repack.json (speech2text/utils/repackage_librispeech.py)"


def encode(text: str) -> list[int]:
    """Label ids of text: characters outside LABELS are dropped (upper case too, as the reference does)."""
    return [_INDEX[c] for c in text if c in _INDEX]


def decode(ids) -> str:
    """Text of label ids; an id outside LABELS is a UsageError (the responses only hold LABELS' ids)."""
    bad = [i for i in ids if not 0 <= i < len(LABELS)]
    if bad:
        raise UsageError(f"label id {bad[0]} is outside the {len(LABELS)} characters",
                         "the log must hold whisper label ids (int64)")
    return "".join(LABELS[i] for i in ids)


def labels_only(text: str) -> str:
    """text as the reference scores its reference transcripts: only the characters of LABELS."""
    return "".join(c for c in text if c in _INDEX)


@dataclass(frozen=True)
class Sample:
    wav: Path
    duration: float
    transcript: str  # the characters of LABELS only


def _wav_path(dataset_dir: Path, fname: str) -> Path:
    path = PurePath(fname)
    if not path.is_absolute() and (dataset_dir / path).is_file():
        return dataset_dir / path
    fallback = dataset_dir / WAV_DIR / path.name
    return fallback if fallback.is_file() else dataset_dir / path


def read_manifest(dataset_dir: Path, manifest: Path | None = None, count: int | None = None) -> list[Sample]:
    """The kept samples in manifest order (qsl_idx order), the first `count` of them; every wav must exist."""
    path = manifest or dataset_dir / MANIFEST
    if not path.is_file():
        raise UsageError(f"manifest {path} does not exist", f"pass --dataset-dir with {MANIFEST} and {WAV_DIR}/")
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise UsageError(f"{path} is not valid JSON ({e})", _FIX) from None
    if not isinstance(entries, list):
        raise UsageError(f"{path} holds a {type(entries).__name__}, not a list of samples", _FIX)
    out = []
    for n, entry in enumerate(entries):
        try:
            duration = float(entry["original_duration"])
            transcript, files = entry["transcript"], entry["files"]
            speed1 = [f for f in files if float(f["speed"]) == 1.0]
        except (TypeError, KeyError, ValueError) as e:
            raise UsageError(f"{path}: entry {n} lacks or mangles {e}", _FIX) from None
        if duration > MAX_DURATION_S:
            continue
        if not speed1 or not isinstance(transcript, str) or not isinstance(speed1[0].get("fname"), str):
            raise UsageError(f"{path}: entry {n} has no speed-1 file name or no text transcript", _FIX)
        wav = _wav_path(dataset_dir, speed1[0]["fname"])
        if not wav.is_file():
            raise UsageError(f"{path}: entry {n} names {speed1[0]['fname']}, which is not in {dataset_dir}",
                             f"pass the --dataset-dir the manifest belongs to (with {WAV_DIR}/)")
        out.append(Sample(wav, duration, labels_only(transcript)))
        if count is not None and len(out) == count:
            break
    if not out:
        raise UsageError(f"{path} holds no samples of at most {MAX_DURATION_S:g} s", _FIX)
    if count is not None and count > len(out):
        raise UsageError(f"--count {count} exceeds the {len(out)} samples of {path}", f"pass at most {len(out)}")
    return out


def check(dataset_dir: Path, count: int | None = None) -> None:
    """The declaration's dataset check: the manifest reads and every wav it keeps exists (UsageError if not)."""
    read_manifest(Path(dataset_dir), count=count)


def load_wav(path: Path):
    """The waveform as float32 in [-1, 1], channels averaged; it must be at SAMPLE_RATE (the reference's
    librosa.load would resample; the prepared wav files are all 16 kHz, so another rate means other files)."""
    import numpy as np
    import soundfile

    try:
        with soundfile.SoundFile(str(path)) as f:
            rate = f.samplerate
            samples = f.read(dtype="float32")
    except (RuntimeError, soundfile.LibsndfileError) as e:
        raise UsageError(f"{path} is not a readable audio file ({e})", "use the dataset's 16 kHz wav files") from None
    if rate != SAMPLE_RATE:
        raise UsageError(f"{path} is sampled at {rate} Hz, not {SAMPLE_RATE} Hz",
                         f"convert it to {SAMPLE_RATE} Hz mono wav")
    if samples.ndim == 2:
        samples = samples.mean(axis=1, dtype=np.float32)
    if samples.size == 0:
        raise UsageError(f"{path} holds no samples", "use the dataset's wav files")
    return np.ascontiguousarray(samples, dtype=np.float32)


class Waves:
    """The QSL: every kept waveform in memory (as the reference's in-memory QSL); load/unload are LoadGen's
    callbacks and have nothing to do."""

    def __init__(self, samples: list[Sample]):
        self.samples = samples
        self.waves = [load_wav(s.wav) for s in samples]

    def __len__(self) -> int:
        return len(self.waves)

    def load(self, indices) -> None:
        """Everything is in memory already."""

    def unload(self, indices) -> None:
        """Nothing to free."""

    def batch(self, indices: list[int]) -> list:
        return [self.waves[i] for i in indices]
