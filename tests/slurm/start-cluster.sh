#!/usr/bin/env bash
# Start a real single-node SLURM cluster on this machine, for tests and trials.
#
#   tests/slurm/start-cluster.sh [DIR]      (or MMCLUST_SLURM_DIR=DIR; default /tmp/mmclust-slurm)
#
# Needs root (Debian/Ubuntu). Installs slurmctld, slurmd, slurm-client and munge
# with apt-get if they are missing, starts munged (unless it already runs),
# writes /etc/slurm/slurm.conf (one node named `hostname -s`, partition
# "debug", no accounting), starts `slurmctld -D` and `slurmd -D` in the
# background and waits until the node is idle. State, spool, logs and pid
# files live in DIR; DIR/*.pid record exactly what this script started, and
# tests/slurm/stop-cluster.sh DIR stops exactly that. Rerunning while the
# cluster is up does nothing.
#
# Exit codes: 0 cluster idle; 1 failed to start (log tail printed);
# 2 not root; 3 the packages could not be installed.
set -euo pipefail

DIR="${1:-${MMCLUST_SLURM_DIR:-/tmp/mmclust-slurm}}"
WAIT_SECONDS="${MMCLUST_SLURM_WAIT:-90}"
CONF=/etc/slurm/slurm.conf
MARKER="# written by mmclust tests/slurm/start-cluster.sh"

