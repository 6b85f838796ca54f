"""The typed protocol seam: a protocol asks for ``<kind>_inputs()`` and gets that type or a clear error."""

import numpy as np
import pytest

from mirbench.data.base import PairedInputs, RetrievalInputs, protocol_inputs


class Paired:
    def paired_inputs(self):
        return PairedInputs(test=[{"item": np.arange(3)}], groups=np.zeros(3, dtype=np.int64))


class WrongType:
    def retrieval_inputs(self):
        return {"test": []}  # a dict, not RetrievalInputs


def test_the_datamodule_s_own_typed_input_is_returned():
    got = protocol_inputs(Paired(), "paired")
    assert isinstance(got, PairedInputs) and got.groups.tolist() == [0, 0, 0] and got.ambiguous is None


def test_a_missing_or_mistyped_input_says_what_is_needed():
    with pytest.raises(TypeError, match=r"Paired has no retrieval_inputs\(\).*RetrievalInputs.*try this"):
        protocol_inputs(Paired(), "retrieval", hint="try this")
    with pytest.raises(TypeError, match=r"WrongType.retrieval_inputs\(\) returned dict, not RetrievalInputs"):
        protocol_inputs(WrongType(), "retrieval")
    with pytest.raises(KeyError):
        protocol_inputs(Paired(), "pairs")
    assert RetrievalInputs(test=[], reference=[]).dimsim is None
