#!/usr/bin/env bash
# A single-node SLURM cluster on this machine, for the SLURM test (tests/test_slurm.py) and for
# trying profiles/slurm by hand (docs/centres.md, "On a cluster").
#
#   bash tests/slurm/start-cluster.sh    # exits 0 once `sinfo` shows the node idle
#   bash tests/slurm/stop-cluster.sh     # `scontrol shutdown` (slurmctld and slurmd), then
#                                        # munged, then removes what this script wrote
#
# It runs SLURM's own daemons (munged, slurmctld, slurmd from Debian's `munge` and `slurm-wlm`)
# and nothing else. Idempotent: if `sinfo` already answers (a real cluster, or a second run),
# it changes nothing and exits 0. It needs root (the daemons run as root here) and writes:
#   /etc/munge/munge.key                  only if there is none
#   /etc/slurm/slurm.conf                 refused if one exists that this script did not write
#   /var/spool/cmvig-slurm/               state, spool and logs of both SLURM daemons
# The node has the CPUs and memory `slurmd -C` finds. There is no accounting daemon
# (accounting_storage/none): Snakemake's SLURM executor asks `squeue` for job states
# (--slurm-status-command squeue), which sees a finished job for MinJobAge seconds. Processes
# are tracked through /proc (proctrack/linuxproc, task/none), which needs no cgroups, so it
# also runs in a container.
set -euo pipefail

CONF=/etc/slurm/slurm.conf
SPOOL=/var/spool/cmvig-slurm
MARK="# written by cmvig-report tests/slurm/start-cluster.sh"

fail() { echo "start-cluster.sh: $*" >&2; exit 1; }

node_idle() { [[ $(sinfo --noheader --format=%T 2>/dev/null) == idle* ]]; }

# a controller already answers: a real cluster, or this script ran before
if sinfo --noheader >/dev/null 2>&1; then
    exit 0
fi
PATH=$PATH:/usr/sbin:/sbin
for tool in sinfo scontrol slurmctld slurmd munge unmunge munged mungekey; do
    command -v "$tool" >/dev/null \
        || fail "no $tool: install Debian's slurm-wlm and munge (apt-get install slurm-wlm munge)"
done
[[ $(id -u) == 0 ]] || fail "must run as root (it starts munged, slurmctld and slurmd)"
if [[ -e $CONF ]] && ! grep -qxF "$MARK" "$CONF"; then
    fail "$CONF exists and was not written by this script; move it away to start a test cluster"
fi

# munge: every SLURM message is signed with this key
if [[ ! -s /etc/munge/munge.key ]]; then
    mungekey --create --keyfile=/etc/munge/munge.key
    chown munge:munge /etc/munge/munge.key
    chmod 0400 /etc/munge/munge.key
fi
if ! munge --no-input 2>/dev/null | unmunge >/dev/null 2>&1; then
    install -d -o munge -g munge -m 0755 /run/munge
    install -d -o munge -g munge -m 0700 /var/lib/munge /var/log/munge
    runuser -u munge -- munged || fail "munged did not start (see /var/log/munge/munged.log)"
    # stop-cluster.sh stops munged only if this script started it
    mkdir -p "$SPOOL" && touch "$SPOOL/munged-started-here"
    for _ in $(seq 50); do
        munge --no-input 2>/dev/null | unmunge >/dev/null 2>&1 && break
        sleep 0.1
    done
    munge --no-input 2>/dev/null | unmunge >/dev/null 2>&1 \
        || fail "munged started but does not answer (see /var/log/munge/munged.log)"
fi

# slurm.conf for this host: `slurmd -C` prints the node line (CPUs, sockets, memory) it finds
host=$(hostname -s)
node=$(slurmd -C | grep '^NodeName=') || fail "slurmd -C could not describe this machine"
mkdir -p "$SPOOL/ctld" "$SPOOL/d" /etc/slurm
cat >"$CONF.new" <<EOF
$MARK
# a single-node test cluster; bash tests/slurm/stop-cluster.sh stops it and removes this file
ClusterName=cmvig-test
SlurmctldHost=$host
SlurmUser=root
AuthType=auth/munge
StateSaveLocation=$SPOOL/ctld
SlurmdSpoolDir=$SPOOL/d
SlurmctldPidFile=$SPOOL/slurmctld.pid
SlurmdPidFile=$SPOOL/slurmd.pid
SlurmctldLogFile=$SPOOL/slurmctld.log
SlurmdLogFile=$SPOOL/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
# how long squeue still lists a finished job (the executor's status command without accounting)
MinJobAge=300
$node State=UNKNOWN
PartitionName=main Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
mv "$CONF.new" "$CONF"

if ! scontrol ping 2>/dev/null | grep -q UP; then
    slurmctld -c || fail "slurmctld did not start (see $SPOOL/slurmctld.log)"
fi
if ! { [[ -s $SPOOL/slurmd.pid ]] && kill -0 "$(cat "$SPOOL/slurmd.pid")" 2>/dev/null; }; then
    slurmd || fail "slurmd did not start (see $SPOOL/slurmd.log)"
fi
for _ in $(seq 60); do
    node_idle && exit 0
    sleep 0.5
done
fail "the node did not become idle within 30 s: $(sinfo --noheader 2>&1 | head -1)" \
    "(see $SPOOL/slurmctld.log and $SPOOL/slurmd.log)"
