"""Golden models of neural-network graphs (IR version 2), numpy only:

- `float_reference.run`: the float32 interpreter (oracle: onnxruntime);
- `int8_reference.run`: int8 kernels bit-exact with TFLite's reference kernels
  (oracle: LiteRT with `OpResolverType.BUILTIN_REF`), built on `tflite_math`, the
  gemmlowp-style fixed-point arithmetic TFLite uses;
- `geometry`: the shared padding/window/im2col helpers.
Imports only the core."""
