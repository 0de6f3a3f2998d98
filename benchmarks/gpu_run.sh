#!/usr/bin/env bash
# Every GPU figure in docs/benchmarks.md, in one run (about 8 minutes on one H100/H200), written to
# $OUT (default ./gpu-results): env.txt, then one Markdown file (and JSON) per section. Each section
# has a time cap so that a slow one cannot starve the rest; the whole stays under DEADLINE seconds.
#   bash benchmarks/gpu_run.sh                 # OUT=... DEADLINE=... to change where and how long
#   SECTIONS="tests check sweep_compile compile_all" bash benchmarks/gpu_run.sh   # the second run
#   SECTIONS="tests cudnn sweep_compile check" bash benchmarks/gpu_run.sh, then
#   SECTIONS="group_loop sweep_autotune profile test_size" bash benchmarks/gpu_run.sh
#       not run yet: cudnn.benchmark (on by default since the first GPU runs, which had it off), the bf16
#       floor of --check, the seeds_per_job loop, autotuned compiled kernels in the seed sweep, the profile,
#       the GPU memory of one full-size test image
set -u
OUT=${OUT:-gpu-results}
DEADLINE=${DEADLINE:-540}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}
START=$(date +%s)
B="$PY benchmarks/bench_train_step.py ${BENCH_ARGS:---paper-scale --sizes 256 --repeats 30 --warmup 3}"
FAST="--amp --channels-last --fused-adam --cuda-graph"

section() {  # section NAME CAP_SECONDS COMMAND...: run with the smaller of CAP and the time left
  local name=$1 cap=$2
  shift 2
  local left=$((DEADLINE - ($(date +%s) - START)))
  ((left < cap)) && cap=$left
  if ((cap < 20)); then echo "## $name: skipped, out of time" | tee "$OUT/$name.md"; return; fi
  echo "## $name (cap ${cap}s): $*" | tee "$OUT/$name.md"
  local t0=$(date +%s)
  timeout "$cap" "$@" 2>&1 | tee -a "$OUT/$name.md"
  echo "(rc ${PIPESTATUS[0]}, $(($(date +%s) - t0)) s)" | tee -a "$OUT/$name.md"
}

{
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
  $PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'cudnn', torch.backends.cudnn.version())"
  nproc
} 2>&1 | tee "$OUT/env.txt"

SECTIONS=${SECTIONS:-main sweep tests options compile}
for name in $SECTIONS; do
  case $name in
  # per method: plain float32 reference step vs the harness with every option, and the numerics check
  main) section main 230 $B --methods cut cyclegan cddgan fastcut negcut $FAST --check 20 --json "$OUT/main.json" ;;
  # seed sweep: seeds in one process (one graph, a stream each) vs single-seed processes side by side
  sweep) section sweep 120 $B --methods cut $FAST --no-table --sweep 1 2 4 8 --sweep-processes 2 4 --json "$OUT/sweep.json" ;;
  # graph vs eager agreement, bf16 vs float32, StepGroup, the training loop with graphs
  tests) section tests 110 $PY -m pytest -q -p no:cacheprovider -m gpu tests/test_gpu.py ;;
  # what each option contributes (harness only)
  options) section options 150 bash -c "
    $B --methods cut cyclegan cddgan --no-faithful
    $B --methods cut cyclegan cddgan --no-faithful --amp --channels-last --fused-adam
    $B --methods cut cyclegan cddgan --no-faithful --cuda-graph
    $B --methods cut cyclegan cddgan --no-faithful --amp --fused-adam --cuda-graph" ;;
  # cuDNN's timed algorithm choice (training.cudnn_benchmark, the default) against its heuristic one
  cudnn) section cudnn 150 bash -c "
    $B --methods cut cyclegan cddgan --no-faithful $FAST
    $B --methods cut cyclegan cddgan --no-faithful $FAST --no-cudnn-benchmark" ;;
  # torch.compile on top (compiles during the eager warm-up, then captured)
  compile) section compile 150 $B --methods cut --no-faithful $FAST --compile ;;
  compile_all) section compile_all 150 $B --methods cddgan cyclegan --no-faithful $FAST --compile ;;
  # the numerics check alone, with its floors (a float32 rerun; the median of three float32 runs from
  # bf16-nudged weights)
  check) section check 120 $B --methods cut cyclegan cddgan $FAST --no-table --check 20 --check-floors 3 \
    --json "$OUT/check.json" ;;
  # the sweep again with compiled networks
  sweep_compile) section sweep_compile 120 $B --methods cut $FAST --compile --no-table --sweep 4 8 --json "$OUT/sweep_compile.json" ;;
  # the sweep with inductor's autotuned kernels (benchmarks kernel choices first: minutes)
  sweep_autotune) section sweep_autotune 300 $B --methods cut $FAST --compile max-autotune-no-cudagraphs \
    --no-table --sweep 8 --json "$OUT/sweep_autotune.json" ;;
  # where a busy GPU's time goes: the GPU kernels of eager bf16 harness iterations, ranked by their time
  profile) section profile 90 $B --methods cut cddgan --no-table --amp --channels-last --fused-adam \
    --profile 5 --top 25 --json "$OUT/profile.json" ;;
  # the whole training loop (data, logs, outputs): N `cddgan train` processes vs one `cddgan train-group`
  group_loop) section group_loop 150 $PY benchmarks/bench_group_training.py --paper-scale --size 256 \
    --iterations 500 --seeds 4 $FAST ;;
  # GPU memory and time of dehazing one full-size test image, by size (sizes the dehaze jobs; I-HAZE, O-HAZE)
  test_size) section test_size 120 $PY benchmarks/bench_test_size.py --device cuda --no-evaluate \
    --methods cyclegan cut --sizes 1024x768 2048x1536 4000x3000 ;;
  *) echo "unknown section $name" ;;
  esac
done
echo "total $(($(date +%s) - START)) s" | tee -a "$OUT/env.txt"
