"""bert models on the demo assets: the layout, onnxruntime and pytorch agreeing, batching padded to the longest
(or to the fixed 384 of an official-style export), fp16 on pytorch, and the model-side bad inputs."""

import json
import shutil
import sys

import numpy as np
import pytest

from mlperf_harness.errors import UsageError
from mlperf_harness.workloads.bert import demo, evaluate, model, squad

pytest.importorskip("torch")
pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    root = tmp_path_factory.mktemp("bert-demo")
    demo.write(root, 5, 11)
    return root


@pytest.fixture(scope="module")
def data(assets, tmp_path_factory):
    ds = assets / demo.DATASET_DIR
    return squad.load(ds / squad.DATASET, ds / squad.VOCAB, tmp_path_factory.mktemp("bert-cache"))


def _runner(assets, backend, precision="fp32", name=None):
    path = assets / demo.MODEL_DIR / (name or ("model.onnx" if backend == "onnxruntime" else "model.pytorch"))
    return model.create(backend, "cpu", path, 2, precision)


def test_demo_layout_and_formats(assets, data):
    ds, md = assets / demo.DATASET_DIR, assets / demo.MODEL_DIR
    assert sorted(p.name for p in ds.iterdir()) == ["dev-v1.1.json", "vocab.txt"]
    assert sorted(p.name for p in md.iterdir()) == ["bert_config.json", "model.onnx", "model.pytorch"]
    assert json.loads((ds / "dev-v1.1.json").read_text())["version"] == "1.1"
    vocab = (ds / "vocab.txt").read_text().splitlines()
    assert vocab[:5] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] and any(v.startswith("##") for v in vocab)
    config = json.loads((md / "bert_config.json").read_text())
    assert set(config) == set(model.REFERENCE_CONFIG) and config["vocab_size"] == len(vocab)
    assert config["num_hidden_layers"] == 2 and config["hidden_size"] == 64
    assert len(data.examples) == 5 and len(data.features) > 5  # the first paragraph needs two windows
    assert not any("[UNK]" in f.tokens for f in data.features)  # the vocabulary covers the demo text
    for ex in data.examples:  # every answer is in its paragraph
        assert ex.answers[0] in " ".join(ex.doc_tokens)


def test_onnx_model_has_the_reference_interface(assets, data):
    onnx = _runner(assets, "onnxruntime")
    inputs = {i.name: (i.type, len(i.shape)) for i in onnx.session.get_inputs()}
    assert inputs == {name: ("tensor(int64)", 2) for name in ("input_ids", "input_mask", "segment_ids")}
    assert onnx.outputs == ["output_start_logits", "output_end_logits"]
    assert onnx.seq_len is None  # the demo export leaves seq symbolic
    assert onnx.vocab_size == len((assets / demo.DATASET_DIR / "vocab.txt").read_text().splitlines())


def test_onnx_and_pytorch_agree_and_padding_to_the_longest_changes_nothing(assets, data):
    onnx, torch_ = _runner(assets, "onnxruntime"), _runner(assets, "pytorch")
    assert torch_.vocab_size == onnx.vocab_size
    feats = data.features
    a, b = onnx.run(feats), torch_.run(feats)
    longest = max(f.length for f in feats)
    assert a.shape == b.shape == (len(feats), longest, 2) and a.dtype == b.dtype == np.float32
    np.testing.assert_allclose(a, b, atol=1e-4)
    assert np.abs(a).max() > 1e-3  # not all zeros
    for i, f in enumerate(feats):  # batch 1 (no padding) gives each feature's logits
        alone = onnx.run([f])
        assert alone.shape == (1, f.length, 2)
        np.testing.assert_allclose(a[i, : f.length], alone[0], atol=1e-4)
    payloads = model.responses(a, feats)
    assert [len(p) for p in payloads] == [8 * f.length for f in feats]
    assert np.frombuffer(payloads[1], np.float32).reshape(-1, 2)[:, 0].tolist() == a[1, : feats[1].length, 0].tolist()


def test_fixed_384_export_is_padded_to_384(assets, data, tmp_path):
    import torch

    config = json.loads((assets / demo.MODEL_DIR / "bert_config.json").read_text())
    net = model.build_torch_model(config).eval()
    net.load_state_dict(torch.load(assets / demo.MODEL_DIR / "model.pytorch", weights_only=True))
    path = tmp_path / "model.onnx"

    class Wrapped(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, input_mask, segment_ids):
            out = self.inner(input_ids=input_ids, attention_mask=input_mask, token_type_ids=segment_ids)
            return out.start_logits, out.end_logits

    dummy = torch.ones((1, squad.MAX_SEQ_LENGTH), dtype=torch.int64)
    names = ["input_ids", "input_mask", "segment_ids", "output_start_logits", "output_end_logits"]
    with pytest.warns():
        torch.onnx.export(
            Wrapped(net), (dummy, dummy, dummy), str(path), input_names=names[:3], output_names=names[3:],
            opset_version=14, dynamic_axes={n: {0: "batch_size"} for n in names}, dynamo=False,
        )  # fmt: skip
    fixed = model.create("onnxruntime", "cpu", path, 2, "fp32")
    assert fixed.seq_len == squad.MAX_SEQ_LENGTH
    short = [f for f in data.features if f.length < 200][:3]
    out = fixed.run(short)
    assert out.shape == (3, squad.MAX_SEQ_LENGTH, 2)
    ref = _runner(assets, "onnxruntime").run(short)
    for i, f in enumerate(short):
        np.testing.assert_allclose(out[i, : f.length], ref[i, : f.length], atol=1e-4)


