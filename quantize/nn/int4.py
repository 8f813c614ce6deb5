"""Packed int4 weights, the layout of runtime_c/include/ek_nn.h: two weights per byte in
the weight's C order, the even-indexed element in the low nibble, each nibble a
two's-complement int4 (sign-extended when read); an odd count ends with a half-used byte
(high nibble 0). The IR keeps int4 weights unpacked (int8 arrays with values in [-8, 7] and
`weight_bits: 4` on the node), which is what the golden models compute with; codegen
stores them packed with `pack_int4` (defined once, in the IR)."""
from __future__ import annotations

from edgekiln.ir import pack_int4, unpack_int4

__all__ = ["pack_int4", "unpack_int4"]
