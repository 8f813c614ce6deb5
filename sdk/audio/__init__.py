"""Audio for keyword spotting (stage `edgekiln.audio`, imports only the core):

- `clips`: one clip -> the 1 s, 16 kHz float32 window a KWS model takes (resampling with a
  notice, refusing NaN, too-long or empty input); `read_wav`;
- `espeak`: keyword clips spoken by espeak-ng (a Debian package), trimmed and centred;
- `dataset`: the seeded, cached training/calibration and evaluation sets (disjoint voices
  and speeds), with the DS-CNN's 12 labels (10 words, `_silence_`, `_unknown_`);
- `features`: the DS-CNN's MFCC front end as `mfcc` node attributes (`KWS_MFCC`);
- `graph`: put an `mfcc` node in front of a network so a graph goes from samples to a label;
- `models/kws_small.onnx`: our small KWS model (scripts/train_kws_small.py trains it).
The MFCC itself is a golden model: `edgekiln.quantize.nn.mfcc`."""
from .clips import CLIP_SAMPLES, SAMPLE_RATE, fit_clip
from .dataset import LABELS, WORDS, KwsSet, build_set

__all__ = ["CLIP_SAMPLES", "SAMPLE_RATE", "LABELS", "WORDS", "KwsSet", "build_set", "fit_clip"]
