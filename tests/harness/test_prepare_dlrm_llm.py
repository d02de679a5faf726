"""`prepare` for dlrm-v2 (Criteo day 23, the torchsnapshot checkpoint) and the LLMs (CNN/DailyMail, OpenOrca):
small raw fixtures in the published formats -> the preparer -> the family's own loader; bad input -> one line
naming the file."""

import gzip
import json
import random
from pathlib import Path

import numpy as np
import pytest

from mlperf_harness import workloads
from mlperf_harness.errors import UsageError


def hook(model, kind="dataset"):
    w = workloads.get(model)
    return workloads.base.load(w.checkpoint_preparer if kind == "checkpoint" else w.dataset_preparer)


def one_line(excinfo, *names):
    text = str(excinfo.value)
    assert "\n" not in text
    for name in names:
        assert name in text, text


# -- dlrm-v2: Criteo 1TB days -> day_23 multi-hot -------------------------------------------------------------------
SMALL_TABLES = (50, 7, 3, 11, 5, 3, 9, 4, 6, 60, 13, 8, 10, 12, 9, 5, 4, 7, 14, 70, 80, 65, 10, 12, 6, 3)


def criteo_line(rng: random.Random, pool: int) -> str:
    label = str(rng.randint(0, 1))
    dense = ["" if rng.random() < 0.2 else str(rng.randint(-2, 500)) for _ in range(13)]
    cats = ["" if rng.random() < 0.1 else f"{rng.randrange(pool) * 2654435761 % 2**32:08x}" for _ in range(26)]
    return "\t".join([label, *dense, *cats]) + "\n"


def criteo_raw(root: Path, rows=(5, 3, 4), day23_rows=9) -> Path:
    """day_0..day_23 as the Criteo 1TB logs publish them (TSV; day_1 gzipped), few rows, a small value pool."""
    raw = root / "criteo"
    raw.mkdir(parents=True)
    rng = random.Random(7)
    for d in range(24):
        n = day23_rows if d == 23 else rows[d % len(rows)]
        text = "".join(criteo_line(rng, 40) for _ in range(n))
        if d == 1:
            with gzip.open(raw / "day_1.gz", "wt") as f:
                f.write(text)
        else:
            (raw / f"day_{d}").write_text(text)
    return raw


def reference_day23(raw: Path, table_sizes, hotness):
    """The reference's recipe, written plainly: parse, contiguous ids over days 0..23, whole lookup tables."""
    days = []
    for d in range(24):
        p = raw / f"day_{d}"
        text = gzip.open(p.with_suffix(".gz"), "rt").read() if not p.exists() else p.read_text()
        days.append([line.split("\t") for line in text.splitlines()])
    maps = [{} for _ in range(26)]
    for c in range(26):
        for rows in days:
            for r in rows:
                maps[c].setdefault(int(r[14 + c] or "0", 16), len(maps[c]) + 2)
    rows = days[23]
    ids = np.array([[maps[c][int(r[14 + c] or "0", 16)] for c in range(26)] for r in rows])
    dense = np.log(np.array([[int(v or "0") for v in r[1:14]] for r in rows], np.int32) + 3, dtype=np.float32)
    labels = np.array([[int(r[0])] for r in rows], np.int32)
    np.random.seed(0)
    tables = [np.concatenate([np.arange(n)[:, None], np.random.randint(0, n, size=(n, h - 1))], axis=-1)
              for n, h in zip(table_sizes, hotness, strict=True)]
    return dense, labels, [tables[k][ids[:, k] % table_sizes[k]].astype(np.int32) for k in range(26)]


