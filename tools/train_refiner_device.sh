#!/bin/bash
# One device run: train 4 smaller enhance generators side by side on the GPU; results into $OUT.
# Carry .devcarry/enhance.npz (tools/train_refiner.py --write-data) to the GPU machine; it needs torch, numpy, cv2 and tqdm, no Panda3D.
set -u
export PYTHONUNBUFFERED=1
T0=$(date +%s)
W=/tmp/work; mkdir -p $W
nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv,noheader
python3 -c "import torch,numpy,cv2,tqdm;print('torch',torch.__version__,'numpy',numpy.__version__,'cv2',cv2.__version__,torch.cuda.is_available())"
TRAIN_S=${TRAIN_S:-290}
ITERS=${ITERS:-6000}
COMMON="--data .devcarry/enhance.npz --style enhance --device cuda --threads 2 --val-pairs 40 --batch 32 --crop 128 --log-every 100 --progress-every 30 --temporal-weight 10 --edge-weight 4"
declare -A V
V[A]="--widths 8,16,24,32 --blocks 1,1,2"
V[B]="--widths 12,16,32,48 --blocks 1,2,2"
V[C]="--widths 12,16,32,48 --blocks 1,1,2"
V[D]="--widths 16,16,32,48 --blocks 0,1,2"
MAXMIN=$(python3 -c "print(round($TRAIN_S / 60, 2))")
for k in A B C D; do
  python3 tools/train_refiner.py $COMMON ${V[$k]} --iters $ITERS --max-minutes $MAXMIN \
     --out $W/$k --ckpt-dir $W/ckpt_$k > $W/train_$k.log 2>&1 &
done
wait
echo "trained; $(( $(date +%s) - T0 )) s so far"
for k in A B C D; do echo "== $k: ${V[$k]}"; tail -n 3 $W/train_$k.log | cut -c1-800; done
tar cf $OUT/results.tar -C $W A B C D $(cd $W && ls *.log)
ls -la $OUT
echo "done in $(( $(date +%s) - T0 )) s"
