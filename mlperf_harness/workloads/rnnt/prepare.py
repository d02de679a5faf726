"""`prepare` for RNN-T: LibriSpeech dev-clean as published (the flac tree and its transcripts) -> the wav files
and manifest the reference's convert_librispeech.py writes and dataset.py reads.

Raw (under --raw, at any depth): dev-clean.tar.gz (openslr; what `mlperfctl get` fetches) or its extracted
LibriSpeech/dev-clean/<speaker>/<chapter>/<speaker>-<chapter>-<n>.flac with <speaker>-<chapter>.trans.txt.
Written: dev-clean-wav/<speaker>/<chapter>/<id>.wav (16 kHz mono 16-bit PCM, the input rate kept, speed 1 only,
as the reference without --speed/--target_sr) and dev-clean-wav.json, one entry per utterance in
(speaker, chapter, transcript-line) order: files [{fname, speed, duration, num_samples, sample_rate, ...}],
original_duration, original_num_samples and the transcript lower-cased. --count N writes the first N utterances
the benchmark keeps (at most 15 s) and skips the longer ones."""

import json
import shutil
from pathlib import Path

from ...errors import UsageError
from ...prepare import find, open_tar, progress
from .dataset import MANIFEST, MAX_DURATION_S, SAMPLE_RATE

TAR = "dev-clean.tar.gz"
WAV_DIR = "dev-clean-wav"
_FIX = "fetch it again: mlperfctl get --model rnnt --dataset"


def _extract(tar_path: Path, into: Path) -> Path:
    """The flac files and transcripts of the archive, unpacked into `into`; the dev-clean folder."""
    with open_tar(tar_path) as tar:
        for m in tar:
            if m.isfile() and (m.name.endswith(".flac") or m.name.endswith(".trans.txt")):
                target = into / Path(m.name)
                if ".." in Path(m.name).parts or Path(m.name).is_absolute():
                    raise UsageError(f"{tar_path}: member {m.name!r} leaves the archive", _FIX)
                target.parent.mkdir(parents=True, exist_ok=True)
                with tar.extractfile(m) as src, open(target, "wb") as out:
                    shutil.copyfileobj(src, out)
    return find(into, "dev-clean", what="the dev-clean folder", fix=_FIX)


def utterances(root: Path) -> list[tuple[Path, str, str]]:
    """(transcript file's folder relative to root, utterance id, transcript) in (speaker, chapter, line) order."""
    out = []
    for txt in sorted(root.rglob("*.trans.txt"), key=lambda p: p.relative_to(root).parts):
        for n, line in enumerate(txt.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            uid, _, text = line.partition(" ")
            if not text.strip():
                raise UsageError(f"{txt}:{n}: expected '<utterance id> <transcript>', got {line!r}", _FIX)
            out.append((txt.parent.relative_to(root), uid, text.lower().strip()))
    if not out:
        raise UsageError(f"{root} holds no *.trans.txt transcripts (LibriSpeech dev-clean)", _FIX)
    return out


def _entry(fname: str, samples: int, rate: int, transcript: str) -> dict:
    duration = samples / rate
    info = {"channels": 1, "sample_rate": float(rate), "bitrate": 16, "duration": duration, "num_samples": samples,
            "encoding": "Signed Integer PCM", "silent": samples == 0, "fname": fname, "speed": 1}
    return {"files": [info], "original_duration": duration, "original_num_samples": samples, "transcript": transcript}


def prepare(raw: Path, dest: Path, model: str, count: int | None) -> dict:
    import soundfile

    root = find(raw, "dev-clean", TAR, what="LibriSpeech dev-clean", fix=f"put {TAR} (or its extracted "
                "LibriSpeech/dev-clean/) under --raw")
    scratch = None
    if root.is_file():
        scratch = dest / ".extract"
        source, root = str(root.relative_to(raw)), _extract(root, scratch)
    else:
        source = str(root.relative_to(raw))
    try:
        todo = utterances(root)
        entries, skipped = [], 0
        for n, (rel, uid, text) in enumerate(todo, start=1):
            flac = root / rel / f"{uid}.flac"
            if not flac.is_file():
                raise UsageError(f"{flac} does not exist (its transcript is in {root / rel})", _FIX)
            try:
                audio, rate = soundfile.read(flac, dtype="int16")
            except Exception as e:  # noqa: BLE001 - any unreadable file is the same bad input
                raise UsageError(f"{flac} is not a readable flac file ({type(e).__name__})", _FIX) from None
            if rate != SAMPLE_RATE:
                raise UsageError(f"{flac} is at {rate} Hz, not LibriSpeech's {SAMPLE_RATE}", _FIX)
            if audio.ndim > 1:
                audio = audio.mean(axis=1).astype("int16")
            if count is not None and len(audio) / rate > MAX_DURATION_S:
                skipped += 1
                continue
            fname = f"{WAV_DIR}/{rel.as_posix()}/{uid}.wav"
            (dest / fname).parent.mkdir(parents=True, exist_ok=True)
            soundfile.write(dest / fname, audio, rate, subtype="PCM_16")
            entries.append(_entry(fname, len(audio), rate, text))
            progress(len(entries) if count else n, count or len(todo), "utterances")
            if count is not None and len(entries) == count:
                break
        if count is not None and len(entries) < count:
            raise UsageError(f"--count {count} exceeds the {len(entries)} utterances of at most "
                             f"{MAX_DURATION_S:g} s in {raw / source}", f"pass at most {len(entries)}")
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    (dest / MANIFEST).write_text(json.dumps(entries, indent=2) + "\n")
    return {"samples": len(entries), "skipped_over_15s": skipped, "layout": MANIFEST, "source": source}