def test_dlrm_prepare_from_the_raw_days_matches_the_reference_recipe(tmp_path, monkeypatch):
    from mlperf_harness.workloads.dlrm import MULTI_HOT_SIZES
    from mlperf_harness.workloads.dlrm import prepare as dlrm_prepare
    from mlperf_harness.workloads.dlrm.dataset import Queries, open_day

    monkeypatch.setattr(dlrm_prepare, "CHUNK_DRAWS", 40)  # several draws per table: the stream must not change
    raw = criteo_raw(tmp_path)
    dest = tmp_path / "out"
    dest.mkdir()
    summary = hook("dlrm-v2-99")(raw, dest, "dlrm-v2-99", None, table_sizes=SMALL_TABLES)
    assert summary["samples"] == 9 and summary["source"] == "day_23"
    dense, labels, sparse = open_day(dest, validation_half=False)
    want_dense, want_labels, want_sparse = reference_day23(raw, SMALL_TABLES, MULTI_HOT_SIZES)
    np.testing.assert_array_equal(dense, want_dense)
    np.testing.assert_array_equal(labels, want_labels[:, 0])
    for k in range(26):
        np.testing.assert_array_equal(sparse[k], want_sparse[k], err_msg=f"table {k}")
    assert len(Queries(dest, fixed=2)) == 3  # the evaluation half, 5 rows, as queries of 2
    # --count keeps the first rows, exactly
    sub = tmp_path / "sub"
    sub.mkdir()
    hook("dlrm-v2-99")(raw, sub, "dlrm-v2-99", 4, table_sizes=SMALL_TABLES)
    _, _, few = open_day(sub, validation_half=False)
    for k in range(26):
        np.testing.assert_array_equal(few[k], want_sparse[k][:4])


def test_dlrm_prepare_from_torchrecs_preprocessed_day(tmp_path):
    from mlperf_harness.workloads.dlrm.dataset import open_day

    raw = tmp_path / "npy"
    raw.mkdir()
    rng = np.random.default_rng(3)
    sparse = rng.integers(2, 500, size=(6, 26)).astype(np.int32)
    np.save(raw / "day_23_sparse.npy", sparse)
    np.save(raw / "day_23_dense.npy", rng.random((6, 13), np.float32))
    np.save(raw / "day_23_labels.npy", rng.integers(0, 2, (6, 1)).astype(np.int32))
    dest = tmp_path / "out"
    dest.mkdir()
    hook("dlrm-v2-99")(raw, dest, "dlrm-v2-99", None, table_sizes=SMALL_TABLES)
    dense, _, got = open_day(dest, validation_half=False)
    assert dense.shape == (6, 13)
    for k in range(26):
        np.testing.assert_array_equal(got[k][:, 0], sparse[:, k] % SMALL_TABLES[k])


def test_dlrm_prepare_bad_raw_is_one_line(tmp_path):
    raw = criteo_raw(tmp_path)
    (raw / "day_5").write_text("1\t2\t3\n")
    with pytest.raises(UsageError) as e:
        hook("dlrm-v2-99")(raw, tmp_path, "dlrm-v2-99", None, table_sizes=SMALL_TABLES)
    one_line(e, "day_5:1", "3 tab-separated fields")
    (raw / "day_5").unlink()
    with pytest.raises(UsageError) as e:
        hook("dlrm-v2-99")(raw, tmp_path, "dlrm-v2-99", None, table_sizes=SMALL_TABLES)
    one_line(e, "day_5", "all 24 days")


