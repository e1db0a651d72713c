#!/usr/bin/env bash
# A throwaway single-node SLURM cluster with accounting on localhost, for tests/test_sweep_slurm.py (Debian's
# slurm-wlm, munge, slurmdbd and mariadb-server; as root, without systemd or cgroups).
#   export SLURM_CONF=$(bash tests/slurm_cluster.sh start /tmp/birsweep-slurm)
#   bash tests/slurm_cluster.sh stop /tmp/birsweep-slurm
# Every daemon keeps its pid file in the given dir and is stopped by that pid. Prints the slurm.conf path.
set -euo pipefail
cmd=${1:?start|stop}; dir=$(mkdir -p "${2:-/tmp/birsweep-slurm}" && cd "${2:-/tmp/birsweep-slurm}" && pwd)
db_port=${BIRSWEEP_SLURM_DB_PORT:-33069}; dbd_port=${BIRSWEEP_SLURMDBD_PORT:-6829}
ctld_port=${BIRSWEEP_SLURMCTLD_PORT:-6827}; d_port=${BIRSWEEP_SLURMD_PORT:-6828}
host=$(hostname -s)
export SLURM_CONF=$dir/slurm.conf

need() { command -v "$1" >/dev/null || { echo "$1 not found (apt-get install slurm-wlm slurmdbd munge mariadb-server)" >&2; exit 1; }; }
wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...: poll until the command succeeds
  local limit=$1 what=$2; shift 2
  local end=$((SECONDS + limit))
  while [ $SECONDS -lt $end ]; do "$@" >/dev/null 2>&1 && return 0; sleep 0.25; done
  echo "$what did not come up in ${limit}s (logs in $dir)" >&2; return 1
}
stop_pid() {  # stop_pid FILE: TERM the daemon whose pid the file holds, KILL it after 10 s
  local f=$1 pid
  [ -f "$f" ] || return 0
  pid=$(cat "$f"); rm -f "$f"
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.25; done
  kill -9 "$pid" 2>/dev/null || true
}

case $cmd in
start)
  for b in munged mariadbd slurmdbd slurmctld slurmd sacctmgr; do need "$b"; done
  [ "$(id -u)" = 0 ] || { echo "the test cluster runs its daemons as root" >&2; exit 1; }
  mkdir -p "$dir"/{munge,db,state,spool,log}
  chmod 700 "$dir/munge"
  # munge on its standard socket (Slurm 22.05's clients do not all honour AuthInfo=socket=): the machine's own
  # munged if one answers, else ours with a fresh key
  if ! { munge -n | unmunge; } >/dev/null 2>&1; then
    [ -f "$dir/munge/munge.key" ] || dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 2>/dev/null
    chmod 400 "$dir/munge/munge.key"
    mkdir -p /run/munge
    munged --force --key-file="$dir/munge/munge.key" --pid-file="$dir/munge.pid" \
      --log-file="$dir/log/munged.log" --seed-file="$dir/munge/seed"
  fi
  # MariaDB for slurmdbd, on loopback only
  if [ ! -d "$dir/db/mysql" ]; then
    mariadb-install-db --user=root --datadir="$dir/db" --auth-root-authentication-method=normal \
      >"$dir/log/mariadb-install.log" 2>&1
  fi
  mariadbd --user=root --datadir="$dir/db" --socket="$dir/mysql.sock" --port="$db_port" --bind-address=127.0.0.1 \
    --pid-file="$dir/mariadb.pid" --log-error="$dir/log/mariadb.log" --skip-log-bin >/dev/null 2>&1 &
  wait_for 60 MariaDB mariadb --socket="$dir/mysql.sock" -uroot -e "SELECT 1"
  mariadb --socket="$dir/mysql.sock" -uroot -e "CREATE DATABASE IF NOT EXISTS slurm_acct_db"
  cat >"$dir/slurmdbd.conf" <<EOF
AuthType=auth/munge
DbdHost=localhost
DbdPort=$dbd_port
SlurmUser=root
PidFile=$dir/slurmdbd.pid
LogFile=$dir/log/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$db_port
StorageUser=root
StorageLoc=slurm_acct_db
EOF
  chmod 600 "$dir/slurmdbd.conf"
  mem=$(awk '/MemTotal/ {print int($2 / 1024 * 0.8)}' /proc/meminfo)
  cpus=$(nproc)
  cat >"$SLURM_CONF" <<EOF
ClusterName=birsweep
SlurmctldHost=$host
SlurmctldPort=$ctld_port
SlurmdPort=$d_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=cred_expire=30
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=$dbd_port
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2
KillWait=5
# cred_expire above: a requeued job waits that long before it may start again (SLURM's default is 120 s)
MinJobAge=600
InactiveLimit=0
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
  slurmdbd  # reads slurmdbd.conf beside $SLURM_CONF
  wait_for 60 slurmdbd timeout 5 sacctmgr -n show cluster
  sacctmgr -i add cluster birsweep >/dev/null 2>&1 || true
  slurmctld -f "$SLURM_CONF"
  slurmd -f "$SLURM_CONF"
  wait_for 60 "the node" bash -c "sinfo -h -o %T | grep -Eq '^(idle|mixed|allocated)'"
  echo "$SLURM_CONF" ;;
stop)
  [ -f "$dir/slurmctld.pid" ] && SLURM_CONF=$SLURM_CONF scancel --full -u root 2>/dev/null || true
  for f in slurmd slurmctld slurmdbd mariadb; do stop_pid "$dir/$f.pid"; done
  # a cluster started while ours ran found our munged answering and uses it: leave it to that cluster
  if [ -f "$dir/munge.pid" ] && pgrep -x slurmctld >/dev/null; then
    echo "munged (pid $(cat "$dir/munge.pid")) left running: another cluster's slurmctld uses it" >&2
  else
    stop_pid "$dir/munge.pid"
  fi ;;
*) echo "usage: $0 start|stop [dir]" >&2; exit 2 ;;
esac
