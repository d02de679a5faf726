"""TEST06 (LLMs): a sample of the answers of a short performance run (audit.config: 100 samples,
no minimum duration, no sample concatenation) is checked for
  - first token (not in Offline): the token reported with FirstTokenComplete (`token_data`) must be
    the start of the answer, element by element;
  - EOS: no answer may end with two EOS tokens (the scan stops before the first token, so an answer of
    exactly two EOS tokens passes, as in the official script);
  - sample length: the number of decoded tokens equals the `token_count` LoadGen logged.
Payloads are decoded with the dtype: the model's accuracy-log dtype where the official script accepts
it, else the round's default (int64 at v4.x, int32 from v5.0).

Files (the official run_verification.py's): verify_accuracy.txt (exactly four lines) and
accuracy/mlperf_log_accuracy.json.
"""

from __future__ import annotations

from pathlib import Path

from mlperf_rules import OFF

from ..base import (
    ACCURACY_LOG,
    DecodeError,
    Inputs,
    Verdict,
    copy_into,
    decode,
    need_file,
    read_accuracy_log,
    same,
    version_tuple,
    write_text,
)

TEST = "TEST06"
NEEDS = ()
DTYPES = ("int64", "int32", "int16", "float32")  # the official --dtype choices


def default_dtype(inp: Inputs) -> str:
    model_dtype = inp.bench.accuracy_log_dtype
    if model_dtype in DTYPES:
        return model_dtype
    return "int64" if version_tuple(inp.round.version) < (5, 0) else "int32"


def eos_ok(samples: list[dict], dtype: str, eos: int) -> bool:
    for sample in samples:
        tokens = decode(sample["data"], dtype)
        trailing = 0
        for token in reversed(tokens[1:]):
            if not same(token, eos):
                break
            trailing += 1
            if trailing >= 2:
                return False
    return True


def first_token_ok(samples: list[dict], dtype: str) -> bool:
    for sample in samples:
        tokens, first = decode(sample["data"], dtype), decode(sample["token_data"], dtype)
        if any(not same(a, b) for a, b in zip(tokens, first, strict=False)):
            return False
    return True


def length_ok(samples: list[dict], dtype: str) -> bool:
    return all(len(decode(s["data"], dtype)) == int(s["token_count"]) for s in samples)


def _check(fn, *args) -> tuple[bool, str | None]:
    try:
        return fn(*args), None
    except (DecodeError, KeyError, TypeError, ValueError) as e:  # the official script prints an error, fails
        return False, f"{fn.__name__}: {type(e).__name__}: {e}"


def verify(inp: Inputs, out: Path) -> Verdict:
    dtype = inp.dtype or default_dtype(inp)
    if dtype not in DTYPES:
        raise ValueError(f"TEST06 dtype must be one of {', '.join(DTYPES)}, not {dtype}")
    log = need_file(inp.compliance_dir / ACCURACY_LOG, f"{TEST} compliance run")
    samples = read_accuracy_log(log)
    errors = []
    eos, err = _check(eos_ok, samples, dtype, inp.eos_token_id)
    errors.append(err)
    first: bool | str = "Skipped"
    if inp.scenario != OFF:
        first, err = _check(first_token_ok, samples, dtype)
        errors.append(err)
    length, err = _check(length_ok, samples, dtype)
    errors.append(err)
    passed = bool(eos and first and length)
    lines = [f"First token check pass: {first}", f"EOS check pass: {eos}", f"Sample length check pass: {length}",
             f"{TEST} verification complete" if passed else f"{TEST} verification failed"]
    files = [write_text(out / "verify_accuracy.txt", "\n".join(lines) + "\n")]
    files += copy_into(inp.compliance_dir, out / "accuracy", ACCURACY_LOG)
    return Verdict(TEST, passed, lines, sorted(str(f.relative_to(out)) for f in files),
                   {"dtype": dtype, "eos_token_id": inp.eos_token_id, "samples": len(samples),
                    "errors": [e for e in errors if e]})
