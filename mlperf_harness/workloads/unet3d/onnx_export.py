"""The 3D-UNet state dict as an ONNX graph like the reference's 3dunet_kits19_128x128x128.onnx (input "input"
[1,1,128,128,128] float32, output "output" [1,3,128,128,128]), built node by node with onnx.helper: exporting
through torch would run the full 128^3 forward pass just to trace it."""

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from . import CLASSES, ROI
from .model import FILTERS

OPSET = 13
IR_VERSION = 8
EPS = 1e-5  # torch's InstanceNorm3d default


def build(state: dict[str, np.ndarray], batch: int | str = 1, roi: int = ROI) -> onnx.ModelProto:
    nodes: list = []
    inits: list = []

    def init(name: str, value: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.ascontiguousarray(value, dtype=np.float32), name))
        return name

    def node(op: str, inputs: list[str], out: str, **attrs) -> str:
        nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out

    def conv_block(x: str, prefix: str, stride: int) -> str:
        w = state[f"{prefix}.0.weight"]
        y = node(
            "Conv",
            [x, init(f"{prefix}.0.weight", w)],
            f"{prefix}.conv",
            kernel_shape=[3, 3, 3],
            strides=[stride] * 3,
            pads=[1] * 6,
        )
        y = node(
            "InstanceNormalization",
            [
                y,
                init(f"{prefix}.1.weight", state[f"{prefix}.1.weight"]),
                init(f"{prefix}.1.bias", state[f"{prefix}.1.bias"]),
            ],
            f"{prefix}.norm",
            epsilon=EPS,
        )
        return node("Relu", [y], f"{prefix}.relu")

    def block(x: str, prefix: str, stride: int) -> str:
        return conv_block(conv_block(x, f"{prefix}.conv1", stride), f"{prefix}.conv2", 1)

    x = block("input", "input_block", 1)
    skips = [x]
    for i in range(len(FILTERS) - 1):
        x = block(x, f"downsample.{i}", 2)
        skips.append(x)
    x = block(x, "bottleneck", 2)
    for i, skip in enumerate(reversed(skips)):
        p = f"upsample.{i}"
        x = node(
            "ConvTranspose",
            [
                x,
                init(f"{p}.upsample_conv.0.weight", state[f"{p}.upsample_conv.0.weight"]),
                init(f"{p}.upsample_conv.0.bias", state[f"{p}.upsample_conv.0.bias"]),
            ],
            f"{p}.up",
            kernel_shape=[2, 2, 2],
            strides=[2, 2, 2],
        )
        x = node("Concat", [x, skip], f"{p}.cat", axis=1)
        x = conv_block(conv_block(x, f"{p}.conv1", 1), f"{p}.conv2", 1)
    node(
        "Conv",
        [
            x,
            init("output.conv.0.weight", state["output.conv.0.weight"]),
            init("output.conv.0.bias", state["output.conv.0.bias"]),
        ],
        "output",
        kernel_shape=[1, 1, 1],
    )
    graph = helper.make_graph(
        nodes,
        "3dunet_kits19",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [batch, 1, roi, roi, roi])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [batch, CLASSES, roi, roi, roi])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="mlperf_harness")
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model
