"""Every name the project writes to (and reads from) MLflow, in one place, and the text of an epsilon in those names.
Nothing else spells them.

experiment  "<sweep>-<profile>", created on the driver before trials start
runs        one parent run per sweep invocation (tag kind=sweep), the trials nested under it (tag
            mlflow.parentRunId), named "<task>-<backbone>-<attention>-<placement>-s<seed>" (search trials:
            "<that>-t<trial number>"), tagged with the Ray trial id; summary runs (report, Pareto front: kind=summary)
params      every TrialConfig field, plus "model.<key>" from describe_model
metrics     per epoch (step = epoch): train_loss, train_accuracy, val_loss, val_accuracy
            final: clean_acc, acc_at_eps/<eps>, sensitivity_at_eps/<eps> etc. (CLINICAL_METRICS), robust_acc_ref,
            robust_auc, robust_objective, check/<name> (1/0), check_p/<name>,
            check_escalated/<name>, check_escalation_gradients/<name>, majority_rate, val/<objective> (objective_split="val"),
            corrupt_acc/<corruption>/<severity>, mean_corruption_acc, corruption_clean_acc,
            time/<phase> (seconds), peak_rss_mb, peak_private_mb (anonymous memory, trainables.runtime.memory),
            skipped_images
tags        sweep, profile, sweep_kind (grid | search | reevaluation), trial_id, config_digest, status (finished |
            failed), checks_failed, checks_why, source_run_id, ray_node_id, attempts, kind, superseded_by; parent: sweep_digest
inputs      the trial's data set (mlflow.log_input): source, task, split sizes, digest of its identity
artifacts   curves/accuracy_vs_epsilon.png, robustness/result.json, robustness/corruptions.npz, explanations/...,
            model/model.keras,
            data/skipped_images.txt
"""


def format_epsilon(eps: float) -> str:
    """Stable text for an epsilon, 10 significant digits so that float(text) gives it back (a ladder in [0, 255]
    units divided by 255 needs them): 0.00125 -> '0.00125', 0.32 -> '0.32', 0 -> '0', 0.32 / 255 -> '0.001254901961'.
    """
    return f"{float(eps):.10g}"


def experiment_name(sweep: str, profile: str) -> str:
    return f"{sweep}-{profile}"


# per-epoch metrics (step = epoch)
TRAIN_LOSS = "train_loss"
TRAIN_ACCURACY = "train_accuracy"
VAL_LOSS = "val_loss"
VAL_ACCURACY = "val_accuracy"
EPOCH_METRICS = (TRAIN_LOSS, TRAIN_ACCURACY, VAL_LOSS, VAL_ACCURACY)

# final metrics: the joint objectives (trainables.robustness.evaluate.objectives) and the curve they come from
CLEAN_ACC = "clean_acc"
ROBUST_ACC_REF = "robust_acc_ref"
ROBUST_AUC = "robust_auc"
ROBUST_OBJECTIVE = "robust_objective"
OBJECTIVES = (CLEAN_ACC, ROBUST_ACC_REF, ROBUST_AUC, ROBUST_OBJECTIVE)
SEARCH_OBJECTIVES = (CLEAN_ACC, ROBUST_OBJECTIVE)  # what an Optuna search maximises
VAL_OBJECTIVE = "val/"  # + objective: measured on the validation split (objective_split="val": what a search saw)
ACC_AT_EPS = "acc_at_eps/"  # + format_epsilon(eps): the worst case over the attacks; acc_at_eps/0 is the clean accuracy
# ACC_AT_EPS + attack + "/" + format_epsilon(eps): the accuracy after that attack (with pgd first: the paper's PGD)
# ACC_AT_EPS + first attack + "/" + WORST_CASE_POINTS + "/" + eps: the first attack on the worst case's points
PAPER_ATTACK_NAME = "pgd"
POINTS = "points/"  # + attack name or WORST_CASE_POINTS: how many points a number rests on
WORST_CASE_POINTS = "worst_case"
MEDIAN_RADIUS = "median_radius"  # median smallest adversarial epsilon found, over the worst case's points
ATTACK_GRADIENTS = "attack_gradients/"  # + attack name: input-gradient evaluations (per point)
ATTACK_QUERIES = "attack_queries/"  # + attack name: forward-only model queries (per point)
# clinical metrics of the worst case's adversarial predictions (trainables.robustness.evaluate.clinical), eps 0 = clean:
# <metric>_at_eps/<eps> for sensitivity, specificity (binary), balanced_acc, majority_fraction, collapsed (1/0);
# recall_at_eps/<class index>/<eps> per class
CLINICAL_METRICS = ("sensitivity", "specificity", "balanced_acc", "majority_fraction", "collapsed", "recall")
AT_EPS = "_at_eps/"


