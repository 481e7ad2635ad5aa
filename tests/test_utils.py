import logging
from collections import OrderedDict, namedtuple

import pytest
import torch

from cadence.data import manual_seed as data_manual_seed
from cadence.exceptions import NotComputableError
from cadence.metrics import NotComputableError as MetricsNotComputableError
from cadence.utils import (
    _to_str_list,
    apply_to_tensor,
    apply_to_type,
    convert_tensor,
    deprecated,
    hash_checkpoint,
    manual_seed,
    setup_logger,
    to_onehot,
)

Point = namedtuple("Point", ["x", "y"])


def test_exceptions_and_seed_are_shared():
    assert NotComputableError is MetricsNotComputableError
    assert manual_seed is data_manual_seed


@pytest.mark.parametrize(
    "batch",
    [
        torch.ones(2),
        [torch.ones(1), torch.zeros(1)],
        (torch.ones(1), "label", b"raw"),
        Point(torch.ones(1), torch.zeros(1)),
        {"a": torch.ones(1), "b": [torch.zeros(2)]},
        OrderedDict(a=torch.ones(1)),
    ],
)
def test_convert_tensor_keeps_structure(batch):
    converted = convert_tensor(batch, device="cpu", non_blocking=True)
    assert type(converted) is type(batch)
    doubled = apply_to_tensor(batch, lambda tensor: tensor * 2)
    assert type(doubled) is type(batch)


def test_convert_tensor_without_device_keeps_tensor():
    tensor = torch.ones(1)
    assert convert_tensor(tensor) is tensor
    assert convert_tensor("text") == "text"


def test_apply_to_type_refuses_unknown_leaves():
    with pytest.raises(TypeError, match="x must contain"):
        convert_tensor(12345)
    assert apply_to_type({"a": (1, 2)}, int, str) == {"a": ("1", "2")}


@pytest.mark.parametrize("shape", [(5,), (2, 3), (2, 3, 4)])
def test_to_onehot_round_trips(shape):
    indices = torch.randint(0, 7, shape)
    onehot = to_onehot(indices, 7)
    assert onehot.dtype == torch.uint8
    assert onehot.shape == (shape[0], 7, *shape[1:])
    assert torch.equal(onehot.argmax(dim=1), indices)


def test_to_onehot_scripts():
    scripted = torch.jit.script(to_onehot)
    indices = torch.tensor([0, 2, 1])
    assert torch.equal(scripted(indices, 3), to_onehot(indices, 3))


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (1.5, ["1.5000"]),
        ({"a": 1, "b": torch.tensor([1.0, 2.0])}, ["a: 1.0000", "b: [1.0000, 2.0000]"]),
        ({"v": torch.arange(12)}, ["v: [" + ", ".join(f"{i}.0000" for i in range(10)) + ", ...]"]),
        ({"m": torch.zeros(2, 3)}, ["m: Shape[2, 3]"]),
        ({"e": [], "n": None}, ["e: ", "n: "]),
        ([1, [2, 3]], ["2.0000, 3.0000", "1.0000"]),
        ([], []),
    ],
)
def test_to_str_list(data, expected):
    assert _to_str_list(data) == expected


def test_setup_logger_writes_stream_and_file(tmp_path, capsys):
    path = tmp_path / "log.txt"
    logger = setup_logger("cadence.test.a", format="%(name)s|%(message)s", filepath=path, reset=True)
    logger.info("héllo")
    for handler in logger.handlers:
        handler.flush()
    assert "cadence.test.a|héllo" in capsys.readouterr().err
    assert path.read_text(encoding="utf-8").strip() == "cadence.test.a|héllo"
    assert not logger.propagate
    for handler in list(logger.handlers):
        handler.close()
        logger.removeHandler(handler)


def test_setup_logger_keeps_existing_unless_reset():
    first = setup_logger("cadence.test.b", level=logging.DEBUG, reset=True)
    again = setup_logger("cadence.test.b", level=logging.ERROR)
    assert again is first and again.level == logging.DEBUG and len(again.handlers) == 1
    reset = setup_logger("cadence.test.b", level=logging.ERROR, reset=True)
    assert reset.level == logging.ERROR and len(reset.handlers) == 1


def test_setup_logger_silences_other_ranks():
    logger = setup_logger("cadence.test.c", level=logging.CRITICAL, distributed_rank=1)
    assert [type(handler) for handler in logger.handlers] == [logging.NullHandler]
    assert logger.level != logging.CRITICAL


def test_deprecated_warns_raises_and_documents():
    @deprecated("1.0", "2.0", reasons=("r1",))
    def old():
        """Doc."""
        return 3

    assert old.__doc__ == "**Deprecated function**.\n\n    Doc... deprecated:: 1.0\n\n\t\n\t- r1"
    with pytest.warns(DeprecationWarning, match="since version 1.0 and will be removed in version 2.0"):
        assert old() == 3

    @deprecated("1.0", raise_exception=True)
    def gone():
        return 0

    with pytest.raises(DeprecationWarning, match=r"since version 1.0\."):
        gone()


def test_hash_checkpoint(tmp_path):
    source = tmp_path / "weights.bin"
    source.write_bytes(b"abc")
    path, digest = hash_checkpoint(str(source), str(tmp_path / "out"))
    assert digest == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert path == tmp_path / "out" / "weights-ba7816bf.pt"
    assert path.read_bytes() == b"abc" and not source.exists()
    with pytest.raises(FileNotFoundError, match=r"missing\.pt does not exist in"):
        hash_checkpoint(tmp_path / "missing.pt", tmp_path)