def test_fp16_on_pytorch_cpu(assets, data):
    fp32, fp16 = _runner(assets, "pytorch").run(data.features), _runner(assets, "pytorch", "fp16")
    assert next(fp16.model.parameters()).dtype == fp16.dtype == fp16.torch.float16
    out = fp16.run(data.features)
    assert out.dtype == np.float32  # logged as float32 whatever the compute precision
    np.testing.assert_allclose(out, fp32, atol=2e-2)


def test_fp16_on_onnxruntime(assets, data, monkeypatch):
    pytest.importorskip("onnx")
    fp32 = _runner(assets, "onnxruntime").run(data.features)
    fp16 = _runner(assets, "onnxruntime", "fp16")
    types = {i.name: i.type for i in fp16.session.get_inputs()}
    assert set(types.values()) == {"tensor(int64)"}  # inputs and outputs keep the reference's types
    assert {o.type for o in fp16.session.get_outputs()} == {"tensor(float)"}
    out = fp16.run(data.features)
    assert not np.array_equal(out, fp32)  # it did compute in half precision
    np.testing.assert_allclose(out, fp32, atol=2e-2)
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(UsageError, match="needs the onnx package"):
        _runner(assets, "onnxruntime", "fp16")


def test_unsupported_precision(assets):
    for backend in ("onnxruntime", "pytorch"):
        with pytest.raises(UsageError, match=f"int8 is not supported for bert on {backend}"):
            _runner(assets, backend, "int8")


def test_vocab_not_matching_the_model(assets, tmp_path):
    vocab = tmp_path / "vocab.txt"
    shutil.copy(assets / demo.DATASET_DIR / "vocab.txt", vocab)
    with vocab.open("a") as f:
        f.write("surplus\n")
    for backend in ("onnxruntime", "pytorch"):
        runner = _runner(assets, backend)
        with pytest.raises(UsageError) as e:
            squad.check_vocab(vocab, runner.vocab_size, runner_path := tmp_path / "m")
        assert str(vocab) in str(e.value) and str(runner_path) in str(e.value) and "\n" not in str(e.value)


def test_model_file_errors(assets, tmp_path):
    with pytest.raises(UsageError, match="does not exist"):
        model.create("onnxruntime", "cpu", tmp_path / "model.onnx", 1, "fp32")
    (tmp_path / "model.onnx").write_bytes(b"\x08\x07garbage")
    with pytest.raises(UsageError, match="model.onnx"):
        model.create("onnxruntime", "cpu", tmp_path / "model.onnx", 1, "fp32")
    (tmp_path / "model.pytorch").write_bytes(b"garbage")
    with pytest.raises(UsageError, match="torch cannot load"):
        model.create("pytorch", "cpu", tmp_path / "model.pytorch", 1, "fp32")
    # a checkpoint beside a config it does not fit
    shutil.copy(assets / demo.MODEL_DIR / "model.pytorch", tmp_path / "model.pytorch")
    with pytest.raises(UsageError) as e:  # no bert_config.json here: the BERT-Large config is assumed
        model.create("pytorch", "cpu", tmp_path / "model.pytorch", 1, "fp32")
    assert "30522x1024" in str(e.value) and "bert_config.json" in str(e.value)


def test_demo_end_to_end_accuracy_line(assets, data, tmp_path):
    """Both backends' logits through the accuracy path give the same answers and a checker-readable line."""
    lines = set()
    for backend in ("onnxruntime", "pytorch"):
        logits = _runner(assets, backend).run(data.features)
        payloads = model.responses(logits, data.features)
        log = [{"seq_id": i, "qsl_idx": i, "data": p.hex()} for i, p in enumerate(payloads)]
        (tmp_path / "acc.json").write_text(json.dumps(log))
        out = evaluate.evaluate(tmp_path / "acc.json", data)
        assert out["questions"] == 5 and len(out["predictions"]) == 5
        lines.add((evaluate.line(out), tuple(sorted(out["predictions"].items()))))
    assert len(lines) == 1


def test_prepare_checks_the_vocab_before_tokenizing(assets, tmp_path):
    ds = tmp_path / "squad"
    shutil.copytree(assets / demo.DATASET_DIR, ds)
    onnx_path = assets / demo.MODEL_DIR / "model.onnx"
    runner, data = model.prepare("onnxruntime", "cpu", onnx_path, ds, tmp_path / "cache", 1, "fp32", count=2)
    assert len(data.features) == 2 and runner.vocab_size == len((ds / "vocab.txt").read_text().splitlines())
    with (ds / "vocab.txt").open("a") as f:
        f.write("surplus\n")
    with pytest.raises(UsageError) as e:
        model.prepare("pytorch", "cpu", assets / demo.MODEL_DIR / "model.pytorch", ds, tmp_path / "c2", 1, "fp32")
    assert str(ds / "vocab.txt") in str(e.value) and "\n" not in str(e.value)
    assert not (tmp_path / "c2").exists()  # refused before any feature was built
