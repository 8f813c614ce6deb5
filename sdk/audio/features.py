"""The MFCC front end the MLPerf Tiny DS-CNN was trained with, as `mfcc` node attributes (the
README table of ../shared/models/kws_dscnn; docs/networks.md, "Audio"). The golden model that
computes them is `edgekiln.quantize.nn.mfcc`."""
from __future__ import annotations

KWS_MFCC = {
    "sample_rate": 16_000,
    "clip_samples": 16_000,      # 1 s
    "frame_length": 480,         # 30 ms, periodic Hann
    "frame_step": 320,           # 20 ms -> 49 frames
    "fft_length": 512,           # magnitude spectrum, 257 bins
    "num_mel_bins": 40,
    "lower_hz": 20.0,
    "upper_hz": 4000.0,
    "log_offset": 1e-6,          # ln(mel + 1e-6)
    "num_coefficients": 10,      # c0..c9 of the sqrt(2/40)-scaled DCT-II
}
KWS_FEATURE_SHAPE = (49, 10, 1)  # the DS-CNN's input without the batch axis (NHWC)
