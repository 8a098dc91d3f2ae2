import pytest

from search_spaces import PROFILES, SWEEPS, expand
from trainables.spec import parse_assignments
from search_spaces.sweeps import DENSE_EPSILONS
from trainables.spec import TrialConfig
from trainables.spec.tasks import get_task, list_tasks
from trainables.spec.models import list_placements


@pytest.mark.parametrize("profile", sorted(PROFILES))
@pytest.mark.parametrize("sweep", sorted(SWEEPS))
def test_every_sweep_expands_and_validates_under_every_profile(sweep, profile):
    trials = expand(sweep, profile)
    assert trials, "a sweep never expands to nothing"
    for trial in trials:
        assert trial.sweep == sweep and trial.profile == profile
        assert trial.epsilons == tuple(sorted(set(trial.epsilons))) and trial.epsilons[0] > 0
        assert trial.image_size and trial.reference_epsilon
        assert TrialConfig.from_dict(trial.to_dict()) == trial  # the logged record rebuilds the trial


def test_paper_grid_is_tasks_x_backbones_x_attention():
    trials = expand("paper_grid", "smoke")
    assert len(trials) == 12
    assert {(t.task, t.backbone, t.attention, t.placement) for t in trials} == {
        (task, backbone, attention, "head")
        for task in list_tasks() for backbone in ("resnet50", "inception_resnet_v2")
        for attention in ("none", "soft_faithful")
    }
    for trial in trials:
        assert trial.epsilons == get_task(trial.task).epsilons


def test_paper_profile_keeps_the_paper_recipe():
    trial = expand("paper_grid", "paper")[0]
    assert (trial.learning_rate, trial.adam_epsilon, trial.patience, trial.min_delta, trial.epochs) == (0.01, 0.1, 40, 0.001, 300)
    pgd = trial.attack_settings.budget("pgd")
    assert (pgd.steps, pgd.random_start, trial.weights, trial.scale) == (40, True, "imagenet", "full")
    assert {t.image_size for t in expand("paper_grid", "paper")} == {224, 299}
    skin = [t for t in expand("paper_grid", "paper") if t.task == "skin_lesion"]
    assert all(t.epoch_fraction == 0.1 for t in skin)


def test_placement_grid_covers_every_placement_and_both_variants():
    trials = expand("placement_grid", "smoke")
    per_backbone = {b: 1 + 2 * len(list_placements(b)) for b in ("resnet50", "inception_resnet_v2")}
    assert len(trials) == 3 * sum(per_backbone.values())
    resnet_skin = {(t.attention, t.placement) for t in trials if t.backbone == "resnet50" and t.task == "skin_lesion"}
    for placement in list_placements("resnet50"):
        assert ("soft_faithful", placement) in resnet_skin and ("soft_corrected", placement) in resnet_skin


def test_epsilon_grid_is_denser_wider_and_stronger():
    smoke = {t.run_name: t for t in expand("paper_grid", "smoke")}
    dense = expand("epsilon_grid", "smoke")
    assert {t.run_name for t in dense} == set(smoke)
    for trial in dense:
        pgd, before = trial.attack_settings.budget("pgd"), smoke[trial.run_name].attack_settings.budget("pgd")
        assert pgd.steps == 2 * before.steps and pgd.restarts == 3 and pgd.rel_stepsize == before.rel_stepsize
        assert trial.attack_settings.budget("square") == smoke[trial.run_name].attack_settings.budget("square")
        assert trial.epsilons == DENSE_EPSILONS
    assert min(DENSE_EPSILONS) < 0.00125 and max(DENSE_EPSILONS) == 1.0 and 0.64 in DENSE_EPSILONS


def test_seeds_repeat_every_trial():
    trials = expand("paper_grid", "smoke", seeds=3)
    assert len(trials) == 36
    assert sorted({t.seed for t in trials}) == [0, 1, 2]
    assert len({t.run_name for t in trials}) == 36


def test_overrides_apply_last_and_are_parsed():
    overrides = parse_assignments(["epochs=3", "epsilons=[0.01, 0.02]", "weights=None", "source=synthetic", "attention=none",
                                 "max_train=none"])
    assert overrides == {"epochs": 3, "epsilons": (0.01, 0.02), "weights": None, "source": "synthetic",
                         "attention": "none", "max_train": None}
    trials = expand("paper_grid", "smoke", overrides={"epochs": 3, "epsilons": (0.01, 0.02)})
    assert all(t.epochs == 3 and t.epsilons == (0.01, 0.02) for t in trials)


@pytest.mark.parametrize("bad, message", [
    (["nosuchkey=1"], "--set expects key=value"),
    (["epochs"], "--set expects key=value"),
])
def test_bad_overrides_are_rejected(bad, message):
    with pytest.raises(ValueError, match=message):
        parse_assignments(bad)


@pytest.mark.parametrize("override, message", [
    ({"backbone": "vgg16"}, "unknown backbone 'vgg16'"),
    ({"task": "mnist"}, "unknown task 'mnist'"),
    ({"epsilons": (0.5, 2.0)}, "epsilons must be a list of numbers in \\(0, 1\\]"),
])
def test_invalid_trials_fail_before_running(override, message):
    with pytest.raises(ValueError, match=message):
        expand("paper_grid", "smoke", overrides=override)


def test_unknown_placement_is_named():
    with pytest.raises(ValueError, match="unknown placement 'conv9'"):
        expand("paper_grid", "smoke", overrides={"attention": "soft_faithful", "placement": "conv9"})


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(ValueError, match="expected one of: paper_grid"):
        expand("nope", "smoke")
    with pytest.raises(ValueError, match="expected one of: paper, smoke"):
        expand("paper_grid", "nope")


def test_longest_trials_run_first():
    from sweep.launcher import longest_first

    ordered = [(t.task, t.backbone, t.attention) for t in longest_first(expand("paper_grid", "smoke"))]
    backbones = [backbone for _, backbone, _ in ordered]
    assert backbones == ["inception_resnet_v2"] * 6 + ["resnet50"] * 6
    assert [attention != "none" for _, _, attention in ordered] == ([True] * 3 + [False] * 3) * 2
    assert [task for task, _, _ in ordered[:3]] == ["skin_lesion", "diabetic_retinopathy", "pneumothorax"]  # stable

    # pixels count: a mini ResNet-50 at 96 px (1.0 x 96^2) outweighs a mini InceptionResNetV2 at 48 px (1.5 x 48^2)
    trials = expand("paper_grid", "smoke")
    small_irv2 = next(t for t in trials if t.backbone == "inception_resnet_v2")
    large_resnet = next(t for t in trials if t.backbone == "resnet50").replace(image_size=96)
    assert longest_first([small_irv2, large_resnet]) == [large_resnet, small_irv2]
