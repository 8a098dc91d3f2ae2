"""The evaluation of one model: the worst case over the attacks on nested epsilon balls (evaluation, ensemble), the
sanity checks (checks), the resumable units (units) and their progress store (progress), validated inputs (inputs),
per-point results (result), clinical metrics under attack (clinical) and the joint objectives (objectives)."""
