#!/usr/bin/env bash
# Control for strict nbval: a changed library must make `pytest --nbval` fail where it should.
#
# Copies the working tree's tracked files to a scratch folder, changes the default pseudo-label threshold
# τ of daformer_edu.uda.pseudo_label.pseudo_label from the paper's 0.968 to 0.95 there, and runs notebook 05
# under strict nbval (outputs compared) and under --nbval-lax (only execution checked). The checkout is not
# touched. Exit status 0 when strict nbval fails on the changed copy (the control worked), 1 otherwise.
#
#   bash bench/nbval_control.sh            # notebook 05, about 3 minutes on a 2-core CPU
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
nb=notebooks/05_pseudo_label_weighting.ipynb
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

(cd "$repo" && git ls-files -z | xargs -0 tar -cf -) | tar -C "$scratch" -xf -
target="$scratch/daformer_edu/uda/pseudo_label.py"
sed -i 's/    threshold: float = 0.968,/    threshold: float = 0.95,/' "$target"
if ! grep -q "threshold: float = 0.95," "$target"; then
    echo "control: could not change the default threshold in $target" >&2
    exit 2
fi
echo "control: in $scratch, pseudo_label's default τ is now 0.95 (was 0.968)"

run() {  # $1 = --nbval or --nbval-lax
    (cd "$scratch" && PYTHONPATH="$scratch" TQDM_DISABLE=1 DAFORMER_EDU_AUTO_PRESET=smoke \
        python -m pytest -q -p no:cacheprovider "$1" --nbval-current-env \
        --sanitize-with tests/nbval_sanitize.cfg "$nb" 2>&1 | sed 's/\x1b\[[0-9;]*m//g')
}

strict=$(run --nbval)
echo "--- strict --nbval:"
echo "$strict" | grep -E "^FAILED|passed|failed" | sed 's/ - .*//'
echo "$strict" | grep -E "^ *[-+] [^-+]|DIFFERENT" | head -20
lax=$(run --nbval-lax)
echo "--- --nbval-lax (execution only, outputs not compared):"
echo "$lax" | grep -E "^FAILED|passed|failed" | sed 's/ - .*//'

if echo "$strict" | grep -q "^FAILED"; then
    echo "control: strict nbval failed on the changed library, as it should"
    exit 0
fi
echo "control: strict nbval did NOT notice the changed library" >&2
exit 1
