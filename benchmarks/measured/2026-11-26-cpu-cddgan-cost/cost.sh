B="python benchmarks/bench_train_step.py --sizes 64 --ngf 16 --n-blocks 4 --ndf 16 --threads 1 --no-faithful --repeats 15 --warmup 3"
CDD="--methods cddgan --set antialias=false --set antialias_up=false --set init_type=normal --set num_patches=128 --set nce_layers=[0,4,7,10,13]"
row() { echo "## $1"; shift; $B "$@" | grep '^| [a-z]' ; }
row cyclegan --methods cyclegan
row cut --methods cut --set num_patches=128 --set "nce_layers=[0,4,8,12,14]"
row negcut --methods negcut --set num_patches=128 --set "nce_layers=[0,4,8,12,14]"
row cdd-off-cyclegan-layout $CDD --set lambda_nce=0 --set neg_generators=false --set lambda_clear=0
row cdd-no-neggen $CDD --set neg_generators=false
row cdd-full $CDD
row cdd-no-queue $CDD --set queue_size=0
row cdd-k64 $CDD --set num_negatives=64
row cdd-noise-neg $CDD --set neg_adversarial=false
row cdd-no-clear $CDD --set lambda_clear=0
row cdd-full-antialiased --methods cddgan --set num_patches=128 --set "nce_layers=[0,4,8,12,14]"
