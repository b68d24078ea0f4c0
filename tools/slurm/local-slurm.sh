#!/usr/bin/env bash
# A one-node Slurm cluster on localhost, for the Slurm tests (tier e2e) and for trying `sam-ablate slurm`.
#
#   tools/slurm/local-slurm.sh install        apt-get install slurm-wlm munge (Debian/Ubuntu, root)
#   tools/slurm/local-slurm.sh start DIR      munge key, slurm.conf, munged + slurmctld + slurmd, all under DIR
#   tools/slurm/local-slurm.sh stop DIR       stops the daemons started in DIR (by their pid files)
#
# `start` writes DIR/env (`export SLURM_CONF=...`): source it before sbatch/squeue/scancel. Needs root
# (slurmd runs jobs as their submitter). Ports: SA_SLURM_PORT (default: a free one from 17000 up).
# Configuration: proctrack/linuxproc, task/none, select/cons_tres with CR_CPU, no accounting daemon.
set -euo pipefail

cmd=${1:-}
dir=${2:-}

die() {
  echo "local-slurm: $*" >&2
  exit 1
}

port_free() {
  ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

stop_pidfile() {
  local f=$1 pid
  [ -f "$f" ] || return 0
  pid=$(cat "$f" 2>/dev/null || true)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}

case "$cmd" in
install)
  if command -v slurmctld >/dev/null 2>&1 && command -v munged >/dev/null 2>&1; then exit 0; fi
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found: install Slurm (slurm-wlm) and munge yourself"
  [ "$(id -u)" = 0 ] || die "installing slurm-wlm needs root"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slurm-wlm munge) >/dev/null
  ;;
start)
  [ -n "$dir" ] || die "usage: $0 start DIR"
  [ "$(id -u)" = 0 ] || die "needs root (slurmd runs jobs as their submitter)"
  for b in munged mungekey slurmctld slurmd sinfo; do
    command -v "$b" >/dev/null 2>&1 || [ -x "/usr/sbin/$b" ] || die "$b not found (tools/slurm/local-slurm.sh install)"
  done
  export PATH="$PATH:/usr/sbin"
  mkdir -p "$dir"/{munge,state,spool,log}
  dir=$(cd "$dir" && pwd)
  chmod 700 "$dir/munge"
  mungekey --create --keyfile="$dir/munge/munge.key" --force >/dev/null 2>&1 ||
    dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
  chmod 400 "$dir/munge/munge.key"
  munged --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket" \
    --pid-file="$dir/munge/munged.pid" --log-file="$dir/log/munged.log" --seed-file="$dir/munge/munged.seed" --force

  port=${SA_SLURM_PORT:-}
  if [ -z "$port" ]; then
    port=17000
    while ! port_free "$port" || ! port_free $((port + 1)); do port=$((port + 2)); done
  fi
  cpus=$(nproc)
  mem=$(($(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 / 2))
  cat >"$dir/slurm.conf" <<EOF
ClusterName=sa-local
SlurmctldHost=localhost
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool/%n
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SwitchType=switch/none
MpiDefault=none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
ReturnToService=2
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2
MinJobAge=600
KillWait=5
InactiveLimit=0
SlurmctldTimeout=30
SlurmdTimeout=60
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
  echo "export SLURM_CONF=$dir/slurm.conf" >"$dir/env"
  export SLURM_CONF="$dir/slurm.conf"
  slurmctld -i -f "$SLURM_CONF"
  slurmd -N localhost -f "$SLURM_CONF"
  for _ in $(seq 1 100); do
    if sinfo -h -N -o "%T" 2>/dev/null | grep -qE "^(idle|mixed|allocated)"; then
      echo "local-slurm: up (SLURM_CONF=$SLURM_CONF, port $port, $cpus CPUs)"
      exit 0
    fi
    sleep 0.2
  done
  echo "local-slurm: the node did not come up; logs:" >&2
  tail -n 20 "$dir"/log/*.log >&2 || true
  exit 1
  ;;
stop)
  [ -n "$dir" ] || die "usage: $0 stop DIR"
  stop_pidfile "$dir/slurmd.pid"
  stop_pidfile "$dir/slurmctld.pid"
  stop_pidfile "$dir/munge/munged.pid"
  ;;
*)
  die "usage: $0 install | start DIR | stop DIR"
  ;;
esac
