"""TensorRT: an engine built from the ONNX model (cached on disk) or a serialized engine (plan) given as the model,
run with cuda-python buffers.

Two runtimes are taken: the full TensorRT (`tensorrt`, from NVIDIA's index or wheels given with --wheel-dir), which
builds engines from ONNX and runs them; and TensorRT's lean runtime (`tensorrt_lean`, on PyPI, what the registry-free
cuda cell installs), which runs version-compatible plans only (built elsewhere with the full TensorRT, e.g.
`trtexec --onnx=resnet50_v1.onnx --versionCompatible --excludeLeanRuntime
--saveEngine=resnet50.plan`)."""

import hashlib
from pathlib import Path

import numpy as np

from mlperf_harness.errors import UsageError
from mlperf_harness.frameworks.tensorrt import builds_engines, is_plan, runtime_module

from . import check_class_count, check_input_shape


def _cudart():
    try:
        from cuda.bindings import runtime as cudart
    except ImportError:
        try:
            from cuda import cudart
        except ImportError:
            raise UsageError("the tensorrt backend needs cuda-python", "install cuda-python in the image") from None
    return cudart


def _check(result):
    err, *rest = result
    if int(err) != 0:
        raise RuntimeError(f"CUDA runtime error {err}")
    return rest[0] if len(rest) == 1 else rest


class TensorRTBackend:
    name = "tensorrt"
    preprocessing = "vgg"

    def __init__(self, model_path: Path, device: str, threads: int, precision: str, cache_dir: Path, batch: int):
        if device != "cuda":
            raise UsageError(f"the tensorrt backend runs on cuda, not {device}", "use --device cuda")
        if precision not in ("fp32", "fp16"):
            raise UsageError(f"--precision {precision} is not supported by the tensorrt backend", "use fp32 or fp16")
        trt = runtime_module()
        if not is_plan(model_path) and not builds_engines(trt):
            raise UsageError(
                f"{model_path} is an ONNX model, and this image has TensorRT's lean runtime "
                f"({trt.__name__} {trt.__version__}), which runs serialized engines only",
                "pass --model-path a version-compatible plan (trtexec --onnx=resnet50_v1.onnx --versionCompatible "
                "--excludeLeanRuntime --saveEngine=resnet50.plan), or build the image with the full TensorRT "
                "(README: CUDA without a registry)")
        self.trt = trt
        self.cudart = _cudart()
        self.logger = trt.Logger(trt.Logger.WARNING)
        if is_plan(model_path):
            engine_bytes = model_path.read_bytes()
        else:
            engine_bytes = self._engine(model_path, precision, cache_dir, batch)
        self.engine = trt.Runtime(self.logger).deserialize_cuda_engine(engine_bytes)
        if self.engine is None:
            raise UsageError(f"TensorRT {trt.__version__} cannot deserialize {model_path} (see its log above)",
                             "pass a plan built for this GPU by a compatible TensorRT (version-compatible for "
                             "the lean runtime)")
        self.context = self.engine.create_execution_context()
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        self.input_name = next(n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT)
        self.output_name = next(n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT)
        check_input_shape(list(self.engine.get_tensor_shape(self.input_name)), model_path)
        classes = self.engine.get_tensor_shape(self.output_name)[1]
        self.label_offset = check_class_count(classes, model_path)
        if is_plan(model_path):  # a plan fixes its largest batch in its optimisation profile
            batch = min(batch, int(self.engine.get_tensor_profile_shape(self.input_name, 0)[2][0]))
        self.max_batch = batch
        self.stream = _check(self.cudart.cudaStreamCreate())
        self.d_in = _check(self.cudart.cudaMalloc(batch * 3 * 224 * 224 * 4))
        self.d_out = _check(self.cudart.cudaMalloc(batch * classes * 4))
        self.h_out = np.empty((batch, classes), np.float32)
        self.context.set_tensor_address(self.input_name, int(self.d_in))
        self.context.set_tensor_address(self.output_name, int(self.d_out))
        self.version = trt.__version__
        self.threads = threads

    def _engine(self, model_path: Path, precision: str, cache_dir: Path, batch: int) -> bytes:
        """Build once per (model bytes, TensorRT version, precision, batch); later runs read the plan file."""
        trt = self.trt
        onnx_bytes = model_path.read_bytes()
        key = hashlib.sha256(onnx_bytes + f"{trt.__version__}:{precision}:{batch}".encode()).hexdigest()[:16]
        plan = cache_dir / f"resnet50-{key}.plan"
        if plan.is_file():
            return plan.read_bytes()
        builder = trt.Builder(self.logger)
        explicit_batch = int(trt.__version__.split(".")[0]) < 10  # the flag is implicit (and deprecated) from 10
        flags = 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH) if explicit_batch else 0
        network = builder.create_network(flags)
        parser = trt.OnnxParser(network, self.logger)
        if not parser.parse(onnx_bytes):
            errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
            raise UsageError(f"TensorRT cannot parse {model_path}: {errors}", "pass a valid ONNX model")
        inp = network.get_input(0)
        check_input_shape(list(inp.shape), model_path)
        # Keep only the float [N, classes] output: top-1 is taken on the host.
        for i in reversed(range(network.num_outputs)):
            out = network.get_output(i)
            if len(out.shape) != 2:
                network.unmark_output(out)
        config = builder.create_builder_config()
        profile = builder.create_optimization_profile()
        profile.set_shape(inp.name, (1, 3, 224, 224), (batch, 3, 224, 224), (batch, 3, 224, 224))
        config.add_optimization_profile(profile)
        if precision == "fp16":
            if hasattr(trt.BuilderFlag, "FP16"):
                config.set_flag(trt.BuilderFlag.FP16)
            elif not _has_half_tensors(trt, network):  # TensorRT 11+: networks are strongly typed, the model's types
                raise UsageError(f"TensorRT {trt.__version__} takes a model's own types, and {model_path} has no "
                                 "fp16 tensors", "pass an ONNX model exported in fp16 (float32 input and output)")
        engine = builder.build_serialized_network(network, config)
        if engine is None:
            raise RuntimeError("TensorRT engine build failed (see the TensorRT log above)")
        cache_dir.mkdir(parents=True, exist_ok=True)
        plan.write_bytes(bytes(engine))
        return bytes(engine)

    def predict(self, batch: np.ndarray) -> np.ndarray:
        cudart, n = self.cudart, batch.shape[0]
        batch = np.ascontiguousarray(batch)
        kind_h2d, kind_d2h = cudart.cudaMemcpyKind.cudaMemcpyHostToDevice, cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost
        self.context.set_input_shape(self.input_name, batch.shape)
        _check(cudart.cudaMemcpyAsync(self.d_in, batch.ctypes.data, batch.nbytes, kind_h2d, self.stream))
        if not self.context.execute_async_v3(self.stream):
            raise RuntimeError("TensorRT execution failed")
        out = self.h_out[:n]
        _check(cudart.cudaMemcpyAsync(out.ctypes.data, self.d_out, out.nbytes, kind_d2h, self.stream))
        _check(cudart.cudaStreamSynchronize(self.stream))
        return out.argmax(axis=1)


def _has_half_tensors(trt, network) -> bool:
    return any(network.get_layer(i).get_output(j).dtype == trt.DataType.HALF
               for i in range(network.num_layers) for j in range(network.get_layer(i).num_outputs))
