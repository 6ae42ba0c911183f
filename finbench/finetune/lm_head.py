"""Score only the label positions through the LM head on CPU too.

TRL's SFTTrainer computes the loss with a fused, chunked LM head (`trl.trainer.utils.add_fused_lm_head`). On Triton
devices it projects only the positions whose next-token label is not -100; everywhere else it projects *every*
position and masks the result (`compact = _use_triton(device)`; TRL's reason is the fixed tile shapes of compiled
backends such as Neuron, which CPU eager torch does not have). On the study's prompt-completion mixtures 3 % of the
tokens carry a label, so on CPU ~97 % of the head's work (49,152 words x 576 per position, forward and backward) goes
to positions whose loss is 0. `label_positions_only()` makes that one decision compact on CPU as well; the kernel
choice (Triton or torch) is untouched, and the loss, its gradients and TRL's token-accuracy/entropy metrics are the
same values (tests/test_finetune_train.py compares them). docs/BENCHMARKS.md has the measured effect.
"""

from __future__ import annotations

import contextlib
import sys


@contextlib.contextmanager
def label_positions_only():
    """While active, TRL's fused LM head scores only label positions on CPU (see the module docstring). On a TRL
    without that switch it changes nothing and says so on stderr: training stays correct, only slower."""
    try:
        import trl.trainer.utils as tu
    except ImportError:  # no TRL: nothing to patch (the trainer itself will say what to install)
        yield
        return
    original = getattr(tu, "_use_triton", None)
    if original is None or not hasattr(tu, "add_fused_lm_head"):
        print(
            "[finetune] note: this TRL has no fused-LM-head switch finbench knows (trl.trainer.utils._use_triton); "
            "the LM head scores every position on CPU (correct, slower; docs/BENCHMARKS.md)",
            file=sys.stderr,
        )
        yield
        return

    def compact(device) -> bool:
        return device.type == "cpu" or original(device)

    tu._use_triton = compact
    try:
        yield
    finally:
        tu._use_triton = original
