#!/usr/bin/env bash
# The shipped demo bundle (backend/styleface/data/demo_bundle): `styleface-train all` on the stand-in.
# usage: bash docs/results/demo_bundle_run.sh OUT DEVICE STEPS [more styleface-train all options]
# The bundle was made in two sittings of this one command (every stage is skipped once its output
# exists): sample, f3d, yaw-direction and fyaw on the CPU machine (DEVICE cpu), then uvgen and export on
# one GPU (DEVICE cuda) with the same OUT folder; training/README.md ("The shipped demo bundle") gives the
# steps, times and hardware. STYLEFACE_TRAIN overrides the command (e.g. "python3 -m styleface_train.cli").
set -euo pipefail
out=$1 dev=$2 steps=$3; shift 3
export PYTHONWARNINGS=ignore
exec ${STYLEFACE_TRAIN:-styleface-train} --threads "${THREADS:-2}" --quiet all --out "$out" \
  --standin-n-latent 12 --standin-image-size 128 --standin-texture-size 128 \
  --count 40000 --shard-size 5000 --sample-batch 250 --svm-count 50000 --svm linear-svc \
  --f3d-epochs 20 --f3d-batch-size 64 --f3d-lr 1e-3 --f3d-hidden 512,256,128 \
  --fyaw-epochs 12 --fyaw-batch-size 64 --fyaw-lr 1e-3 --fyaw-hidden 256,64 \
  --lambda-mv 0.75 --perceptual none --batch-size 32 --channel-multiplier 1 --channel-max 128 \
  --steps "$steps" --checkpoint-every 500 --image-every 1000 --val-batches 8 --device "$dev" \
  --bundle-id styleface-demo-standin-v2 --bundle-name "StyleFace demo (stand-in, self-supervised)" "$@"
