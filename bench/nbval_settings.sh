#!/usr/bin/env bash
# The strict notebook tests (the README's command, notebooks only) under other numerical settings, on one machine.
#
# Committed notebook outputs must read the same on any CPU and torch build a course's CI may have. This script
# re-runs `pytest --nbval --nbval-current-env --sanitize-with tests/nbval_sanitize.cfg notebooks` under each
# setting named on the command line and prints, per setting, how many cells failed and which:
#
#   native      this machine as it is (torch picks its best vector instructions, e.g. AVX-512)
#   isa-avx2    ATEN_CPU_CAPABILITY=avx2     (as on a CPU without AVX-512: most laptops, many CI runners)
#   isa-default ATEN_CPU_CAPABILITY=default  (torch's scalar kernels: a different summation order everywhere)
#   threads-N   every `torch.set_num_threads(1)` the notebooks call sets N threads instead (an IPython startup
#               file wraps it), and notebooks without the call run on N threads: parallel reductions split
#               differently
#   venv=PATH   the same command with PATH/bin/python: another torch / numpy install, e.g. a scratch venv made by
#                 python3 -m venv /tmp/venv-t29 && /tmp/venv-t29/bin/pip install torch==2.9.1 torchvision==0.24.1 \
#                   && /tmp/venv-t29/bin/pip install -e ".[dev]"
#
# Usage: bash bench/nbval_settings.sh [SETTING ...]    (default: native isa-avx2 isa-default threads-2)
# Extra pytest arguments go in $PYTEST_ARGS (e.g. PYTEST_ARGS="-k 08_" to run one notebook's cells).
# Writes one log per setting and a summary to $OUT_DIR (default: a temporary folder, printed at the end).
# Exit status: 0 when every setting passed, 1 otherwise. On a 2-core machine each setting takes about 4 min.
set -uo pipefail
cd "$(dirname "$0")/.."
settings=("$@")
[ ${#settings[@]} -eq 0 ] && settings=(native isa-avx2 isa-default threads-2)
out_dir="${OUT_DIR:-$(mktemp -d -t nbval_settings_XXXX)}"
mkdir -p "$out_dir"
summary="$out_dir/summary.txt"
: > "$summary"
status=0

for setting in "${settings[@]}"; do
    python=python3
    env_vars=(TQDM_DISABLE=1)
    case "$setting" in
        native) ;;
        isa-*) env_vars+=("ATEN_CPU_CAPABILITY=${setting#isa-}") ;;
        threads-*)
            n="${setting#threads-}"
            ipython_dir="$out_dir/ipython-$setting"
            mkdir -p "$ipython_dir/profile_default/startup"
            cat > "$ipython_dir/profile_default/startup/00-threads.py" <<EOF
import torch
_set_num_threads = torch.set_num_threads
torch.set_num_threads = lambda _n: _set_num_threads($n)   # the notebooks' set_num_threads(1) becomes $n
torch.set_num_threads($n)
EOF
            env_vars+=("IPYTHONDIR=$ipython_dir" "OMP_NUM_THREADS=$n") ;;
        venv=*) python="${setting#venv=}/bin/python" ;;
        *) echo "unknown setting '$setting' (native | isa-avx2 | isa-default | threads-N | venv=PATH)" >&2; exit 2 ;;
    esac
    log="$out_dir/$(echo "$setting" | tr '/=' '__').log"
    versions=$(env "${env_vars[@]}" "$python" -c "import torch, numpy; print(f'torch {torch.__version__}, numpy {numpy.__version__}, capability {torch.backends.cpu.get_cpu_capability()}')")
    echo "== $setting: $versions"
    start=$(date +%s)
    # shellcheck disable=SC2086
    env "${env_vars[@]}" "$python" -m pytest --nbval --nbval-current-env --sanitize-with tests/nbval_sanitize.cfg \
        notebooks -q --no-header -rf ${PYTEST_ARGS:-} > "$log" 2>&1
    rc=$?
    failed=$(grep -c '^FAILED' "$log")
    tail_line=$(grep -E '^[0-9]+ (passed|failed)|^=+ .*(passed|failed)' "$log" | tail -1)
    line="$setting ($versions): $failed cells failed — $tail_line — $(( $(date +%s) - start )) s"
    echo "$line" | tee -a "$summary"
    grep '^FAILED' "$log" | sed 's/ - .*//; s/^FAILED /    /' | tee -a "$summary"
    [ $rc -eq 0 ] || status=1
done
echo "logs and summary: $out_dir"
exit $status
