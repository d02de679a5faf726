"""Frozen TensorFlow graphs (GraphDef .pb) for the tf backend's demo: ResNet50 v1.5 with the seeded weights of
weights.py laid out as the reference's resnet50_v1.pb (NHWC `input_tensor`, 1001 classes in `softmax_tensor`, and
`ArgMax`), and a Keras MobileNet frozen as mobilenet_v1_1.0_224_frozen.pb (`input`,
`MobilenetV1/Predictions/Reshape_1`). Batch-norm is folded into the convolutions, as frozen inference graphs ship."""

import numpy as np

from .weights import STAGES, resnet50_params

EPS = 1e-5  # torchvision's BatchNorm epsilon (the weights' convention)


def _fold(params: dict, conv: str, bn: str):
    w = params[f"{conv}.weight"]  # (O, I, k, k)
    scale = params[f"{bn}.weight"] / np.sqrt(params[f"{bn}.running_var"] + EPS)
    bias = params[f"{bn}.bias"] - params[f"{bn}.running_mean"] * scale
    return (w * scale[:, None, None, None]).transpose(2, 3, 1, 0).astype(np.float32), bias.astype(np.float32)


def resnet50_graph_def(seed: int):
    import tensorflow as tf

    params = resnet50_params(seed, num_classes=1001)

    def conv_bn(x, conv, bn, stride, relu=True):
        w, b = _fold(params, conv, bn)
        k = w.shape[0]
        pad = k // 2
        if pad:
            x = tf.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]])
        x = tf.nn.conv2d(x, tf.constant(w), stride, "VALID") + tf.constant(b)
        return tf.nn.relu(x) if relu else x

    def net(x):
        x = conv_bn(x, "conv1", "bn1", 2)
        x = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]], constant_values=-np.inf)
        x = tf.nn.max_pool2d(x, 3, 2, "VALID")
        for stage, (_, blocks) in enumerate(STAGES, start=1):
            for blk in range(blocks):
                p = f"layer{stage}.{blk}"
                stride = 2 if blk == 0 and stage > 1 else 1
                y = conv_bn(x, f"{p}.conv1", f"{p}.bn1", 1)
                y = conv_bn(y, f"{p}.conv2", f"{p}.bn2", stride)  # v1.5: the stride sits on the 3x3
                y = conv_bn(y, f"{p}.conv3", f"{p}.bn3", 1, relu=False)
                if blk == 0:
                    x = conv_bn(x, f"{p}.downsample.0", f"{p}.downsample.1", stride, relu=False)
                x = tf.nn.relu(x + y)
        x = tf.reduce_mean(x, axis=[1, 2])
        logits = tf.matmul(x, tf.constant(params["fc.weight"].T.copy())) + tf.constant(params["fc.bias"])
        tf.argmax(logits, axis=1, name="ArgMax")
        return tf.nn.softmax(logits, name="softmax_tensor")

    return _graph_def(tf, net, "input_tensor", 224)


def keras_graph_def(model, input_name: str, output_name: str, size: int):
    import tensorflow as tf

    def net(x):
        return tf.identity(model(x), name=output_name)

    return _graph_def(tf, net, input_name, size)


def _graph_def(tf, net, input_name: str, size: int):
    """The GraphDef of net traced on a [None,size,size,3] float32 placeholder named input_name, variables turned
    to constants (the output tensors keep the names net gives them)."""
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    fn = tf.function(net).get_concrete_function(tf.TensorSpec([None, size, size, 3], tf.float32, name=input_name))
    return convert_variables_to_constants_v2(fn).graph.as_graph_def()
