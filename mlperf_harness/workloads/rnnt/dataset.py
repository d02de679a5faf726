"""LibriSpeech dev-clean as the reference's scripts lay it out.

DATASET_DIR/dev-clean-wav.json                          the manifest: a JSON list, one entry per utterance
DATASET_DIR/dev-clean-wav/<speaker>/<chapter>/<id>.wav  16 kHz mono 16-bit PCM, named by the manifest

Each manifest entry holds "transcript" (text), "original_duration" (seconds) and "files": one dict per
speed-perturbed version of the audio ("fname" relative to DATASET_DIR, "speed", "duration", "sample_rate",
...). As the reference: utterances whose original_duration is over 15 s are dropped, the speed-1 file is the
audio, and the transcript is normalised and turned into label ids (qsl_idx i is the i-th kept entry).
Standard library only but for the audio (numpy, soundfile, imported when read): the host checks the manifest
with it before any container starts.
"""

import json
import re
import string
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from ...errors import UsageError

MANIFEST = "dev-clean-wav.json"
SAMPLE_RATE = 16000
MAX_DURATION_S = 15.0
# The model's 28 output characters; the blank symbol is id 28, the 29th class.
LABELS = (" ", *string.ascii_lowercase, "'")
BLANK = len(LABELS)
_INDEX = {c: i for i, c in enumerate(LABELS)}
# Punctuation turns into spaces except the characters the labels hold and "&" and "+", which are spelled out.
_PUNCTUATION = "".join(c for c in string.punctuation if c not in LABELS and c not in "&+")
_TO_SPACE = str.maketrans(_PUNCTUATION, " " * len(_PUNCTUATION))
_SPACES = re.compile(r"\s+")
_FIX = "use the reference's dev-clean-wav.json (made by its convert_librispeech.py)"


def normalize(text: str) -> str:
    """Transcript text as the reference scores it: ASCII, lower case, punctuation as spaces, "&" and "+" as
    words, single spaces, and only the characters of LABELS. (The reference also spells out digits and a few
    abbreviations; LibriSpeech transcripts hold neither, so they are not handled here.)"""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    text = text.lower().translate(_TO_SPACE).replace("&", " and ").replace("+", " plus ")
    text = _SPACES.sub(" ", text).strip()
    return "".join(c for c in text if c in _INDEX)


def encode(text: str) -> list[int]:
    """Label ids of a normalised transcript."""
    return [_INDEX[c] for c in text if c in _INDEX]


def decode(ids) -> str:
    """Text of label ids; the blank or anything else outside LABELS is a UsageError (the decoder never emits it)."""
    bad = [i for i in ids if not 0 <= i < len(LABELS)]
    if bad:
        raise UsageError(
            f"label id {bad[0]} is outside the {len(LABELS)} characters", "the log must hold rnnt label ids (int64)"
        )
    return "".join(LABELS[i] for i in ids)


@dataclass(frozen=True)
class Utterance:
    wav: Path
    duration: float
    transcript: str  # normalised text

    @property
    def label_ids(self) -> list[int]:
        return encode(self.transcript)


def read_manifest(dataset_dir: Path, manifest: Path | None = None, count: int | None = None) -> list[Utterance]:
    """The kept utterances in manifest order (qsl_idx order), the first `count` of them; every wav must exist."""
    path = manifest or dataset_dir / MANIFEST
    if not path.is_file():
        raise UsageError(f"manifest {path} does not exist", f"pass --dataset-dir with {MANIFEST} and its wav files")
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise UsageError(f"{path} is not valid JSON ({e})", _FIX) from None
    if not isinstance(entries, list):
        raise UsageError(f"{path} holds a {type(entries).__name__}, not a list of utterances", _FIX)
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
        if not speed1 or not isinstance(transcript, str):
            raise UsageError(f"{path}: entry {n} has no speed-1 file or no text transcript", _FIX)
        wav = dataset_dir / speed1[0]["fname"]
        if not wav.is_file():
            raise UsageError(
                f"{path}: entry {n} names {wav}, which does not exist", "pass the --dataset-dir the manifest belongs to"
            )
        out.append(Utterance(wav, duration, normalize(transcript)))
        if count is not None and len(out) == count:
            break
    if not out:
        raise UsageError(f"{path} holds no utterances of at most {MAX_DURATION_S:g} s", _FIX)
    if count is not None and count > len(out):
        raise UsageError(f"--count {count} exceeds the {len(out)} utterances of {path}", f"pass at most {len(out)}")
    return out


def check(dataset_dir: Path, count: int | None = None) -> None:
    """The declaration's dataset check: the manifest reads and every wav it keeps exists (UsageError if not)."""
    read_manifest(Path(dataset_dir), count=count)


def load_wav(path: Path):
    """The waveform as float32 in [-1, 1], channels averaged; it must be at SAMPLE_RATE (the reference
    would resample; LibriSpeech's wav files are all 16 kHz, so another rate means other files)."""
    import numpy as np
    import soundfile

    try:
        with soundfile.SoundFile(str(path)) as f:
            rate = f.samplerate
            samples = f.read(dtype="float32")
    except (RuntimeError, soundfile.LibsndfileError) as e:
        raise UsageError(f"{path} is not a readable audio file ({e})", "use the dataset's 16 kHz wav files") from None
    if rate != SAMPLE_RATE:
        raise UsageError(
            f"{path} is sampled at {rate} Hz, not {SAMPLE_RATE} Hz", f"convert it to {SAMPLE_RATE} Hz mono wav"
        )
    if samples.ndim == 2:
        samples = samples.mean(axis=1, dtype=np.float32)
    if samples.size == 0:
        raise UsageError(f"{path} holds no samples", "use the dataset's wav files")
    return np.ascontiguousarray(samples, dtype=np.float32)


class Utterances:
    """The QSL: every kept waveform in memory (as the reference's in-memory QSL); load/unload are LoadGen's
    callbacks and have nothing to do."""

    def __init__(self, utterances: list[Utterance]):
        self.utterances = utterances
        self.waves = [load_wav(u.wav) for u in utterances]

    def __len__(self) -> int:
        return len(self.waves)

    def load(self, indices) -> None:
        """Everything is in memory already."""

    def unload(self, indices) -> None:
        """Nothing to free."""

    def batch(self, indices: list[int]) -> list:
        return [self.waves[i] for i in indices]
