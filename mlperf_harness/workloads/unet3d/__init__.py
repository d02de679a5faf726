"""3D-UNet on KiTS19 (3d-unet-99 / 3d-unet-99.9): preprocessing, the sliding-window segmentation, DICE.

The constants are the reference's: CT intensities clipped to [-79, 304] HU and standardised with mean 101.0
and std 76.9, volumes resampled to a (1.6, 1.2, 1.2) mm voxel spacing, padded with -2.2, and segmented by
128^3 windows moved with 50% overlap and weighted by a Gaussian importance map (sigma = 1/8 of the window).
"""

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
