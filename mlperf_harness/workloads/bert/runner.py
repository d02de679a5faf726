"""`run --model bert-99|bert-99.9`: the BERT hooks of the run skeleton, and `accuracy` for them.

The QSL is over SQuAD features (one per window of a paragraph). Offline: the issued features are ordered by
length and cut into batches of at most max_batch, each padded to its longest feature (to the model's fixed
length when its sequence axis is fixed, as the official model.onnx's 384); Server: the pool merges queued queries
up to max_batch; SingleStream: batch 1. Each response is the feature's (start, end) float32 logits over its real
positions, pointed at inside the batch's logits (LoadGen copies them), as the reference logs them.
"""

import sys
import tempfile
from pathlib import Path

from ...errors import UsageError
from ..base import Runner, insert_before
from . import evaluate, layout, model, squad


def length_batches(lengths, max_batch: int):
    """The pool's split for Offline: (ids, indices) -> batches of features of similar length, longest first."""

    def split(ids: list, indices: list):
        if len(ids) <= 1:
            return [(ids, indices)]
        order = sorted(range(len(ids)), key=lambda k: -lengths[indices[k]])
        return [
            ([ids[k] for k in chunk], [indices[k] for k in chunk])
            for chunk in (order[i : i + max_batch] for i in range(0, len(order), max_batch))
        ]

    return split


def scores_line(scores: dict) -> str:
    return evaluate.line(scores)


def coverage_note(scores: dict) -> str | None:
    """A validity note when the accuracy log answers fewer questions than the dataset holds."""
    if scores["questions"] >= scores["total_questions"]:
        return None
    return (
        f"the accuracy log covers {scores['questions']} of the {scores['total_questions']} SQuAD questions "
        "(--count): exact_match and f1 are over those only, not the dataset's score"
    )


def command(a) -> int:
    """`accuracy --model bert-99|bert-99.9`: the accuracy.txt line of an accuracy log, as the reference's
    accuracy-squad.py with evaluate_v1.1.py; --output writes it. Features come from --dataset-dir's
    dev-v1.1.json and vocab.txt (tokenized in a temporary cache: nothing is written in the working directory)."""
    if getattr(a, "dataset_dir", None) is None:
        raise UsageError(f"{a.model} scoring needs the dataset", f"pass --dataset-dir holding {layout.DATASET}")
    with tempfile.TemporaryDirectory(prefix="bert-features-") as cache:
        scores = evaluate.accuracy(Path(a.mlperf_accuracy_file), Path(a.dataset_dir), Path(cache))
    line = scores_line(scores)
    print(line)
    note = coverage_note(scores)
    if note:
        print(f"note: {note}", file=sys.stderr)
    if a.output:
        Path(a.output).write_text(line + "\n")
    return 0


class BertRunner(Runner):
    def __init__(self, workload, args):
        super().__init__(workload, args)
        self.batching = args.scenario != "SingleStream"

    def prepare(self) -> None:
        a = self.a
        model.check_precision(a.backend, a.precision)
        model.check_model_file(Path(a.model_path), a.backend)
        layout.check_dataset(Path(a.dataset_dir))
        squad.read_vocab(Path(a.dataset_dir) / layout.VOCAB)

    def defaults(self) -> tuple[int, int, int]:
        threads, batch, workers = super().defaults()
        return threads, batch if self.batching else 1, workers

    def load(self, out: Path):
        a = self.a
        cache_root = Path(a.cache_dir).resolve() if a.cache_dir else out / "cache"
        self.model, self.data = model.prepare(
            a.backend, a.device, Path(a.model_path), Path(a.dataset_dir), cache_root, self.threads, a.precision, a.count
        )
        return self.data

    def banner(self) -> str:
        d = self.data
        seq = f"padded to {self.model.seq_len}" if self.model.seq_len else "padded to each batch's longest"
        return (
            f"{super().banner()}: {len(d)} features of {len(d.examples)} questions "
            f"({'newly tokenized' if d.built else 'from the cache'}), threads={self.threads}, batch={self.batch} "
            f"({seq}), workers={self.workers}"
        )

    def warm_up(self) -> None:
        self.model.run(self.data.features[: self.batch])

    def splitter(self):
        if self.a.scenario != "Offline":
            return None
        return length_batches([f.length for f in self.data.features], self.batch)

    def answerer(self):
        import mlperf_loadgen as lg

        qsr, run, batch, views = lg.QuerySampleResponse, self.model.run, self.data.batch, model.response_views

        def answer(ids, indices):
            features = batch(indices)
            logits = run(features)
            responses = [qsr(q, address, size) for q, (address, size) in zip(ids, views(logits, features), strict=True)]
            return responses, logits

        return answer

    def facts(self, facts: dict) -> dict:
        extra = {"questions": len(self.data.examples), "sequence_length": self.model.seq_len or "longest in batch"}
        return insert_before(facts, "compliance_audit", extra)

    def framework(self) -> dict:
        return {"name": self.model.name, "version": self.model.version}

    def score(self, out: Path, result: dict) -> None:
        """Answers from the accuracy log's logits, scored as SQuAD v1.1, into accuracy.txt."""
        scores = evaluate.evaluate(out / "mlperf_log_accuracy.json", self.data)
        line = scores_line(scores)
        (out / "accuracy.txt").write_text(line + "\n")
        print(line)
        result["metric"] = {"name": "f1", "value": round(scores["f1"], 6), "unit": "%"}
        result["accuracy"] = {k: scores[k] for k in ("exact_match", "f1", "questions", "total_questions")}
        note = coverage_note(scores)
        if note:
            result["validity_notes"].append(note)
