"""BERT-Large for SQuAD as the reference ships it, on onnxruntime or pytorch.

- onnxruntime: `model.onnx`, int64 inputs `input_ids`, `input_mask`, `segment_ids` ([batch, seq]) and two
  outputs, start then end logits ([batch, seq]). The official file fixes seq at 384 (only the batch axis is
  dynamic): such a model gets every batch padded to 384; one with a symbolic seq axis gets the batch's longest.
- pytorch: `model.pytorch`, a torch.save'd state_dict of transformers' BertForQuestionAnswering, loaded into
  the model built from `bert_config.json` beside it when there is one, else from the reference's BERT-Large
  config (what the reference's pytorch SUT does: its bert_config.json is that config).

run(features) pads the batch, runs the model and returns float32 logits (batch, seq, 2): [..., 0] start and
[..., 1] end, so row i's first len(feature i) positions are the bytes the reference logs for that feature.
"""

import json
import mmap
from pathlib import Path

import numpy as np

from ...errors import UsageError
from ...frameworks import onnxruntime
from ...frameworks import torch as framework
from . import squad
from .layout import CONFIG_FILE
from .squad import MAX_SEQ_LENGTH, Feature

ONNX_INPUTS = ("input_ids", "input_mask", "segment_ids")
# language/bert/bert_config.json of the reference (BERT-Large, uncased vocabulary)
REFERENCE_CONFIG = {
    "attention_probs_dropout_prob": 0.1,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1,
    "hidden_size": 1024,
    "initializer_range": 0.02,
    "intermediate_size": 4096,
    "max_position_embeddings": 512,
    "num_attention_heads": 16,
    "num_hidden_layers": 24,
    "type_vocab_size": 2,
    "vocab_size": 30522,
}
PRECISIONS = {"onnxruntime": ("fp32", "fp16"), "pytorch": ("fp32", "fp16")}
WORD_EMBEDDINGS = "bert.embeddings.word_embeddings.weight"


