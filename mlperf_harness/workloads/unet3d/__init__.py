"""3D-UNet on KiTS19 (3d-unet-99 / 3d-unet-99.9): preprocessing, the sliding-window segmentation, DICE.

The constants are the reference's: CT intensities clipped to [-79, 304] HU and standardised with mean 101.0
and std 76.9, volumes resampled to a (1.6, 1.2, 1.2) mm voxel spacing, padded with -2.2, and segmented by
128^3 windows moved with 50% overlap and weighted by a Gaussian importance map (sigma = 1/8 of the window).

The declaration (UNET3D) and these constants use the standard library only (the host imports them); the
runner, dataset, backends and scorer are imported by the hooks that use them.
"""

from ..base import Workload

_HERE = __name__

MEAN = 101.0
STD = 76.9
CLIP_MIN = -79.0
CLIP_MAX = 304.0
PAD_VALUE = -2.2
TARGET_SPACING = (1.6, 1.2, 1.2)  # mm, (z, y, x) as the NIfTI header's pixdim[1:4]
ROI = 128  # the window edge: the models take (N, 1, 128, 128, 128)
OVERLAP = 0.5
CLASSES = 3  # background, kidney, tumour
CONF_MODEL = "3d-unet"  # the model's name in LoadGen's mlperf.conf
PERFORMANCE_SAMPLE_COUNT = 43  # the rules' count (every inference case); LoadGen 6.0's mlperf.conf leaves it 0
FILE_LIST = "preprocessed_files.pkl"

UNET3D = Workload(
    names=("3d-unet-99", "3d-unet-99.9"),
    family="unet3d",
    loadgen_model=CONF_MODEL,
    dataset_name="KiTS19 preprocessed (preprocess --model 3d-unet-99 writes it from the raw NIfTI)",
    dataset_files=(FILE_LIST,),
    dataset_preparer=f"{_HERE}.prepare:prepare",  # KiTS19 NIfTI cases (also the `preprocess` command)
    # the reference's files; the pytorch backend also takes its TorchScript 3dunet_kits19_pytorch.ptc
    model_files={"onnxruntime": "3dunet_kits19_128x128x128.onnx", "pytorch": "3dunet_kits19_pytorch_checkpoint.pth"},
    # float32 windows only (inference.OnnxUnet / TorchUnet)
    support={device: {"onnxruntime": ("fp32",), "pytorch": ("fp32",)} for device in ("cpu", "cuda", "rocm")},
    scenarios=("Offline", "SingleStream"),
    demo_writer=f"{_HERE}.demo:write",
    demo_dataset_dir="datasets/kits19/preprocessed",
    demo_model_dir="models",
    runner_class=f"{_HERE}.runner:UnetRunner",
    scorer=f"{_HERE}.accuracy:command",
)
