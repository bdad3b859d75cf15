#!/usr/bin/env bash
# The stand-in ablation runs of training/README.md ("Results on the stand-in").
# usage: bash docs/results/selfsup_run.sh OUT LAMBDA_MV STEPS   (styleface-train on PATH, e.g. .venv/bin)
# Run lambda_mv 0.75 first; copy its samples/ f3d/ yaw/ fyaw/ folders and all_report.json into the
# second run folder so both share the same F3D and Fyaw (those stages are then skipped).
set -euo pipefail
export OMP_NUM_THREADS=1 PYTHONWARNINGS=ignore
styleface-train --threads 1 --quiet all --out "$1" \
  --standin-n-latent 10 --standin-image-size 64 --standin-texture-size 128 \
  --count 20000 --shard-size 5000 --sample-batch 250 --svm-count 50000 --svm linear-svc \
  --f3d-epochs 8 --f3d-batch-size 64 --f3d-lr 1e-3 --fyaw-epochs 8 --fyaw-batch-size 64 --fyaw-lr 1e-3 \
  --lambda-mv "$2" --perceptual none --batch-size 4 --channel-multiplier 1 --channel-max 128 \
  --steps "$3" --checkpoint-every 100 --image-every 250 --val-batches 4 \
  --bundle-id "styleface-standin-selfsup-mv$2" --bundle-name "stand-in, self-supervised (lambda_mv $2)"
