from collections import OrderedDict

import pytest

from cadence.base import ResettableHandler, Serializable, mixins


def test_base_and_mixins_are_the_same_classes():
    assert mixins.Serializable is Serializable
    assert mixins.ResettableHandler is ResettableHandler


def test_state_dict_must_be_implemented():
    with pytest.raises(NotImplementedError, match="state_dict"):
        Serializable().state_dict()


class Position(Serializable):
    _state_dict_all_req_keys = ("epoch_length",)
    _state_dict_one_of_opt_keys = (("iteration", "epoch"), ("max_epochs", "max_iters"))


@pytest.mark.parametrize(
    "state",
    [
        {"epoch_length": 3, "iteration": 4, "max_epochs": 2},
        OrderedDict(epoch_length=3, epoch=1, max_iters=9),
    ],
)
def test_valid_states_load(state):
    Position().load_state_dict(state)


@pytest.mark.parametrize(
    ("state", "error", "match"),
    [
        ("text", TypeError, "should be a dictionary"),
        ({"iteration": 1, "max_epochs": 2}, ValueError, "Required state attribute 'epoch_length'"),
        ({"epoch_length": 3, "max_epochs": 2}, ValueError, r"exactly one of '\('iteration', 'epoch'\)'.*none"),
        ({"epoch_length": 3, "epoch": 1, "iteration": 2, "max_epochs": 2}, ValueError, "found 'iteration', 'epoch'"),
        ({"epoch_length": 3, "epoch": 1}, ValueError, "max_epochs"),
    ],
)
def test_invalid_states_are_refused(state, error, match):
    with pytest.raises(error, match=match):
        Position().load_state_dict(state)


def test_empty_group_is_a_clear_error():
    class Broken(Serializable):
        _state_dict_one_of_opt_keys = ((),)

    with pytest.raises(ValueError, match=r"Empty group found in 'Broken\._state_dict_one_of_opt_keys'"):
        Broken().load_state_dict({})


def test_flat_group_is_one_group():
    class Flat(Serializable):
        _state_dict_one_of_opt_keys = ("a", "b")  # type: ignore[assignment]

    Flat().load_state_dict({"a": 1})
    with pytest.raises(ValueError, match="exactly one of"):
        Flat().load_state_dict({})


def test_resettable_handler_needs_reset_and_attach():
    class OnlyReset(ResettableHandler):
        def reset(self):
            pass

    with pytest.raises(TypeError, match="attach"):
        OnlyReset()