say() { echo "start-cluster: $*"; }
die() { local code=$1; shift; echo "start-cluster: error: $*" >&2; exit "$code"; }
alive() { [[ -s "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }
log_tails() {
    local f
    for f in "$DIR"/slurmctld.log "$DIR"/slurmd.log "$DIR"/slurmctld.out "$DIR"/slurmd.out; do
        [[ -s "$f" ]] || continue
        echo "---- last lines of $f" >&2
        tail -n 25 "$f" >&2
    done
}

[[ "$(id -u)" == 0 ]] || die 2 "must run as root (it installs packages, starts munged and writes $CONF)"

# ---- install ---------------------------------------------------------------
export PATH="$PATH:/usr/sbin:/sbin"
missing=()
for cmd in slurmctld slurmd sinfo squeue scancel sbatch srun munged munge unmunge; do
    command -v "$cmd" >/dev/null 2>&1 || missing+=("$cmd")
done
if ((${#missing[@]})); then
    say "installing slurmctld slurmd slurm-client munge (missing: ${missing[*]})"
    command -v apt-get >/dev/null 2>&1 || die 3 "apt-get not found; install SLURM and munge by hand"
    apt-get update -qq || die 3 "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurmctld slurmd slurm-client munge \
        >/dev/null || die 3 "apt-get install slurmctld slurmd slurm-client munge failed"
fi

mkdir -p "$DIR"
DIR="$(cd "$DIR" && pwd)"
HOST="$(hostname -s)"

node_idle() { sinfo -h -N -n "$HOST" -o '%T' 2>/dev/null | grep -qx 'idle'; }

# ---- already up? -------------------------------------------------------------
if alive "$DIR/slurmctld.pid" && alive "$DIR/slurmd.pid"; then
    if node_idle || sinfo -h -N -n "$HOST" -o '%T' 2>/dev/null | grep -Eqx 'mixed|allocated'; then
        say "already running from $DIR (slurmctld $(cat "$DIR/slurmctld.pid"), slurmd $(cat "$DIR/slurmd.pid"))"
        exit 0
    fi
fi
for daemon in slurmctld slurmd; do
    if alive "$DIR/$daemon.pid"; then
        say "stopping our half-started $daemon ($(cat "$DIR/$daemon.pid"))"
        kill "$(cat "$DIR/$daemon.pid")" 2>/dev/null || true
        for _ in $(seq 50); do alive "$DIR/$daemon.pid" || break; sleep 0.2; done
        if alive "$DIR/$daemon.pid"; then kill -KILL "$(cat "$DIR/$daemon.pid")" 2>/dev/null || true; fi
    fi
    rm -f "$DIR/$daemon.pid"
    if pgrep -x "$daemon" >/dev/null; then
        die 1 "a $daemon not started from $DIR is running (pid $(pgrep -x "$daemon" | tr '\n' ' '));" \
            "stop it (tests/slurm/stop-cluster.sh with its folder) before starting this cluster"
    fi
done

# ---- munge -------------------------------------------------------------------
mkdir -p /run/munge /var/log/munge /var/lib/munge
chown munge:munge /run/munge /var/log/munge /var/lib/munge
if [[ ! -s /etc/munge/munge.key ]]; then
    say "creating /etc/munge/munge.key"
    if command -v mungekey >/dev/null 2>&1; then
        runuser -u munge -- mungekey --create --keyfile=/etc/munge/munge.key
    else
        dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
        chown munge:munge /etc/munge/munge.key
    fi
    chmod 400 /etc/munge/munge.key
fi
if alive "$DIR/munged.pid"; then
    say "munged already running (pid $(cat "$DIR/munged.pid"), started by an earlier run of this script)"
elif pgrep -x munged >/dev/null; then
    rm -f "$DIR/munged.pid"
    say "munged already running (pid $(pgrep -x munged | head -n1)); stop-cluster.sh leaves it alone"
else
    rm -f /run/munge/munged.pid   # stale: no munged runs
    runuser -u munge -- munged </dev/null >"$DIR/munged.out" 2>&1 \
        || { cat "$DIR/munged.out" >&2; die 1 "munged failed to start"; }
    for _ in $(seq 50); do [[ -s /run/munge/munged.pid ]] && break; sleep 0.1; done
    [[ -s /run/munge/munged.pid ]] || die 1 "munged started but wrote no /run/munge/munged.pid"
    cp /run/munge/munged.pid "$DIR/munged.pid"
    say "started munged (pid $(cat "$DIR/munged.pid"))"
fi
munge -n | unmunge >/dev/null 2>&1 || die 1 "munge -n | unmunge failed: munge authentication does not work"

# ---- slurm.conf ----------------------------------------------------------------
# The file must be at /etc/slurm/slurm.conf: job steps started by the executor
# lose SLURM_CONF (the executor drops SLURM_* variables before calling srun).
mkdir -p /etc/slurm "$DIR/state" "$DIR/spool" "$DIR/run"
if [[ -e "$CONF" ]] && ! grep -qF "$MARKER" "$CONF"; then
    if [[ -e "$CONF.before-mmclust" ]]; then
        die 1 "$CONF is not ours and $CONF.before-mmclust already exists; sort them out by hand"
    fi
    mv "$CONF" "$CONF.before-mmclust"
    say "moved the existing $CONF to $CONF.before-mmclust (stop-cluster.sh puts it back)"
fi
rm -rf "$DIR/state"/* "$DIR/spool"/*   # a fresh cluster: no jobs from earlier runs
CPUS="$(nproc)"
AVAILABLE_MB="$(awk '/^MemAvailable:/ {print int($2 / 1024)}' /proc/meminfo)"
REAL_MB=$((AVAILABLE_MB * 8 / 10))
((REAL_MB >= 500)) || die 1 "only ${AVAILABLE_MB} MB of memory available"
cat >"$CONF" <<CONFIG
$MARKER for $DIR
ClusterName=local
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
MinJobAge=300
MailProg=/bin/true
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd.pid
SlurmctldLogFile=$DIR/slurmctld.log
SlurmdLogFile=$DIR/slurmd.log
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$REAL_MB State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
CONFIG
echo "$CONF" >"$DIR/conf-path"

# ---- daemons ---------------------------------------------------------------------
# setsid: Ctrl-C in the terminal (or pytest) that started us does not reach them;
# all output to files so a caller capturing our output does not wait for them.
setsid slurmctld -D </dev/null >"$DIR/slurmctld.out" 2>&1 &
echo $! >"$DIR/slurmctld.pid"
setsid slurmd -D </dev/null >"$DIR/slurmd.out" 2>&1 &
echo $! >"$DIR/slurmd.pid"
say "started slurmctld (pid $(cat "$DIR/slurmctld.pid")) and slurmd (pid $(cat "$DIR/slurmd.pid")); logs in $DIR"

for ((i = 0; i < WAIT_SECONDS; i++)); do
    if node_idle; then
        say "node $HOST idle: $CPUS CPUs, ${REAL_MB} MB, partition debug (after ${i} s)"
        exit 0
    fi
    for daemon in slurmctld slurmd; do
        if ! alive "$DIR/$daemon.pid"; then
            log_tails
            die 1 "$daemon exited during start-up (see $DIR/$daemon.log)"
        fi
    done
    sleep 1
done
echo "start-cluster: sinfo says:" >&2
sinfo -N -l >&2 || true
log_tails
die 1 "node $HOST not idle after ${WAIT_SECONDS} s; stop with tests/slurm/stop-cluster.sh $DIR"
