"""`demo-data --model mobilenet|efficientnet`: the real architectures (MobileNet v1 1.0/224, 1001 classes;
EfficientNet-Lite0, 224, 1000 classes) with seeded random weights, as the official files are: float32 and
uint8-quantised .tflite (converted from Keras by TensorFlow's TFLite converter, quantised with a representative
dataset) and an NHWC float32 ONNX graph of the same weights (written here with onnx.helper, batch-norm folded),
plus synthetic JPEGs in the ImageNet layout (resnet50's writer).

`--backend B` writes only the file `run --backend B` reads: tflite the float32 .tflite, onnxruntime the ONNX
file, tf (mobilenet) a frozen TensorFlow graph (mobilenet_v1_1.0_224_frozen.pb), written only when asked for.
Needs tensorflow (tensorflow-cpu) on the host for the .tflite and .pb files; without it (and without --backend)
only the ONNX file is written."""

import contextlib
import io
import os
import sys
import warnings
from pathlib import Path

import numpy as np

from mlperf_harness.errors import UsageError

from . import images

DATASET_DIR = "datasets/imagenet"
EPS = 1e-3  # Keras BatchNormalization's epsilon, as the TF models use

# name -> (size, classes, plan); plan entries: ("conv", k, stride, cout) conv+BN+ReLU6, ("dw", k, stride) depthwise
# conv+BN+ReLU6, ("proj", cout) 1x1 conv+BN (no activation), ("res_begin",) / ("res_end",) a residual block
# (added when the shapes match), ("head", classes) global average pool + dense/1x1 conv + softmax
MOBILENET_V1 = [("conv", 3, 2, 32)]
for _c, _s in [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + [(512, 1)] * 5 + [(1024, 2), (1024, 1)]:
    MOBILENET_V1 += [("dw", 3, _s), ("conv", 1, 1, _c)]
MOBILENET_V1 += [("head", 1001)]

EFFICIENTNET_LITE0 = [("conv", 3, 2, 32)]
_cin = 32
for _e, _k, _s, _c, _n in [
    (1, 3, 1, 16, 1),
    (6, 3, 2, 24, 2),
    (6, 5, 2, 40, 2),
    (6, 3, 2, 80, 3),
    (6, 5, 1, 112, 3),
    (6, 5, 2, 192, 4),
    (6, 3, 1, 320, 1),
]:
    for _i in range(_n):
        stride = _s if _i == 0 else 1
        block = [("conv", 1, 1, _cin * _e)] if _e != 1 else []
        block += [("dw", _k, stride), ("proj", _c)]
        EFFICIENTNET_LITE0 += ([("res_begin",)] + block + [("res_end",)]) if stride == 1 and _cin == _c else block
        _cin = _c
EFFICIENTNET_LITE0 += [("conv", 1, 1, 1280), ("head", 1000)]

MODELS = {
    "mobilenet": ("mobilenet_v1_1.0_224", 224, MOBILENET_V1),
    "efficientnet": ("efficientnet-lite0", 224, EFFICIENTNET_LITE0),
}


def params(plan, seed: int) -> list[dict]:
    """Per plan entry its weights (Keras layouts), drawn from one seeded generator in plan order."""
    rng = np.random.default_rng(seed)
    out, c = [], 3

    def bn(n):
        return {
            "gamma": rng.uniform(0.5, 1.5, n).astype(np.float32),
            "beta": rng.normal(0, 0.1, n).astype(np.float32),
            "mean": rng.normal(0, 0.1, n).astype(np.float32),
            "var": rng.uniform(0.5, 1.5, n).astype(np.float32),
        }

    for op in plan:
        if op[0] in ("conv", "proj"):
            k, cout = (op[1], op[3]) if op[0] == "conv" else (1, op[1])
            w = rng.normal(0, np.sqrt(2.0 / (k * k * c)), (k, k, c, cout)).astype(np.float32)
            out.append({"w": w, **bn(cout)})
            c = cout
        elif op[0] == "dw":
            w = rng.normal(0, np.sqrt(2.0 / (op[1] * op[1])), (op[1], op[1], c, 1)).astype(np.float32)
            out.append({"w": w, **bn(c)})
        elif op[0] == "head":
            w = rng.normal(0, np.sqrt(1.0 / c), (c, op[1])).astype(np.float32)
            out.append({"w": w, "b": rng.normal(0, 0.01, op[1]).astype(np.float32)})
        else:
            out.append({})
    return out


def keras_model(plan, weights, size: int):
    import keras
    from keras import layers

    x = inp = keras.Input((size, size, 3), name="input")
    saved = []
    for op, p in zip(plan, weights, strict=True):
        if op[0] in ("conv", "dw", "proj"):
            if op[0] == "dw":
                conv = layers.DepthwiseConv2D(op[1], op[2], padding="same", use_bias=False)
            else:
                k, s, cout = (op[1], op[2], op[3]) if op[0] == "conv" else (1, 1, op[1])
                conv = layers.Conv2D(cout, k, s, padding="same", use_bias=False)
            x = conv(x)
            conv.set_weights([p["w"]])
            norm = layers.BatchNormalization(epsilon=EPS)
            x = norm(x)
            norm.set_weights([p["gamma"], p["beta"], p["mean"], p["var"]])
            if op[0] != "proj":
                x = layers.ReLU(6.0)(x)
        elif op[0] == "res_begin":
            saved.append(x)
        elif op[0] == "res_end":
            x = layers.Add()([saved.pop(), x])
        elif op[0] == "head":
            x = layers.GlobalAveragePooling2D()(x)
            dense = layers.Dense(op[1])
            x = dense(x)
            dense.set_weights([p["w"], p["b"]])
            x = layers.Softmax()(x)
    return keras.Model(inp, x)


def onnx_model(plan, weights, size: int, name: str):
    """The same network as an ONNX graph with NHWC float32 input [N,size,size,3] and output [N,classes]."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits, saved = [], [], []
    cur, n = "input", 0

    def fresh(tag):
        nonlocal n
        n += 1
        return f"{tag}_{n}"

    x = fresh("nchw")
    nodes.append(helper.make_node("Transpose", [cur], [x], perm=[0, 3, 1, 2]))
    cur = x
    for op, p in zip(plan, weights, strict=True):
        if op[0] in ("conv", "dw", "proj"):
            scale = p["gamma"] / np.sqrt(p["var"] + EPS)
            bias = (p["beta"] - p["mean"] * scale).astype(np.float32)
            if op[0] == "dw":
                w = p["w"].transpose(2, 3, 0, 1) * scale[:, None, None, None]  # (C,1,k,k)
                k, s, group = op[1], op[2], p["w"].shape[2]
            else:
                w = p["w"].transpose(3, 2, 0, 1) * scale[:, None, None, None]  # (O,I,k,k)
                k, s, group = p["w"].shape[0], (op[2] if op[0] == "conv" else 1), 1
            wn, bn_ = fresh("w"), fresh("b")
            inits += [numpy_helper.from_array(w.astype(np.float32), wn), numpy_helper.from_array(bias, bn_)]
            y = fresh("conv")
            nodes.append(
                helper.make_node(
                    "Conv", [cur, wn, bn_], [y], kernel_shape=[k, k], strides=[s, s], group=group, auto_pad="SAME_UPPER"
                )
            )
            cur = y
            if op[0] != "proj":
                lo, hi = fresh("lo"), fresh("hi")
                inits += [numpy_helper.from_array(np.float32(0), lo), numpy_helper.from_array(np.float32(6), hi)]
                y = fresh("relu6")
                nodes.append(helper.make_node("Clip", [cur, lo, hi], [y]))
                cur = y
        elif op[0] == "res_begin":
            saved.append(cur)
        elif op[0] == "res_end":
            y = fresh("add")
            nodes.append(helper.make_node("Add", [saved.pop(), cur], [y]))
            cur = y
        elif op[0] == "head":
            pooled, flat, logits = fresh("pool"), fresh("flat"), fresh("logits")
            wn, bn_ = fresh("w"), fresh("b")
            inits += [numpy_helper.from_array(p["w"], wn), numpy_helper.from_array(p["b"], bn_)]
            nodes += [
                helper.make_node("GlobalAveragePool", [cur], [pooled]),
                helper.make_node("Flatten", [pooled], [flat]),
                helper.make_node("Gemm", [flat, wn, bn_], [logits]),
                helper.make_node("Softmax", [logits], ["probabilities"], axis=1),
            ]
            classes = op[1]
    graph = helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", size, size, 3])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", classes])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="mlperfctl-demo")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def tflite_files(model, size: int, seed: int, quantised: bool = True) -> tuple[bytes, bytes | None]:
    """(float32 .tflite, uint8-quantised .tflite or None) of a Keras model; the quantised one with uint8 input/output
    (its conversion, calibrated on a representative dataset, costs as much again as the float one)."""
    import tensorflow as tf

    def convert(converter) -> bytes:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():  # Keras prints the signature
            warnings.simplefilter("ignore")
            return converter.convert()

    float_bytes = convert(tf.lite.TFLiteConverter.from_keras_model(model))
    if not quantised:
        return float_bytes, None
    rng = np.random.default_rng(seed + 1)

    def representative():
        for _ in range(8):  # the float models' [-1, 1]-ish input range
            yield [rng.uniform(-1, 1, (1, size, size, 3)).astype(np.float32)]

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = representative
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.uint8
    conv.inference_output_type = tf.uint8
    return float_bytes, convert(conv)


def file_names(model_name: str) -> dict[str, str]:
    stem = MODELS[model_name][0]
    if model_name == "efficientnet":
        return {"fp32": f"{stem}-fp32.tflite", "int8": f"{stem}-int8.tflite", "onnx": f"{stem}.onnx"}
    return {"fp32": f"{stem}.tflite", "int8": f"{stem}_quant.tflite", "onnx": f"{stem}.onnx", "pb": f"{stem}_frozen.pb"}


DEFAULT_BACKENDS = ("onnxruntime", "tflite")  # without --backend; the frozen graph (tf) only when asked for


def write_model(model_name: str, out_dir: Path, count: int, seed: int, backends=None, quantised=None) -> None:
    """The model files of `backends` (default: the ONNX file, and the .tflite files where tensorflow is importable)
    and the synthetic images. Asked-for files that need tensorflow (tflite, tf) raise UsageError without it.
    quantised: also the uint8-quantised .tflite (default: only when backends is None)."""
    stem, size, plan = MODELS[model_name]
    models = out_dir / "models"
    models.mkdir(parents=True, exist_ok=True)
    names = file_names(model_name)
    asked = backends is not None
    quantised = not asked if quantised is None else quantised
    backends = set(DEFAULT_BACKENDS if backends is None else backends)
    if "tf" in backends and "pb" not in names:
        raise UsageError(f"{model_name} has no TensorFlow frozen graph", "use --backend tflite or onnxruntime")
    weights = params(plan, seed)
    if "onnxruntime" in backends:
        (models / names["onnx"]).write_bytes(onnx_model(plan, weights, size, stem).SerializeToString())
        print(f"wrote {models / names['onnx']}")
    if backends & {"tflite", "tf"}:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        try:
            import tensorflow  # noqa: F401
        except ImportError:
            if asked:
                raise UsageError(
                    f"tensorflow is not importable here: cannot write the {'/'.join(sorted(backends))} files of "
                    f"{model_name}",
                    "pip install '.[tflite]' (tensorflow-cpu)",
                ) from None
            print(
                f"notice: tensorflow is not importable here; the .tflite files of {model_name} were not written "
                "(pip install tensorflow-cpu for tflite runs)"
            )
        else:
            model = keras_model(plan, weights, size)
            if "tflite" in backends:
                # asked for (--backend tflite): only the float32 file `run --backend tflite` reads (the fp32 the
                # matrix offers); by default the uint8-quantised one too
                float_bytes, quant_bytes = tflite_files(model, size, seed, quantised)
                for key, data in (("fp32", float_bytes), ("int8", quant_bytes)):
                    if data is not None:
                        (models / names[key]).write_bytes(data)
                        print(f"wrote {models / names[key]}")
            if "tf" in backends:
                from .frozen_graph import keras_graph_def

                graph_def = keras_graph_def(model, "input", "MobilenetV1/Predictions/Reshape_1", size)
                (models / names["pb"]).write_bytes(graph_def.SerializeToString())
                print(f"wrote {models / names['pb']}")
    images.write(out_dir / DATASET_DIR, count, seed)
    print(f"wrote {count} JPEGs and val_map.txt to {out_dir / DATASET_DIR}")
    print(
        f"NOTE: the model weights are RANDOM (seed {seed}) and the images synthetic: accuracy figures on this data are "
        "meaningless; it exists to exercise the pipeline end to end.",
        file=sys.stderr,
    )


def write_mobilenet(out_dir: Path, count: int, seed: int, backend: str | None = None) -> None:
    write_model("mobilenet", out_dir, count, seed, None if backend is None else (backend,))


def write_efficientnet(out_dir: Path, count: int, seed: int, backend: str | None = None) -> None:
    write_model("efficientnet", out_dir, count, seed, None if backend is None else (backend,))
