"""TrialConfig: the one place a trial is filled in and validated, whichever way it was built."""

import json

import pytest

from search_spaces import expand
from trainables.spec import TrialConfig, parse_assignments
from trainables.spec.enums import SCALES, Scale
from trainables.spec.models import list_backbones
from trainables.spec.models import BACKBONES as _BACKBONES
from trainables.spec.evaluation import PAPER_ATTACK, PRESETS
from trainables.spec.attacks import WORST_CASE_ATTACKS
from trainables import training


def test_a_config_from_ray_tune_is_resolved_like_an_expanded_one():
    expanded = next(t for t in expand("paper_grid", "tiny") if t.task == "pneumothorax" and t.attention == "none"
                    and t.backbone == "resnet50")
    from_tune = TrialConfig.from_tune({"trial": {**expanded.to_dict(), "epsilons": (), "reference_epsilon": None}})
    assert from_tune.reference_epsilon == 0.01 and from_tune.epsilons == expanded.epsilons
    assert from_tune == expanded and from_tune.resolved() == from_tune  # idempotent
    unsized = TrialConfig.from_tune({"trial": {"scale": "mini", "backbone": "inception_resnet_v2"}})
    assert unsized.image_size == _BACKBONES[("inception_resnet_v2", "mini")].default_size


@pytest.mark.parametrize("values, message", [
    ({"backbone": "vgg"}, "unknown backbone 'vgg'"),
    ({"attention": "hard"}, "unknown attention 'hard'"),
    ({"scale": "huge"}, "unknown scale 'huge'; expected one of: full, mini"),
    ({"source": "web"}, "unknown source 'web'; expected one of: synthetic, original, medmnist"),
    ({"attack_on": "softmax"}, "unknown attack_on 'softmax'; expected one of: logits, probabilities"),
    ({"epoch_callbacks": {"no_such_module_xyz:hook": {}}}, "cannot import no_such_module_xyz"),
    ({"epoch_callbacks": {"not a spec": {}}}, "must be 'module:function'"),
])
def test_names_are_checked_however_the_config_was_built(values, message):
    with pytest.raises(ValueError, match=message):
        TrialConfig.from_tune({"trial": {"scale": "mini", **values}})


def test_closed_sets_are_the_registries_own():
    assert SCALES == tuple(s.value for s in Scale)
    assert {scale for _, scale in _BACKBONES} == set(SCALES)
    assert all((backbone, scale) in _BACKBONES for backbone in list_backbones() for scale in SCALES)


def test_attack_defaults_live_in_one_preset():
    config = TrialConfig()
    # a trial runs the `standard` preset: the paper's PGD and the worst-case ensemble, and estimates radii, each
    # attack at its budget's defaults (Foolbox LinfPGD's; AutoAttack's)
    assert config.attack_preset == "standard" and config.attack == {}
    assert config.attack_settings == PAPER_ATTACK.replace(batch_size=config.eval_batch_size,
                                                          attacks=WORST_CASE_ATTACKS, radius_attack="fmn")
    pgd = config.attack_settings.budget("pgd")
    assert (pgd.steps, pgd.rel_stepsize, pgd.random_start, pgd.restarts) == (40, 0.01 / 0.3, True, 1)
    margin = config.attack_settings.budget("apgd_margin")
    assert (margin.steps, margin.targets, config.attack_settings.budget("square").queries) == (100, 9, 5000)
    assert PRESETS["paper"].settings() == PAPER_ATTACK  # the paper's attack alone


def test_test_hooks_are_not_config_values():
    with pytest.raises(ValueError, match="--set expects key=value"):
        parse_assignments(['extra={"fail_once_at_epoch": 1}'])
    assert "extra" not in TrialConfig.field_names()


def test_epoch_callbacks_by_file_path_receive_the_event_and_their_arguments(tmp_path):
    hooks = tmp_path / "my_hooks.py"
    hooks.write_text("seen = []\ndef record(event, *, tag):\n    seen.append((event.epoch, event.restored, tag))\n"
                     "    raise RuntimeError(f'stop at {event.epoch} {tag}')\n")
    spec = f"{hooks}:record"
    config = TrialConfig(epoch_callbacks={spec: {"tag": "x"}})
    assert json.loads(config.as_params()["epoch_callbacks"]) == {spec: {"tag": "x"}}
    event = training.EpochEvent(config, epoch=2, metrics={}, pid=1, restored=True)
    with pytest.raises(RuntimeError, match="stop at 2 x"):
        training.run_epoch_callbacks(event)
    assert training.resolve_callback(spec).__module__ == "loaded_my_hooks"
    with pytest.raises(ValueError, match="has no function 'missing'"):
        training.resolve_callback(f"{hooks}:missing")
    with pytest.raises(ValueError, match="no file"):
        training.resolve_callback(f"{tmp_path}/absent.py:record")


def test_search_trials_are_named_with_their_study_trial_number():
    from types import SimpleNamespace

    from sweep.launcher import numbered_trial_names

    config = TrialConfig(task="pneumothorax", scale="mini")
    name = numbered_trial_names(4)
    trials = [SimpleNamespace(config={"trial": config.to_dict(), "heads": heads}) for heads in (4, 8)]
    assert [name(t) for t in trials] == [f"{config.replace(heads=4).run_name}-t4", f"{config.run_name}-t5"]


def test_a_search_reports_its_validation_objectives_to_tune_and_a_grid_its_test_objectives():
    from trainables.trial import tune_metrics

    metrics = {"clean_acc": 0.9, "robust_objective": 0.4, "val/clean_acc": 0.7, "val/robust_objective": 0.2}
    search = TrialConfig(objective_split="val")
    assert tune_metrics(metrics, search)["clean_acc"] == 0.7 and tune_metrics(metrics, search)["robust_objective"] == 0.2
    assert tune_metrics(metrics, TrialConfig()) == metrics
    with pytest.raises(ValueError, match="unknown objective_split 'train'; expected one of: test, val"):
        TrialConfig(objective_split="train")
