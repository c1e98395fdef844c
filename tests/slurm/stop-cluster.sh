#!/usr/bin/env bash
# Stops the test cluster tests/slurm/start-cluster.sh started (slurmctld, slurmd, munged) and
# removes what it wrote (its slurm.conf, /var/spool/cmvig-slurm); the munge key stays, and a
# munged that was running before start-cluster.sh keeps running.
# A cluster this script did not start (no slurm.conf of start-cluster.sh) is left alone.
set -euo pipefail
PATH=$PATH:/usr/sbin:/sbin
CONF=/etc/slurm/slurm.conf
SPOOL=/var/spool/cmvig-slurm
MARK="# written by cmvig-report tests/slurm/start-cluster.sh"

if [[ ! -e $CONF ]] || ! grep -qxF "$MARK" "$CONF"; then
    echo "stop-cluster.sh: no test cluster of start-cluster.sh here ($CONF is not its)" >&2
    exit 1
fi
# slurmctld tells every slurmd to stop, then stops itself
scontrol shutdown >/dev/null 2>&1 || true
for daemon in slurmctld slurmd; do
    pidfile=$SPOOL/$daemon.pid
    for _ in $(seq 100); do
        [[ -s $pidfile ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null || break
        sleep 0.1
    done
    if [[ -s $pidfile ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
        kill "$(cat "$pidfile")"
    fi
done
if [[ -e $SPOOL/munged-started-here && -s /run/munge/munged.pid ]] \
        && kill -0 "$(cat /run/munge/munged.pid)" 2>/dev/null; then
    kill "$(cat /run/munge/munged.pid)"
fi
rm -f "$CONF"
rm -rf "$SPOOL"
