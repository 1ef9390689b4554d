#!/usr/bin/env bash
# Seeded short runs of every algorithm into OUT (for a before/after behaviour check):
#   tools/seeded_runs.sh /tmp/before   # on the old code
#   tools/seeded_runs.sh /tmp/after    # on the new code
#   python tools/compare_runs.py /tmp/before /tmp/after
set -euo pipefail
out=$1
run() {
  rlpipe train "$1" "$2" -s max_frame="$3" -s seeds=1 -s meta.log_interval=500 \
    -s meta.eval_interval=1000 -s meta.eval_episodes=3 --workers 1 --no-compile --quiet \
    --out "$out/$1-$2" --overwrite >/dev/null
}
run crossq pendulum 2500
run sac pendulum 2500
run sac cartpole 2500
run ppo cartpole 4096
run ppo pendulum 4096
run a2c cartpole 4000
run a2c pendulum 4000
run dqn cartpole 4000