def clinical_key(metric: str, epsilon_text: str) -> str:
    """("recall/3", "0.01") -> "recall_at_eps/3/0.01"; ("sensitivity", "0") -> "sensitivity_at_eps/0"."""
    name, _, class_index = metric.partition("/")
    return name + AT_EPS + (f"{class_index}/" if class_index else "") + epsilon_text


# randomized smoothing (trials with certify=true): the smoothed classifier's certified accuracy (a lower bound) at
# each L-inf epsilon of the ladder (eps * sqrt(H*W*C) as L2) and at L2 radii, its abstain rate, per-point outcomes
CERTIFIED_ACC_AT_EPS = "certified_acc_at_eps/"  # + format_epsilon(eps); /0: certified and correct at any radius
CERTIFIED_ACC_AT_L2 = "certified_acc_at_l2/"  # + format_epsilon(r)
CERTIFIED_L2_RADII = (0.0, 0.25, 0.5, 0.75, 1.0)
ABSTAIN_RATE = "abstain_rate"
CERTIFIED_POINTS = "certified_points"
CERTIFIED_ARTIFACT = "robustness/certified.npz"  # point, label, prediction (-1 abstain), radius (L2, NaN abstain)
# the same points' smoothed classifier under the EoT attacks (spec.attacks.RAND_ATTACKS, an upper bound): g correct and
# not broken within eps; in certified.npz: epsilons, smoothed_prediction (clean PREDICT), smoothed_robust (N, E),
# broken_by (index into the attacks, -1 never), broken_prediction
SMOOTHED_ACC_AT_EPS = "smoothed_acc_at_eps/"  # + format_epsilon(eps); /0: PREDICT correct at the clean point

# natural corruptions (trainables.corruptions): accuracy under each corruption at each severity on the corruption
# points, their mean over corruptions and severities, and the clean accuracy of the same points
CORRUPT_ACC = "corrupt_acc/"  # + corruption name + "/" + severity (1-5)
MEAN_CORRUPTION_ACC = "mean_corruption_acc"
CORRUPTION_CLEAN_ACC = "corruption_clean_acc"
CORRUPTION_POINTS = "corruptions"  # POINTS + this: how many points the corruption numbers rest on
CORRUPTIONS_ARTIFACT = "robustness/corruptions.npz"  # point, label, clean, correct (C, S, M), names, severities


def corruption_key(name: str, severity: int) -> str:
    """("jpeg", 3) -> "corrupt_acc/jpeg/3"."""
    return f"{CORRUPT_ACC}{name}/{int(severity)}"


CHECK = "check/"  # + check name; 1 passed, 0 failed
CHECK_P = "check_p/"  # + check name; the exact test's p-value (the point-counting checks and `learned`)
CHECK_ESCALATED = "check_escalated/"  # + check name; points a firing budget check re-attacked at the cap
CHECK_ESCALATION_GRADIENTS = "check_escalation_gradients/"  # + check name; the gradients that escalation cost
MAJORITY_RATE = "majority_rate"  # the largest class's share of the evaluated labels (the `learned` check's bar)
EVAL_PROGRESS_METRIC = "eval_progress/"  # + units_done | units_replayed | points_done | points_total | eta_s; step = save
TIME = "time/"  # + phase name; seconds
PEAK_RSS_MB = "peak_rss_mb"
PEAK_PRIVATE_MB = "peak_private_mb"  # RssAnon: what a memory-mapped file's page cache does not inflate
SKIPPED_IMAGES = "skipped_images"  # unreadable images the data layer left out (up to 5 % allowed); 0 when none