def pad_batch(features: list[Feature], seq_len: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(input_ids, input_mask, segment_ids) int64 (batch, L): L = seq_len, or the batch's longest feature."""
    n = len(features)
    length = seq_len or max(f.length for f in features)
    ids, mask, seg = np.zeros((n, length), np.int64), np.zeros((n, length), np.int64), np.zeros((n, length), np.int64)
    for i, f in enumerate(features):
        k = f.length
        ids[i, :k] = f.input_ids
        mask[i, :k] = 1
        seg[i, :k] = f.segment_ids
    return ids, mask, seg


def check_precision(backend: str, precision: str) -> None:
    if precision not in PRECISIONS[backend]:
        raise UsageError(
            f"--precision {precision} is not supported for bert on {backend}",
            f"use one of {', '.join(PRECISIONS[backend])}",
        )


def check_model_file(path: Path, backend: str) -> None:
    expected = "model.onnx" if backend == "onnxruntime" else "model.pytorch"
    if not path.is_file():
        raise UsageError(f"model file {path} does not exist", f"pass --model-path to the reference's {expected}")


# --- onnxruntime ---


def _varint(buf, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7


def _fields(buf, start: int, end: int):
    """(field number, wire type, value or (offset, end)) of one protobuf message in buf[start:end]."""
    pos = start
    while pos < end:
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
            yield number, wire, value
        elif wire == 2:
            size, pos = _varint(buf, pos)
            yield number, wire, (pos, pos + size)
            pos += size
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        else:
            raise ValueError(f"protobuf wire type {wire}")


def onnx_vocab_size(path: Path) -> int | None:
    """Rows of the token embedding table (the initializer Gather-ed by input_ids), read straight from the
    protobuf so no `onnx` package is needed; None when the graph does not show it."""
    with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        graph = next(((a, b) for n, w, (a, b) in _typed(_fields(buf, 0, len(buf)), 7)), None)
        if graph is None:
            return None
        table_name, dims = None, {}
        for number, _, (a, b) in _typed(_fields(buf, *graph), 1, 5):
            if number == 1:  # NodeProto: input (1), op_type (4)
                inputs, op = [], ""
                for n2, w2, v in _fields(buf, a, b):
                    if n2 == 1 and w2 == 2:
                        inputs.append(bytes(buf[v[0] : v[1]]).decode())
                    elif n2 == 4 and w2 == 2:
                        op = bytes(buf[v[0] : v[1]]).decode()
                if op == "Gather" and len(inputs) == 2 and inputs[1] == "input_ids":
                    table_name = inputs[0]
            else:  # TensorProto: dims (1, packed or not), name (8)
                shape, name = [], ""
                for n2, w2, v in _fields(buf, a, b):
                    if n2 == 1 and w2 == 0:
                        shape.append(v)
                    elif n2 == 1 and w2 == 2:
                        p = v[0]
                        while p < v[1]:
                            d, p = _varint(buf, p)
                            shape.append(d)
                    elif n2 == 8 and w2 == 2:
                        name = bytes(buf[v[0] : v[1]]).decode()
                if len(shape) == 2:
                    dims[name] = shape
        if table_name in dims:
            return dims[table_name][0]
        named = [d for n, d in dims.items() if n.endswith("word_embeddings.weight")]
        return named[0][0] if len(named) == 1 else None


def _typed(fields, *numbers):
    for number, wire, value in fields:
        if wire == 2 and number in numbers:
            yield number, wire, value


class OnnxBert:
    name = "onnxruntime"

    def __init__(self, path: Path, device: str, threads: int, precision: str):
        check_precision(self.name, precision)
        try:
            self.vocab_size = onnx_vocab_size(path)
        except (ValueError, IndexError, OSError):
            raise UsageError(f"{path} is not an ONNX model", "pass the reference's model.onnx") from None
        source = _fp16_bytes(path) if precision == "fp16" else path
        self.session = onnxruntime.session(source, device, threads, "pass a valid model.onnx", name=path)
        inputs = {i.name: i for i in self.session.get_inputs()}
        if set(inputs) != set(ONNX_INPUTS) or any(i.type != "tensor(int64)" for i in inputs.values()):
            got = ", ".join(f"{i.name}:{i.type}" for i in inputs.values())
            raise UsageError(
                f"{path} takes {got}", f"pass a BERT model.onnx with int64 inputs {', '.join(ONNX_INPUTS)}"
            )
        outputs = self.session.get_outputs()
        if len(outputs) != 2:
            raise UsageError(f"{path} has {len(outputs)} outputs", "pass a BERT model.onnx with start and end logits")
        self.outputs = [o.name for o in outputs]
        seq = inputs["input_ids"].shape[1] if len(inputs["input_ids"].shape) == 2 else None
        self.seq_len = seq if isinstance(seq, int) else None
        if self.seq_len is not None and self.seq_len < MAX_SEQ_LENGTH:
            raise UsageError(
                f"{path} takes sequences of {self.seq_len} tokens", f"pass a model taking {MAX_SEQ_LENGTH}"
            )
        self.version = onnxruntime.version()
        self.threads = threads

    def run(self, features: list[Feature]) -> np.ndarray:
        ids, mask, seg = pad_batch(features, self.seq_len)
        start, end = self.session.run(self.outputs, {"input_ids": ids, "input_mask": mask, "segment_ids": seg})
        return np.stack((start, end), axis=-1).astype(np.float32, copy=False)


def _fp16_bytes(path: Path) -> bytes:
    """The model with float16 weights and compute, int64 inputs and float32 outputs kept (converted in memory
    with onnxruntime's own converter, which needs the `onnx` package)."""
    try:
        import onnx
        from onnxruntime.transformers.float16 import convert_float_to_float16
    except ImportError as e:
        raise UsageError(f"fp16 on onnxruntime needs the onnx package ({e})", "use --precision fp32") from None
    return convert_float_to_float16(onnx.load(str(path)), keep_io_types=True).SerializeToString()


# --- pytorch ---


def read_config(path: Path) -> dict:
    """bert_config.json beside the checkpoint, else the reference's BERT-Large config."""
    config_file = path.parent / CONFIG_FILE
    if not config_file.is_file():
        return dict(REFERENCE_CONFIG)
    try:
        config = json.loads(config_file.read_text())
    except json.JSONDecodeError as e:
        raise UsageError(f"{config_file} is not valid JSON ({e.msg})", "use the reference's bert_config.json") from None
    missing = [k for k in REFERENCE_CONFIG if k not in config]
    if missing:
        raise UsageError(f"{config_file} lacks {', '.join(missing)}", "use the reference's bert_config.json")
    return {k: config[k] for k in REFERENCE_CONFIG}


def build_torch_model(config: dict):
    """transformers' BertForQuestionAnswering for a reference-style config (the same path for every size)."""
    from transformers import BertConfig, BertForQuestionAnswering

    return BertForQuestionAnswering(BertConfig(**config))


def load_state(path: Path) -> dict:
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - torch raises several unpickling error types
        raise UsageError(
            f"torch cannot load {path}: {str(e).splitlines()[0]}", "pass the reference's model.pytorch"
        ) from None
    if not isinstance(state, dict) or WORD_EMBEDDINGS not in state or "qa_outputs.weight" not in state:
        raise UsageError(f"{path} is not a BertForQuestionAnswering state_dict", "pass the reference's model.pytorch")
    return state


class TorchBert:
    name = "pytorch"

    def __init__(self, path: Path, device: str, threads: int, precision: str):
        import torch

        check_precision(self.name, precision)
        self.torch = torch
        self.device = framework.device(device)
        torch.set_num_threads(threads)
        config = read_config(path)
        state = load_state(path)
        rows, width = state[WORD_EMBEDDINGS].shape
        if width != config["hidden_size"] or rows != config["vocab_size"]:
            raise UsageError(
                f"{path} embeds {rows}x{width} but the config says {config['vocab_size']}x{config['hidden_size']}",
                f"put the checkpoint's {CONFIG_FILE} beside it",
            )
        model = build_torch_model(config)
        result = model.load_state_dict(state, strict=False)
        missing = [k for k in result.missing_keys if not k.endswith("position_ids")]
        if missing:
            raise UsageError(
                f"{path} lacks {len(missing)} weights of the model (first: {missing[0]})",
                f"pass the reference's model.pytorch with its {CONFIG_FILE}",
            )
        self.dtype = torch.float16 if precision == "fp16" else torch.float32
        self.model = model.eval().to(self.device, self.dtype)
        self.vocab_size = int(rows)
        self.seq_len = None
        self.version = torch.__version__
        self.threads = threads

    def run(self, features: list[Feature]) -> np.ndarray:
        torch = self.torch
        ids, mask, seg = (torch.from_numpy(a).to(self.device) for a in pad_batch(features))
        with torch.inference_mode():
            out = self.model(input_ids=ids, attention_mask=mask, token_type_ids=seg)
            logits = torch.stack((out.start_logits, out.end_logits), dim=-1)
        return logits.float().cpu().numpy()


def create(backend: str, device: str, path: Path, threads: int, precision: str):
    """The model runner: .run(features) -> (batch, seq, 2) float32, .vocab_size, .name, .version."""
    check_model_file(path, backend)
    if backend == "onnxruntime":
        return OnnxBert(path, device, threads, precision)
    if backend == "pytorch":
        return TorchBert(path, device, threads, precision)
    raise UsageError(f"bert has no {backend} backend here", "use --backend onnxruntime or pytorch")


def responses(logits: np.ndarray, features: list[Feature]) -> list[bytes]:
    """Each feature's response payload: its real positions' (start, end) float32 pairs."""
    return [logits[i, : f.length].tobytes() for i, f in enumerate(features)]


def response_views(logits: np.ndarray, features: list[Feature]) -> list[tuple[int, int]]:
    """(address, size) of each feature's payload inside logits, for QuerySampleResponse without a copy (LoadGen
    copies the bytes in QuerySamplesComplete, so logits must live until that returns)."""
    if logits.dtype != np.float32 or not logits.flags.c_contiguous:
        raise ValueError("logits must be C-contiguous float32")
    base, row = logits.ctypes.data, logits.shape[1] * 8
    return [(base + i * row, f.length * 8) for i, f in enumerate(features)]


def prepare(
    backend: str,
    device: str,
    model_path: Path,
    dataset_dir: Path,
    cache_dir: Path,
    threads: int,
    precision: str,
    count: int | None = None,
):
    """A run's start: the model, then its vocabulary checked against it, then the features (from the cache when
    the dataset and vocabulary are unchanged). Returns (runner, squad.Squad)."""
    runner = create(backend, device, model_path, threads, precision)
    vocab = dataset_dir / squad.VOCAB
    if runner.vocab_size is not None:
        squad.check_vocab(vocab, runner.vocab_size, model_path)
    return runner, squad.load(dataset_dir / squad.DATASET, vocab, cache_dir, count)
