"""Stable Diffusion XL base 1.0 (MLPerf `sdxl`, mlperf.conf `stable-diffusion-xl`): text to image on COCO-2014."""
