#!/usr/bin/env bash
# A wish about a place the shipped gridnav data never visits: reported as such, then (issue 11's target)
# learnable from 25 active labels after collecting 500 varied trajectories? Figures in docs/RESULTS.md.
# Usage: bench/unseen_region.sh [WORK_FOLDER] [WISH] [FEEDBACK] [INTENT_SET] [LABEL_SEED]   (about 3 minutes on 2 cores)
# WISH: the preferred region (default x=6..7&y=8..9, the one looked at while developing; x=8..9&y=0..1 is the
# held-out one: 5 of 1495 shipped trajectories enter it). FEEDBACK: scores (default) or segments (dpf label --feedback).
# INTENT_SET: an intent setting for dpf train-intent --set, e.g. terminal=stay (default: none).
# LABEL_SEED: the draw of labels on the merged data (dpf label --seed; default 0); the collection stays seed 1.
set -euo pipefail
work=${1:-runs/unseen_region}
mkdir -p "$work"
wish=${2:-'x=6..7&y=8..9'}
feedback=${3:-scores}
intent_set=()
[ -n "${4:-}" ] && intent_set=(--set "$4")
label_seed=${5:-0}
data=models/gridnav/trajectories.npz
echo "== the shipped data"
dpf label --data "$data" --prefer "$wish" --budget 25 --select active --feedback "$feedback" --seed 0 --out "$work/shipped.npz" --force
dpf train-intent --data "$data" --labels "$work/shipped.npz" --out "$work/intent-shipped" "${intent_set[@]}" --force --quiet || true
echo "== 500 exploring episodes of the fixed task agent, merged in"
dpf rollout --env gridnav --policy models/gridnav --explore boltzmann:3 --start random --episodes 500 --seed 1 \
    --out "$work/varied.npz" --force --quiet
dpf merge --data "$data" --data "$work/varied.npz" --out "$work/merged.npz" --force
dpf label --data "$work/merged.npz" --prefer "$wish" --budget 25 --select active --feedback "$feedback" --seed "$label_seed" --out "$work/merged-labels.npz" --force
dpf train-intent --data "$work/merged.npz" --labels "$work/merged-labels.npz" --out "$work/intent-merged" "${intent_set[@]}" --force --quiet
dpf evaluate --env gridnav --intent "$work/intent-merged" --strategies task,dynamic --prefer "$wish" \
    --episodes 100 --seed 3 --calibrate --quiet
