"""Peer code generators for the benchmark: emlearn and m2cgen.

Each peer module exposes the same two functions:

* ``supports(estimator) -> bool``: whether the tool can export this fitted estimator *and*
  this adapter knows how to map the tool's output onto the harness contract.
* ``write_peer(estimator, out_dir) -> dict``: writes ``model.h``, ``model.c`` and whatever the
  tool itself needs into ``out_dir`` and returns how to compile them::

      {"sources": [...], "include_dirs": [...], "cflags": [...],
       "ldflags": [...],          # e.g. ["-lm"] when the tool's code calls libm
       "method": "...", "n_outputs": k, "notes": [...]}

The generated ``model.c`` implements the same contract as edgekiln's own model.c::

    #define EK_MODEL_N_FEATURES <n>
    #define EK_MODEL_N_OUTPUTS  <k>
    #define EK_MODEL_TASK       <0 classify, 1 regress, 2 cluster>
    void ek_model_run(const float *x, int32_t *label, float *out);

so a peer is swapped in for the model without touching the harness. The tools' own code is
written out verbatim, as the tool produced it; only the small adapter in ``templates/`` is ours.
"""

from . import emlearn_peer, m2cgen_peer

PEERS = {"emlearn": emlearn_peer, "m2cgen": m2cgen_peer}

__all__ = ["PEERS", "emlearn_peer", "m2cgen_peer"]
