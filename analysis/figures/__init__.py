"""One pure function per figure: frame (and arrays) in, matplotlib Figure out (Agg, no pyplot state).

curves      accuracy_curves          paper figures 3-8: accuracy vs epsilon per task x backbone
images      perturbation_figure      paper figures 2 / 9 / 12: clean, adversarial, perturbation per epsilon
            gradcam_figure           paper figures 10 / 11 / 13 / 14: Grad-CAM overlays, clean vs perturbed
placement   placement_heatmap        robust accuracy per attention placement x epsilon, and its gain over none
pareto      pareto_scatter           clean accuracy vs robust objective with the Pareto front per task
checks      checks_grid              trials x sanity checks, pass / fail / missing
paired      paired_difference_figure attention - baseline on the same images vs epsilon, with 95 % CIs
            clinical_figure          sensitivity / specificity (or balanced accuracy) vs epsilon per task
            radius_curves            fraction of points robust at each radius, per model
pareto      study_pareto_front       an Optuna study's trials and Pareto front (the Pareto-front run's figure)
smoothing   bracket_figure           per smoothed model: certified .. EoT-attack accuracy band, the base model's worst case
            certified_radius_figure  the smoothed models' certified accuracy vs L2 radius
corruptions corruption_heatmap       accuracy per corruption x severity, a panel per model of a task x backbone
verdicts    verdict_forest           the paper's claims: attention - baseline per claim, interval, verdict
ablation    tradeoff_figure          clean vs worst-case robust accuracy per attention x recipe, a panel per task

Re-exported from trainables.previews (drawn by each trial into its MLflow run): trial_accuracy_curve,
perturbation_preview and gradcam_preview (OpenCV grids logged beside the explanation arrays), write_png.

Artists carry gids so their data can be found again: "robust:<variant>", "clean:<variant>", "band:<variant>",
"front:<task>", "trials:<task>".
"""

from trainables.previews import gradcam_preview, perturbation_preview, trial_accuracy_curve, write_png

from .ablation import tradeoff_figure
from .base import save_figure
from .checks import checks_grid
from .corruptions import corruption_heatmap
from .curves import accuracy_curves
from .images import gradcam_figure, perturbation_figure
from .paired import clinical_figure, paired_difference_figure, radius_curves
from .pareto import pareto_front, pareto_scatter, study_pareto_front
from .placement import placement_heatmap
from .smoothing import bracket_figure, certified_radius_figure
from .verdicts import verdict_forest

__all__ = ["accuracy_curves", "bracket_figure", "certified_radius_figure", "checks_grid", "clinical_figure",
           "corruption_heatmap", "paired_difference_figure", "radius_curves", "gradcam_figure", "gradcam_preview", "pareto_front", "pareto_scatter",
           "perturbation_figure", "perturbation_preview", "placement_heatmap", "save_figure", "study_pareto_front",
           "tradeoff_figure", "trial_accuracy_curve", "verdict_forest", "write_png"]
