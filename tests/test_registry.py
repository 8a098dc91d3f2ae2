"""The one Registry type: names in order, duplicates refused unless replaced on purpose, errors that list names."""

import pytest

from search_spaces import PROFILES, SWEEPS, Sweep, register_sweep
from trainables.data import DataError
from trainables.data.sources import get_source
from trainables.spec.tasks import TASKS
from trainables.spec.models import ATTENTIONS as _ATTENTIONS, BACKBONES as _BACKBONES
from trainables.spec.registry import DuplicateNameError, Registry
from trainables.robustness import ATTACK_OUTPUTS, CHECKS


def test_registration_order_lookup_and_listed_names():
    colours = Registry("colour")
    colours.register("red", 1)
    colours.register("blue", 2)
    assert list(colours) == ["red", "blue"] and colours.lookup("blue") == 2 and len(colours) == 2
    with pytest.raises(ValueError, match="unknown colour 'green'; expected one of: red, blue"):
        colours.lookup("green")
    with pytest.raises(KeyError):  # the Mapping protocol keeps KeyError for [] and .get
        colours["green"]
    assert colours.get("green") is None


def test_a_name_registered_twice_raises_unless_replaced():
    colours = Registry("colour")
    colours.register("red", 1)
    with pytest.raises(DuplicateNameError, match="colour 'red' is already registered"):
        colours.register("red", 2)
    assert colours.lookup("red") == 1
    colours.register("red", 3, replace=True)
    assert colours.lookup("red") == 3


def test_an_unknown_task_is_the_data_layer_s_error_where_data_is_read():
    with pytest.raises(ValueError, match="unknown task 'mnist'; expected one of: skin_lesion"):
        TASKS.lookup("mnist")
    with pytest.raises(DataError, match="unknown task 'mnist'; expected one of: skin_lesion"):
        get_source("synthetic", "mnist")


def test_every_registry_of_the_project_is_a_registry():
    for registry in (SWEEPS, PROFILES, TASKS, _BACKBONES, _ATTENTIONS, CHECKS, ATTACK_OUTPUTS):
        assert isinstance(registry, Registry)


def test_a_sweep_cannot_silently_shadow_a_built_in_one():
    original = SWEEPS.lookup("paper_grid")
    with pytest.raises(DuplicateNameError, match="sweep 'paper_grid' is already registered"):
        register_sweep(Sweep(name="paper_grid", description="mine"))
    assert SWEEPS.lookup("paper_grid") is original
