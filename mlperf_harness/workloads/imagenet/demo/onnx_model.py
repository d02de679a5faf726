"""ResNet50 v1.5 as an ONNX graph shaped like the MLPerf reference model, built with onnx.helper."""

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from .weights import STAGES

INPUT = "input_tensor:0"
ARGMAX = "ArgMax:0"
SOFTMAX = "softmax_tensor:0"
BN_EPS = 1e-5
OPSET = 17
IR_VERSION = 8  # readable by onnxruntime >= 1.10 and TensorRT 8+


class _Graph:
    def __init__(self, params: dict[str, np.ndarray]):
        self.params = params
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []

    def node(self, op: str, inputs: list[str], output: str, **attrs) -> str:
        self.nodes.append(helper.make_node(op, inputs, [output], name=output, **attrs))
        return output

    def init(self, name: str, value: np.ndarray) -> str:
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def conv_bn(self, x: str, conv: str, bn: str, stride: int, relu: bool) -> str:
        """Conv with its BatchNorm folded into weight and bias, as inference graphs ship."""
        w = self.params[f"{conv}.weight"]
        scale = self.params[f"{bn}.weight"] / np.sqrt(self.params[f"{bn}.running_var"] + BN_EPS)
        bias = self.params[f"{bn}.bias"] - self.params[f"{bn}.running_mean"] * scale
        k = w.shape[-1]
        y = self.node(
            "Conv",
            [x, self.init(f"{conv}.w", w * scale[:, None, None, None]), self.init(f"{conv}.b", bias)],
            f"{conv}.out",
            kernel_shape=[k, k],
            strides=[stride, stride],
            pads=[k // 2] * 4,
        )
        return self.node("Relu", [y], f"{conv}.relu") if relu else y


def build(params: dict[str, np.ndarray]) -> onnx.ModelProto:
    """The graph: input NCHW float32 with a dynamic batch; outputs ArgMax:0 int64 [N] and softmax [N,1001]."""
    g = _Graph(params)
    x = g.conv_bn(INPUT, "conv1", "bn1", 2, relu=True)
    x = g.node("MaxPool", [x], "pool1", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    for stage, (_, blocks) in enumerate(STAGES, start=1):
        for b in range(blocks):
            p = f"layer{stage}.{b}"
            stride = 2 if (b == 0 and stage > 1) else 1  # v1.5: the stride sits on the 3x3 conv
            y = g.conv_bn(x, f"{p}.conv1", f"{p}.bn1", 1, relu=True)
            y = g.conv_bn(y, f"{p}.conv2", f"{p}.bn2", stride, relu=True)
            y = g.conv_bn(y, f"{p}.conv3", f"{p}.bn3", 1, relu=False)
            shortcut = g.conv_bn(x, f"{p}.downsample.0", f"{p}.downsample.1", stride, relu=False) if b == 0 else x
            x = g.node("Relu", [g.node("Add", [y, shortcut], f"{p}.add")], f"{p}.out")
    x = g.node("Flatten", [g.node("GlobalAveragePool", [x], "avgpool")], "flatten", axis=1)
    # Class 0 is the background class of the TF-trained reference; it never wins here.
    fc_w = np.concatenate([np.zeros((1, params["fc.weight"].shape[1]), np.float32), params["fc.weight"]])
    fc_b = np.concatenate([np.array([-1e4], np.float32), params["fc.bias"]])
    logits = g.node("Gemm", [x, g.init("fc.w", fc_w), g.init("fc.b", fc_b)], "logits", transB=1)
    g.node("Softmax", [logits], SOFTMAX, axis=1)
    g.node("ArgMax", [logits], ARGMAX, axis=1, keepdims=0)
    classes = fc_w.shape[0]
    graph = helper.make_graph(
        g.nodes,
        "resnet50_v1.5",
        [helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, ["N", 3, 224, 224])],
        [
            helper.make_tensor_value_info(ARGMAX, TensorProto.INT64, ["N"]),
            helper.make_tensor_value_info(SOFTMAX, TensorProto.FLOAT, ["N", classes]),
        ],
        g.inits,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="mlperf_harness demo-data"
    )
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model
