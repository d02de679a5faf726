"""TensorFlow running a frozen graph (GraphDef .pb), NHWC: the reference's resnet50_v1.pb (input `input_tensor`,
1001 classes in `softmax_tensor`) and MobileNet's frozen graphs (`input`, `MobilenetV1/Predictions/Reshape_1`)."""

import os
from pathlib import Path

import numpy as np

from mlperf_harness.errors import UsageError
from mlperf_harness.frameworks import require_fp32

from . import check_class_count, check_nhwc_shape

# the class-probability tensors of the official frozen graphs, in the order they are looked for
OUTPUTS = ("softmax_tensor", "MobilenetV1/Predictions/Reshape_1", "MobilenetV2/Predictions/Reshape_1", "probabilities")


def read_graph_def(tf, path: Path):
    graph_def = tf.compat.v1.GraphDef()
    try:
        graph_def.ParseFromString(path.read_bytes())
    except Exception:  # protobuf's DecodeError
        raise UsageError(f"{path} is not a TensorFlow GraphDef (.pb)", "pass a frozen graph .pb file") from None
    if not graph_def.node:
        raise UsageError(f"{path} holds no graph nodes", "pass a frozen graph .pb file")
    return graph_def


class TFBackend:
    name = "tf"

    def __init__(self, model_path: Path, device: str, threads: int, precision: str, scaling: str | None):
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        import tensorflow as tf

        from ..dataset import nhwc_name

        require_fp32(self.name, precision)
        gpus = tf.config.list_physical_devices("GPU")
        if device == "cpu":
            tf.config.set_visible_devices([], "GPU")
        elif not gpus:
            raise UsageError(f"tensorflow {tf.__version__} sees no {device} GPU", "check the GPU is passed in")
        graph_def = read_graph_def(tf, model_path)
        names = {n.name for n in graph_def.node}
        inputs = [n.name for n in graph_def.node if n.op == "Placeholder"]
        output = next((o for o in OUTPUTS if o in names), None)
        if not inputs or output is None:
            raise UsageError(
                f"{model_path} has no input placeholder or no class-probability output ({', '.join(OUTPUTS)})",
                "pass the reference's resnet50_v1.pb or a MobileNet frozen graph",
            )
        self.graph = tf.Graph()
        with self.graph.as_default():
            tf.compat.v1.import_graph_def(graph_def, name="")
        self.input = self.graph.get_tensor_by_name(inputs[0] + ":0")
        self.output = self.graph.get_tensor_by_name(output + ":0")
        size = check_nhwc_shape(self.input.shape.as_list(), model_path)
        self.label_offset = check_class_count(int(self.output.shape[-1]), model_path)
        # resnet50: the reference's VGG preprocessing (mean subtraction), NHWC; mobilenet: [-1, 1] scaling
        self.preprocessing = "vgg_nhwc" if scaling is None else nhwc_name(scaling, size, "float32")
        config = tf.compat.v1.ConfigProto(intra_op_parallelism_threads=threads, inter_op_parallelism_threads=1)
        self.session = tf.compat.v1.Session(graph=self.graph, config=config)
        self.version = tf.__version__
        self.threads = threads

    def predict(self, batch: np.ndarray) -> np.ndarray:
        return self.session.run(self.output, {self.input: batch}).argmax(axis=1)
