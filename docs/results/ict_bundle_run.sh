#!/usr/bin/env bash
# The shipped default bundle (backend/styleface/data/demo_bundle, id styleface-demo-ict-v4) on the ICT
# stand-in world, in two steps:
#   1. a UV generator distilled from the stand-in's true maps (supervised; its starting point), in four runs;
#   2. `styleface-train all`: sample, F3D, SVM yaw direction, Fyaw on the stand-in's coefficients, then
#      the UV generator fine-tuned self-supervised from (1) through the differentiable renderer (UV render
#      mode, photometric + non-saturating GAN + R1 + symmetric view; no LPIPS: no VGG weights here), export.
# usage: bash docs/results/ict_bundle_run.sh OUT LAMBDA_MV STEPS [more styleface-train all options]
# training/README.md ("The shipped default bundle") gives the times, hardware and metrics. The ablation
# (no symmetric view) is LAMBDA_MV 0 from a copy of OUT's samples, f3d, yaw and fyaw folders.
set -euo pipefail
out=$1 mv=$2 steps=$3; shift 3
export PYTHONWARNINGS=ignore
py=${PYTHON:-python}
mkdir -p "$out"
if [ ! -f "$out/distilled0/uvgen.safetensors" ]; then   # 3500 steps from random weights
  "$py" -m styleface_train.bundle.demo_bundle --out "$out/distilled0" --face-model ict --image-size 128 \
    --uv-steps 3500 --threads "${THREADS:-2}" --bundle-id styleface-distilled-ict-v1
fi
if [ ! -f "$out/distilled1/uvgen.safetensors" ]; then   # 2000 more, eyes, brows and lips weighted 10x
  "$py" -m styleface_train.bundle.demo_bundle --out "$out/distilled1" --face-model ict --image-size 128 \
    --uv-steps 2000 --uv-init "$out/distilled0/uvgen.safetensors" --uv-feature-weight 10 --uv-lr 4e-4 \
    --threads "${THREADS:-2}" --bundle-id styleface-distilled-ict-v1
fi
if [ ! -f "$out/distilled2/uvgen.safetensors" ]; then   # 1500 more, features weighted 20x
  "$py" -m styleface_train.bundle.demo_bundle --out "$out/distilled2" --face-model ict --image-size 128 \
    --f3d-steps 200 --fyaw-steps 100 --svm-samples 5000 \
    --uv-steps 1500 --uv-init "$out/distilled1/uvgen.safetensors" --uv-feature-weight 20 --uv-lr 3e-4 \
    --threads "${THREADS:-2}" --bundle-id styleface-distilled-ict-v1
fi
if [ ! -f "$out/distilled/uvgen.safetensors" ]; then    # 2400 more: irises weighted, modulation lr x30
  "$py" -m styleface_train.bundle.demo_bundle --out "$out/distilled" --face-model ict --image-size 128 \
    --f3d-steps 200 --fyaw-steps 100 --svm-samples 5000 \
    --uv-steps 2400 --uv-init "$out/distilled2/uvgen.safetensors" --uv-feature-weight 20 --uv-iris-weight 60 \
    --uv-modulation-lr 30 --uv-lr 1e-3 --threads "${THREADS:-2}" --bundle-id styleface-distilled-ict-v1
fi
exec ${STYLEFACE_TRAIN:-styleface-train} --threads "${THREADS:-1}" --quiet all --out "$out" \
  --standin-n-latent 12 --standin-image-size 128 --standin-texture-size 128 --standin-face-model ict \
  --count 20000 --shard-size 5000 --sample-batch 250 --svm-count 50000 --svm linear-svc \
  --f3d-epochs 12 --f3d-batch-size 64 --f3d-lr 1e-3 --f3d-hidden "" \
  --fyaw-epochs 8 --fyaw-batch-size 64 --fyaw-lr 1e-3 --fyaw-hidden 256,64 \
  --init-uvgen "$out/distilled/uvgen.safetensors" --render-mode uv --noise const \
  --perceptual none --lambda-mv "$mv" --batch-size 8 --lr 1e-4 --channel-multiplier 1 --channel-max 32 \
  --steps "$steps" --checkpoint-every 50 --image-every 0 --val-batches 2 \
  --bundle-description "$(cat "$(dirname "$0")/ict_bundle_description.txt")" --bundle-id styleface-demo-ict-v4 --bundle-name "StyleFace demo (ICT head, stand-in)" "$@"