# what the driver puts into Ray Tune's config beside the trial: where and how to log (not part of the trial)
RUN_SETTINGS = ("tracking_uri", "experiment_id", "parent_run_id", "sweep_kind")

# what Ray Tune receives besides the metrics (not logged to MLflow)
PHASE = "phase"  # "training" while epochs run, "evaluated" once the trial's final metrics are in
PHASE_TRAINING = "training"
PHASE_EVALUATED = "evaluated"
PHASE_EVALUATING = "evaluating"  # a saved unit of the resumable evaluation (its checkpoint comes with it)
EVAL_PROGRESS = "eval_progress"  # one line: where the evaluation is (also a tag; the driver prints it)
EPOCH = "epoch"
CHECKS_FAILED = "checks_failed"  # also a tag
CHECKS_WHY = "checks_why"  # also a tag: one line, "check: reason; check: reason" for each failed check

MODEL_PARAM = "model."  # + describe_model key

# tags
TAG_SWEEP = "sweep"
TAG_PROFILE = "profile"
TAG_SWEEP_KIND = "sweep_kind"  # grid | search | reevaluation: how analysis groups runs, without the sweep registry
TAG_TRIAL_ID = "trial_id"
TAG_STATUS = "status"
TAG_CHECKS_FAILED = CHECKS_FAILED
TAG_CHECKS_WHY = CHECKS_WHY
TAG_SOURCE_RUN = "source_run_id"
TAG_NODE = "ray_node_id"
TAG_ATTEMPTS = "attempts"
TAG_CONFIG_DIGEST = "config_digest"  # identity.trial_digest: a finished run with it is never run again
TAG_SWEEP_DIGEST = "sweep_digest"  # identity.sweep_digest, on a sweep's parent run
TAG_SUPERSEDED = "superseded_by"  # set by --fresh on earlier finished runs: the parent run that replaces them
TAG_KIND = "kind"  # "sweep" on a sweep's parent run, "summary" on report / Pareto-front runs: neither is a trial
SWEEP_KIND = "sweep"
SUMMARY_KIND = "summary"
TAG_PARENT = "mlflow.parentRunId"  # MLflow's own nesting tag
TAG_STUDY = "study"
STATUS_FINISHED = "finished"
STATUS_FAILED = "failed"

SWEEP_KINDS = ("grid", "search", "reevaluation")

# summary runs
REPORT_RUN = "report"
PARETO_RUN = "optuna-pareto-front"
REPORT_METRICS = ("trials", "trials_failed", "trials_with_failed_checks")
STUDY_TRIALS = "study_trials"
PARETO_SIZE = "pareto_size"
PARETO_JSON = "pareto_front.json"
PARETO_FIGURE = "pareto_front.png"

# artifacts
MODEL_ARTIFACT = "model/model.keras"
RESULT_ARTIFACT = "robustness/result.json"
SKIPPED_ARTIFACT = "data/skipped_images.txt"  # one line per skipped image: its path and why (only when any)
POINTS_ARTIFACT = "robustness/points.npz"  # RobustnessResult.points(): per-point outcomes, see the README
CURVE_ARTIFACT = "curves/accuracy_vs_epsilon.png"
EXPLANATIONS_DIR = "explanations"
SAMPLES_FILE = "samples.npz"
SAMPLES_ARTIFACT = f"{EXPLANATIONS_DIR}/{SAMPLES_FILE}"
PERTURBATION_PREVIEW = f"{EXPLANATIONS_DIR}/perturbation_grid.png"
GRADCAM_PREVIEW = f"{EXPLANATIONS_DIR}/gradcam_grid.png"

# the data set input of a trial run (mlflow.log_input)
DATASET_CONTEXT = "training"

# a sweep driver's lease on its parent run (trainables.tracking.lease)
TAG_DRIVER = "driver"  # "<host>:<pid>" of the driver that holds the parent run
TAG_DRIVER_SINCE = "driver_since"  # when it started, seconds since the epoch
TAG_HEARTBEAT = "driver_heartbeat"  # renewed every few seconds (seconds since the epoch); "released" as it ends
TAG_ENDED_BY = "ended_by"  # who closed a run its driver left RUNNING, and why
