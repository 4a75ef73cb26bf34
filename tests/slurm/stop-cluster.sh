#!/usr/bin/env bash
# Stop the cluster that tests/slurm/start-cluster.sh started.
#
#   tests/slurm/stop-cluster.sh [DIR]       (or MMCLUST_SLURM_DIR=DIR; default /tmp/mmclust-slurm)
#
# Cancels the jobs still queued on it, then stops exactly the processes whose
# ids start-cluster.sh recorded in DIR (slurmd, slurmctld, and munged only if
# it started munged), and puts back a /etc/slurm/slurm.conf it had moved aside.
# Safe to rerun; DIR (logs) is kept.
set -uo pipefail

DIR="${1:-${MMCLUST_SLURM_DIR:-/tmp/mmclust-slurm}}"
CONF=/etc/slurm/slurm.conf
MARKER="# written by mmclust tests/slurm/start-cluster.sh"
export PATH="$PATH:/usr/sbin:/sbin"

say() { echo "stop-cluster: $*"; }
alive() { [[ -s "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

if [[ ! -d "$DIR" ]]; then
    say "no folder $DIR: nothing to stop"
    exit 0
fi
DIR="$(cd "$DIR" && pwd)"

# Jobs first, so no job keeps running after its daemons are gone.
if alive "$DIR/slurmctld.pid" && command -v squeue >/dev/null 2>&1; then
    jobs="$(squeue -h -t PD,R,CG,S,CF -o %i 2>/dev/null | tr '\n' ' ')"
    if [[ -n "${jobs// /}" ]]; then
        say "cancelling jobs $jobs"
        # shellcheck disable=SC2086
        scancel $jobs 2>/dev/null || true
        for _ in $(seq 20); do
            [[ -z "$(squeue -h -t PD,R,CG,S,CF -o %i 2>/dev/null)" ]] && break
            sleep 0.5
        done
    fi
fi

stop_pid_file() {  # name, pid file
    local name=$1 file=$2 pid
    [[ -e "$file" ]] || return 0
    pid="$(cat "$file")"
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
        if kill -0 "$pid" 2>/dev/null; then
            say "$name ($pid) ignored SIGTERM for 10 s: SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
        say "stopped $name ($pid)"
    fi
    rm -f "$file"
}
stop_pid_file slurmd "$DIR/slurmd.pid"
stop_pid_file slurmctld "$DIR/slurmctld.pid"
stop_pid_file munged "$DIR/munged.pid"   # present only if start-cluster.sh started munged

if [[ -e "$CONF" ]] && grep -qF "$MARKER for $DIR" "$CONF"; then
    rm -f "$CONF"
    if [[ -e "$CONF.before-mmclust" ]]; then
        mv "$CONF.before-mmclust" "$CONF"
        say "restored the earlier $CONF"
    fi
fi
exit 0