# -- dlrm-v2: the torchsnapshot checkpoint ------------------------------------------------------------------------
def write_torchsnapshot(root: Path, state: dict, table_keys: list[str], world_size=2) -> None:
    """A snapshot as torchsnapshot's Snapshot.take lays it out for app_state {"model": module}: a JSON
    .snapshot_metadata whose manifest maps "<rank>/model/<escaped key>" to entries; replicated dense tensors once,
    in rank 0's manifest, batched into one slab file read by byte range (buffer_protocol) or torch.save'd; each
    table a ShardedTensor split by rows over the ranks, each shard in its own file under sharded/."""
    import io

    import torch

    manifest = {f"{r}/model": {"type": "OrderedDict", "keys": list(state)} for r in range(world_size)}
    slab = bytearray()
    (root / "replicated").mkdir(parents=True)
    (root / "sharded").mkdir()
    for n, (key, t) in enumerate(state.items()):
        escaped = key.replace("%", "%25").replace("/", "%2F")
        if key in table_keys:
            rows = t.shape[0]
            cut = [0, rows // 2, rows]
            for r in range(world_size):
                part = t[cut[r] : cut[r + 1]].contiguous()
                loc = f"sharded/{escaped}_{r}"
                (root / loc).write_bytes(part.numpy().tobytes())
                shard = {"offsets": [cut[r], 0], "sizes": list(part.shape),
                         "tensor": {"type": "Tensor", "location": loc, "serializer": "buffer_protocol",
                                    "dtype": "torch.float32", "shape": list(part.shape), "replicated": False,
                                    "byte_range": None}}
                manifest[f"{r}/model/{escaped}"] = {"type": "ShardedTensor", "shards": [shard]}
        elif n % 3 == 0:
            buf = io.BytesIO()
            torch.save(t, buf)
            (root / "replicated" / f"{escaped}").write_bytes(buf.getvalue())
            manifest[f"0/model/{escaped}"] = {"type": "Tensor", "location": f"replicated/{escaped}",
                                              "serializer": "torch_save", "dtype": str(t.dtype),
                                              "shape": list(t.shape), "replicated": True, "byte_range": None}
        else:
            start = len(slab)
            slab += t.contiguous().numpy().tobytes()
            manifest[f"0/model/{escaped}"] = {"type": "Tensor", "location": "replicated/batched_0",
                                              "serializer": "buffer_protocol", "dtype": str(t.dtype),
                                              "shape": list(t.shape), "replicated": True,
                                              "byte_range": [start, len(slab)]}
    (root / "replicated" / "batched_0").write_bytes(bytes(slab))
    meta = {"version": "0.1.0", "world_size": world_size, "manifest": manifest}
    (root / ".snapshot_metadata").write_text(json.dumps(meta, indent=2))


def dlrm_state(seed=5, rows=6):
    import torch

    from mlperf_harness.workloads.dlrm.model import TABLE_KEY, seeded_dense

    state = {f"model.{k}": v for k, v in seeded_dense(seed).state_dict().items()}
    gen = torch.Generator().manual_seed(seed)
    tables = {TABLE_KEY.format(k): torch.randn((rows + k % 3, 128), generator=gen) for k in range(26)}
    return {**state, **tables}, list(tables)


def test_dlrm_checkpoint_from_a_torchsnapshot(tmp_path):
    import torch

    from mlperf_harness.workloads.dlrm.model import load

    state, table_keys = dlrm_state()
    raw = tmp_path / "raw"
    write_torchsnapshot(raw / "model_weights", state, table_keys)
    dest = tmp_path / "ckpt"
    dest.mkdir()
    summary = hook("dlrm-v2-99", "checkpoint")(raw, dest, "dlrm-v2-99", None)
    assert summary["tables"] == 26 and summary["source"] == "model_weights"
    model = load(dest, mmap=False)
    for k, key in enumerate(table_keys):
        torch.testing.assert_close(model.tables.tables[k], state[key], rtol=0, atol=0)
    got = model.dense.state_dict()
    for key, value in got.items():
        torch.testing.assert_close(value, state[f"model.{key}"], rtol=0, atol=0)
    rng = np.random.default_rng(0)
    dense = rng.random((3, 13), np.float32)
    sparse = [rng.integers(0, 6, (3, 2)).astype(np.int32) for _ in range(26)]
    assert model.predict(dense, sparse).shape == (3,)


class _AppState:
    """What the reference restores into (DLRMTrain's state dict), as a torchsnapshot Stateful."""

    def __init__(self, state):
        self.state = state

    def state_dict(self):
        return dict(self.state)

    def load_state_dict(self, state):
        self.state = state


def test_dlrm_checkpoint_written_by_torchsnapshot(tmp_path):
    import torch
    import torchsnapshot

    from mlperf_harness.workloads.dlrm.model import load

    state, table_keys = dlrm_state(seed=9)
    raw = tmp_path / "raw"
    torchsnapshot.Snapshot.take(path=str(raw / "model_weights"), app_state={"model": _AppState(state)})
    dest = tmp_path / "ckpt"
    dest.mkdir()
    hook("dlrm-v2-99", "checkpoint")(raw, dest, "dlrm-v2-99", None)
    model = load(dest, mmap=False)
    for k, key in enumerate(table_keys):
        assert torch.equal(model.tables.tables[k], state[key]), key
    assert all(torch.equal(v, state[f"model.{n}"]) for n, v in model.dense.state_dict().items())


def test_dlrm_checkpoint_bad_snapshot_is_one_line(tmp_path):
    state, table_keys = dlrm_state()
    raw = tmp_path / "raw"
    write_torchsnapshot(raw, state, table_keys)
    missing = raw / "sharded" / (table_keys[4].replace("/", "%2F") + "_1")
    missing.unlink()
    with pytest.raises(UsageError) as e:
        hook("dlrm-v2-99", "checkpoint")(raw, tmp_path / "out", "dlrm-v2-99", None)
    one_line(e, str(missing), "does not exist")
    (raw / ".snapshot_metadata").write_text("{}")
    with pytest.raises(UsageError) as e:
        hook("dlrm-v2-99", "checkpoint")(raw, tmp_path / "out", "dlrm-v2-99", None)
    one_line(e, ".snapshot_metadata", "manifest")


# -- gptj: CNN/DailyMail 3.0.0 validation -> cnn_eval.json ---------------------------------------------------------
def cnndm_rows(n=5):
    return [{"article": f"Article {i} — “quoted” text.\nSecond line {i}.", "highlights": f"Summary {i}.",
             "id": f"{i:040x}"} for i in range(n)]


def test_gptj_prepare_from_the_validation_split(tmp_path):
    from mlperf_harness.workloads.llm.datasets import PROMPT_WITH_INPUT, read_cnndm

    raw = tmp_path / "raw" / "cnn_dailymail" / "3.0.0"
    raw.mkdir(parents=True)
    rows = cnndm_rows()
    (raw / "validation.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    dest = tmp_path / "out"
    dest.mkdir()
    summary = hook("gptj-99")(tmp_path / "raw", dest, "gptj-99", None)
    assert summary == {"samples": 5, "layout": "cnn_eval.json", "source": "cnn_dailymail/3.0.0/validation.jsonl"}
    text = (dest / "cnn_eval.json").read_text(encoding="utf-8")
    assert "“quoted”" in text  # ensure_ascii=False, as the reference writes it
    records = json.loads(text)
    assert records[2] == {"instruction": "Summarize the following news article:", "input": rows[2]["article"],
                          "output": "Summary 2."}

    class Tok:  # the loader's tokenizer call, recorded (the prompt format is what is checked here)
        def __call__(self, prompts, truncation, max_length):
            self.prompts = prompts
            return {"input_ids": [[len(p)] for p in prompts]}

    tok = Tok()
    samples = read_cnndm(dest / "cnn_eval.json", tok, 1919, count=3)
    assert len(samples) == 3 and samples.targets == ["Summary 0.", "Summary 1.", "Summary 2."]
    assert tok.prompts[1] == PROMPT_WITH_INPUT.format(instruction="Summarize the following news article:",
                                                      input=rows[1]["article"])
    # a JSON list works too, and --count keeps the first records
    (raw / "validation.jsonl").unlink()
    (raw / "validation.json").write_text(json.dumps(rows))
    hook("gptj-99")(tmp_path / "raw", dest, "gptj-99", 2)
    assert [r["output"] for r in json.loads((dest / "cnn_eval.json").read_text())] == ["Summary 0.", "Summary 1."]


def test_gptj_prepare_bad_raw_is_one_line(tmp_path):
    (tmp_path / "validation.jsonl").write_text('{"article": "a", "highlights": "b"}\n{"article": "c"}\n')
    with pytest.raises(UsageError) as e:
        hook("gptj-99")(tmp_path, tmp_path, "gptj-99", None)
    one_line(e, "validation.jsonl record 1", "highlights")
    (tmp_path / "validation.jsonl").unlink()
    (tmp_path / "validation-00000-of-00001.parquet").write_bytes(b"PAR1")
    with pytest.raises(UsageError) as e:
        hook("gptj-99")(tmp_path, tmp_path, "gptj-99", None)
    one_line(e, "validation-00000-of-00001.parquet")


# -- llama2-70b: Open-Orca 1M-GPT4-Augmented -> the sampled pickle -------------------------------------------------
BAD_PROMPT = "Explain how you used the definition to come up with the answer."


def orca_rows(per_origin=140):
    """Rows of every origin, with known rejects: non-ASCII, a long or 2-token answer, a bad niv/t0 prompt."""
    rng = random.Random(11)
    words = ["alpha", "beta", "gamma", "delta", "omega", "river", "stone", "light", "north", "quiet"]
    rows, rejects = [], set()
    for origin in ("t0", "cot", "niv", "flan"):  # not sorted: the reference's groupby sorts them
        for i in range(per_origin):
            rid = f"{origin}.{i}"
            system = {7: BAD_PROMPT, 8: ""}.get(i % 50, "You are a helpful assistant.")
            answer = " ".join(rng.choice(words) for _ in range(rng.randint(3, 12)))
            question = " ".join(rng.choice(words) for _ in range(rng.randint(3, 20))) + "?"
            kind = i % 97
            if kind == 1:
                question += " café"
                rejects.add(rid)
            elif kind == 2:
                answer = " ".join(["stone"] * 1100)
                rejects.add(rid)
            elif kind == 3:
                answer = ""  # the BOS alone: under 3 tokens
                rejects.add(rid)
            elif kind == 4:
                question += " “fine” — ok"  # the allowed non-ASCII
            if system in ("", BAD_PROMPT) and origin in ("niv", "t0"):  # kept for cot and flan
                rejects.add(rid)
            rows.append({"id": rid, "system_prompt": system, "question": question, "response": answer})
    return rows, rejects


def llama_tokenizer_dir(root: Path) -> Path:
    from mlperf_harness.workloads.llm.demo import _corpus, _llama_tokenizer, _words

    rng = random.Random(3)
    tok = _llama_tokenizer(_corpus(rng, _words(rng, 300)) + ["alpha beta gamma delta omega river stone light"])
    folder = root / "models" / "Llama-2-70b-chat-hf"
    tok.save_pretrained(folder)
    return folder


def test_llama2_prepare_follows_processorca(tmp_path, monkeypatch):
    import pandas as pd

    from mlperf_harness.workloads.llm import prepare as llm_prepare
    from mlperf_harness.workloads.llm.datasets import read_openorca

    monkeypatch.setattr(llm_prepare, "SAMPLES", 400)  # the reference's 24576 = 4 x 6144 needs ~26k raw rows

    raw = tmp_path / "raw"
    llama_tokenizer_dir(raw)
    rows, rejects = orca_rows()
    (raw / "1M-GPT4-Augmented.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    dest = tmp_path / "out"
    dest.mkdir()
    summary = hook("llama2-70b-99")(raw, dest, "llama2-70b-99", None)
    assert summary["samples"] == 400 and summary["raw_rows"] == len(rows)
    frame = pd.read_pickle(dest / "open_orca_gpt4_tokenized_llama.sampled_24576.pkl")
    assert not set(frame["id"]) & rejects
    assert frame["origin"].value_counts().to_dict() == {o: 100 for o in ("cot", "flan", "niv", "t0")}
    assert list(frame["origin"].iloc[[0, 100, 200, 300]]) == ["cot", "flan", "niv", "t0"]
    assert "flan.7" in set(pool_ids := frame["id"]) or "flan.57" in set(pool_ids)  # bad prompts stay for flan
    # the draw: pandas' sample(100, random_state=1337) of each origin's kept rows, in the raw order
    kept = [r for r in rows if r["id"] not in rejects]
    for n, origin in enumerate(("cot", "flan", "niv", "t0")):
        pool = pd.DataFrame([r for r in kept if r["id"].startswith(origin + ".")])
        want = list(pool.sample(n=100, random_state=1337)["id"])
        assert list(frame["id"].iloc[n * 100 : (n + 1) * 100]) == want, origin
    row = frame.iloc[5]
    prompt = (f"<s>[INST] <<SYS>>\n{row.system_prompt}\n<</SYS>>\n\n{row.question} [/INST]" if row.system_prompt
              else f"<s>[INST] {row.question} [/INST]")
    assert row["input"] == prompt and row["tok_input"][-1] == 29871
    samples = read_openorca(dest / "open_orca_gpt4_tokenized_llama.sampled_24576.pkl", count=4)
    assert samples.input_ids[0] == [int(t) for t in frame["tok_input"].iloc[0]]
    assert samples.targets[3] == frame["output"].iloc[3]


def test_llama2_prepare_bad_raw_is_one_line(tmp_path):
    llama_tokenizer_dir(tmp_path)
    rows, _ = orca_rows(per_origin=60)
    (tmp_path / "1M-GPT4-Augmented.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(UsageError) as e:
        hook("llama2-70b-99")(tmp_path, tmp_path, "llama2-70b-99", None)
    one_line(e, "fewer than the 6144", "niv")
    (tmp_path / "1M-GPT4-Augmented.jsonl").write_text('{"id": "cot.1", "question": "q"}\n')
    with pytest.raises(UsageError) as e:
        hook("llama2-70b-99")(tmp_path, tmp_path, "llama2-70b-99", None)
    one_line(e, "1M-GPT4-Augmented.jsonl record 0", "system_prompt")
