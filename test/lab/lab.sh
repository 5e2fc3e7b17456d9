#!/usr/bin/env bash
# Local SLURM lab for Mission Control: a 3-node Slurm cluster with accounting and a private sshd, all on
# loopback, for end-to-end tests against real SLURM commands.
#
#   bash test/lab/lab.sh up      # as root: install packages if missing, start everything, smoke-test, write lab.json
#   bash test/lab/lab.sh down    # as root: stop exactly what `up` started (by pid files); keeps packages and data
#   bash test/lab/lab.sh status  # list lab daemons; exit 0 only if all are running
#
# Two cluster logins, `mlops` (LAB_USER) and `mlops2` (LAB_OTHER_USER), as two people on one cluster: each a unix
# account with the same SLURM account association, and its own ssh key (<state>/ssh/id_ed25519 and
# id_ed25519-mlops2) that logs in as that account only. Everything below that is per user (account, key, Hydra,
# nvidia-smi on PATH, the smoke job) is done for both.
#
# Everything except /etc/slurm/{slurm,gres}.conf and the lab users' home files (authorized_keys, the .bashrc line and
# the Hydra .pth below) lives in ONE state dir, ${MC_LAB_DIR:-/var/tmp/mission-control-lab}. `<state>/lab.json` exists
# only while the lab is up and tells a client how to reach it (host, port, user, identityFile, knownHostsFile,
# hostKeyFingerprint, ..., and otherUser: {user, identityFile} for the second login).
# Verified facts and pitfalls behind the choices below: SLURM-LAB.md (Debian 12, Slurm 22.05, no systemd).
#
# Real Hydra on the nodes: lab jobs run Debian's python3 with Hydra 1.3.2 importable, as on a cluster where the user
# ran `pip install --user hydra-core`. Hydra's own dependencies are Debian packages (python3-omegaconf, -antlr4,
# -packaging, -yaml, in PACKAGES below); Hydra itself is the vendored package ../shared/vendor/hydra-core-1.3.2 beside
# the checkout (or $MC_HYDRA_VENDOR), copied into <state>/python and byte-compiled there (a developer's checkout
# may be unreadable to the lab user, and the copy does not change under running jobs), and named by a .pth file in
# each lab user's own site-packages (~mlops/.local/lib/python3.X/site-packages/mission-control-lab-hydra.pth). Nothing
# system-wide changes: root's and other users' python3 do not see it. Without the vendored package, `up` says so,
# removes the .pth, and lab jobs run the fixture's standard-library stand-in (test/lab/real-hydra.test.ts then
# skips); with CI set, `up` fails instead.
#
# A stand-in nvidia-smi on the nodes (test/lab/nvidia-smi, copied to <state>/bin), so the job script's GPU sampler
# runs for real. A job gets the PATH of the sbatch that submitted it, which runs in the lab user's ssh session, where
# bash reads ~/.bashrc even for a command (Debian's bash reads it when started by sshd): the first line of each lab
# user's .bashrc, before its return for non-interactive shells, puts <state>/bin first. Root's and other users' PATH
# do not change. Its GPUs' utilisation: see the header of test/lab/nvidia-smi (<state>/gpu/utilization makes them idle).
set -Eeuo pipefail
shopt -s nullglob

# ---------------------------------------------------------------------------------------------- settings
STATE=$(realpath -m "${MC_LAB_DIR:-/var/tmp/mission-control-lab}")
SLURM_ETC=/etc/slurm                 # clients reached over ssh have no SLURM_CONF: they read this path
LAB_USER=mlops
# A second cluster login, so tests can show two Mission Control users' jobs running under their own accounts.
LAB_OTHER_USER=mlops2
LAB_USERS=("$LAB_USER" "$LAB_OTHER_USER")
SSH_HOST=127.0.0.1
SSH_PORT=2222
DB_PORT=3307
DBD_PORT=6819
CTLD_PORT=6817
CLUSTER=lab
ACCOUNT=lab
NODES=(gpu-a100 gpu-h100 cpu-01)
PARTITIONS=(gpu cpu)
# The python3-* packages are Hydra 1.3.2's dependencies: lab jobs and the real-Hydra test oracle import them.
PACKAGES=(munge slurmctld slurmd slurm-client slurmdbd mariadb-server openssh-server
  python3-omegaconf python3-antlr4 python3-packaging python3-yaml)
SMOKE_TIMEOUT=60
MARKER="# Written by mission-control test/lab/lab.sh"

MUNGE_DIR=$STATE/munge              # owned by munge: munged refuses dirs others can write
DB_DIR=$STATE/mysql                 # owned by mysql: a root-owned pid/log dir makes mariadbd exit silently
SL_DIR=$STATE/slurm                 # owned by slurm: slurmctld/slurmdbd write here after dropping root
SSH_DIR=$STATE/ssh
GPU_DIR=$STATE/gpu
MUNGE_SOCKET=$MUNGE_DIR/munge.socket
DB_CNF=$DB_DIR/my.cnf
DB_PASS_FILE=$STATE/db.pass
DBD_CONF_DIR=$SL_DIR/etc            # slurmdbd looks for slurmdbd.conf beside $SLURM_CONF
CLIENT_KEY=$SSH_DIR/id_ed25519
OTHER_CLIENT_KEY=$SSH_DIR/id_ed25519-$LAB_OTHER_USER
# Each lab user logs in with its own key only: one key per account, as on a cluster where each person has theirs.
declare -A CLIENT_KEY_OF=([$LAB_USER]=$CLIENT_KEY [$LAB_OTHER_USER]=$OTHER_CLIENT_KEY)
HOST_KEY=$SSH_DIR/ssh_host_ed25519_key
KNOWN_HOSTS=$SSH_DIR/known_hosts
SSHD_CONFIG=$SSH_DIR/sshd_config
LAB_JSON=$STATE/lab.json
HYDRA_VENDOR=$(realpath -m "${MC_HYDRA_VENDOR:-$(dirname "$0")/../../../shared/vendor/hydra-core-1.3.2}")
HYDRA_DIR=$STATE/python/hydra-core-1.3.2
HYDRA_PTH=mission-control-lab-hydra.pth
BIN_DIR=$STATE/bin
NVIDIA_SMI=$(dirname "$0")/nvidia-smi
BASHRC_MARKER="# mission-control lab: the nodes' stand-in nvidia-smi (test/lab/lab.sh)"

# Daemon table. Start order is the array order; `down` stops in reverse.
declare -A PIDFILE COMM LOGFILE PORT
DAEMONS=()
register() { DAEMONS+=("$1"); COMM[$1]=$2; PIDFILE[$1]=$3; LOGFILE[$1]=$4; PORT[$1]=${5:-}; }
register munged munged "$MUNGE_DIR/munged.pid" "$MUNGE_DIR/munged.log"
register mariadbd mariadbd "$DB_DIR/mariadbd.pid" "$DB_DIR/mariadbd.log" "$DB_PORT"
register slurmdbd slurmdbd "$SL_DIR/run/slurmdbd.pid" "$SL_DIR/log/slurmdbd.log" "$DBD_PORT"
register slurmctld slurmctld "$SL_DIR/run/slurmctld.pid" "$SL_DIR/log/slurmctld.log" "$CTLD_PORT"
port=17001
for n in "${NODES[@]}"; do
  register "slurmd@$n" slurmd "$SL_DIR/run/slurmd-$n.pid" "$SL_DIR/log/slurmd-$n.log" $((port++))
done
register sshd sshd "$SSH_DIR/sshd.pid" "$SSH_DIR/sshd.log" "$SSH_PORT"

# ---------------------------------------------------------------------------------------------- helpers
log() { printf '[lab] %s\n' "$*" >&2; }

# die MESSAGE [DAEMON...]: the daemons' log tails are usually the only useful diagnosis.
die() {
  local msg=$1; shift
  printf '[lab] ERROR: %s\n' "$msg" >&2
  local d f
  for d in "$@"; do
    # <log>.out holds what a daemon printed before its own log was open (bad option, bind failure, ...).
    for f in "${LOGFILE[$d]:-}" "${LOGFILE[$d]:-}.out"; do
      [[ -s $f ]] || continue
      printf '[lab] ---- last lines of %s (%s)\n' "$f" "$d" >&2
      tail -n 25 "$f" >&2 || true
    done
  done
  exit 1
}
trap 'die "unexpected failure at line $LINENO: $BASH_COMMAND"' ERR

now_ms() { local t=${EPOCHREALTIME//[.,]/}; echo $((t / 1000)); }

require_root() { [[ $EUID -eq 0 ]] || die "'lab.sh $1' must run as root (e.g. sudo bash test/lab/lab.sh $1)"; }

# wait_until SECONDS CMD...: poll quickly; bring-up time is dominated by these waits.
wait_until() {
  local deadline=$(($(now_ms) + $1 * 1000)); shift
  until "$@" >/dev/null 2>&1; do
    (($(now_ms) < deadline)) || return 1
    sleep 0.2
  done
}

# A zombie still answers kill -0 and keeps its /proc entry until its parent (often PID 1) reaps it.
alive() { local st; st=$(sed "s/.*) //" "/proc/$1/stat" 2>/dev/null) && [[ ${st:0:1} != [ZX] ]]; }

# Prints the pid of a lab daemon if its pid file names a live process of the expected program. The comm
# check guards against a stale pid file whose pid was reused by something else.
live_pid() {
  local d=$1 pid
  pid=$(cat "${PIDFILE[$d]}" 2>/dev/null) || return 1
  pid=${pid//[^0-9]/}
  [[ -n $pid ]] || return 1
  [[ $(cat "/proc/$pid/comm" 2>/dev/null) == "${COMM[$d]}" ]] || return 1
  if [[ $EUID -eq 0 ]]; then kill -0 "$pid" 2>/dev/null || return 1; fi
  alive "$pid" || return 1
  echo "$pid"
}
running() { live_pid "$1" >/dev/null; }

# install_file DEST MODE OWNER < content: rewrite only on change so a warm `up` can tell whether a running
# daemon must restart to see a new config. Writes via tmp + mv so readers never see half a file.
CHANGED=()
install_file() {
  local dest=$1 mode=$2 owner=$3 tmp
  tmp=$(mktemp "$dest.XXXXXX")
  cat >"$tmp"
  chmod "$mode" "$tmp"; chown "$owner" "$tmp"
  if [[ -f $dest ]] && cmp -s "$tmp" "$dest" && [[ $(stat -c '%a %U:%G' "$dest") == "$mode $owner" ]]; then
    rm -f "$tmp"
  else
    mv -f "$tmp" "$dest"; CHANGED+=("$dest")
  fi
}
changed() { local f; for f in "${CHANGED[@]}"; do [[ $f == "$1" ]] && return 0; done; return 1; }

port_taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Closes every descriptor above stderr, then runs CMD (call it in a subshell). A daemon keeps what it inherits for its
# lifetime: fd 9 (the lab lock), or the lock of a caller such as `flock /tmp/some.lock bash lab.sh up` (flock keeps
# its lock open in the command it runs), would stay held until `down`, and every later user of it would wait.
exec_without_inherited_fds() {
  local fd
  for fd in "/proc/$BASHPID/fd/"*; do
    fd=${fd##*/}
    # The listing also named the descriptor that read the directory, closed by now.
    if ((fd > 2)) && [[ -e /proc/$BASHPID/fd/$fd ]]; then exec {fd}>&-; fi
  done
  exec "$@"
}

# Starts a daemonizing command unless the daemon is already up; waits for its pid file. stdio goes to the
# log: an inherited pipe would keep a caller such as `npm run` waiting for EOF forever.
spawn() {
  local d=$1; shift
  running "$d" && return 0
  # A daemon that cannot bind may exit only after daemonizing; name the real cause up front instead.
  if [[ -n ${PORT[$d]} ]] && port_taken "${PORT[$d]}"; then
    die "127.0.0.1:${PORT[$d]} is taken by a process that is not this lab's $d (another lab with a different MC_LAB_DIR?)"
  fi
  rm -f "${PIDFILE[$d]}"
  (exec_without_inherited_fds "$@") </dev/null >>"${LOGFILE[$d]}.out" 2>&1 || die "$d failed to start: $*" "$d"
  wait_until 15 running "$d" || die "$d did not come up (no live pid in ${PIDFILE[$d]})" "$d"
}

stop_daemons() {
  local d pid pids=() deadline
  for d in "$@"; do
    pid=$(live_pid "$d") || continue
    kill -TERM "$pid" 2>/dev/null || true
    pids+=("$pid")
  done
  ((${#pids[@]})) || return 0
  deadline=$(($(now_ms) + 30000))   # mariadbd and slurmctld flush state on TERM; give them time
  for pid in "${pids[@]}"; do
    while alive "$pid"; do
      if (($(now_ms) > deadline)); then kill -KILL "$pid" 2>/dev/null || true; fi
      sleep 0.1
    done
  done
  for d in "$@"; do rm -f "${PIDFILE[$d]}"; done
}

restart_if() { local conf=$1; shift; if changed "$conf"; then stop_daemons "$@"; fi; }

# ---------------------------------------------------------------------------------------------- packages
ensure_packages() {
  local p missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  log "installing Debian packages (missing: ${missing[*]})"
  # Without systemd, postinst scripts would start the system munge/slurm/mariadb/sshd (port 22!) unless a
  # policy-rc.d forbids it. Docker images ship one; a bare CI machine may not.
  local own_policy=
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; own_policy=1
  fi
  local rc=0
  {
    export DEBIAN_FRONTEND=noninteractive
    # A concurrent apt run holds the dpkg lock: wait for it instead of failing.
    apt-get -o DPkg::Lock::Timeout=600 update -qq &&
      apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${PACKAGES[@]}"
  } </dev/null >&2 || rc=$?
  [[ -z $own_policy ]] || rm -f /usr/sbin/policy-rc.d
  ((rc == 0)) || die "apt-get failed (exit $rc)"
}

# ---------------------------------------------------------------------------------------------- layout
make_dirs() {
  install -d -m 755 "$STATE" "$SSH_DIR" "$GPU_DIR" "$SLURM_ETC"
  install -d -m 755 -o munge -g munge "$MUNGE_DIR"
  install -d -m 750 -o mysql -g mysql "$DB_DIR"
  install -d -m 755 -o slurm -g slurm "$SL_DIR" "$SL_DIR/log" "$SL_DIR/run" "$SL_DIR/ctld" "$SL_DIR/d"
  install -d -m 700 -o slurm -g slurm "$DBD_CONF_DIR"
  local n; for n in "${NODES[@]}"; do install -d -m 755 "$SL_DIR/d/$n"; done   # slurmd logs an error if absent
  install -d -m 755 /run/sshd   # sshd's privilege-separation dir; /run is wiped on reboot
}

ensure_users() {
  local user
  for user in "${LAB_USERS[@]}"; do
    id "$user" >/dev/null 2>&1 || useradd -m -s /bin/bash "$user"
    # useradd leaves the password '!' (locked) and sshd then refuses even key logins; '*' = no password.
    [[ $(getent shadow "$user" | cut -d: -f2) == '*' ]] || usermod -p '*' "$user"
  done
}

home_of() { getent passwd "$1" | cut -d: -f6; }

# Fake GPUs: slurmd only accepts character/block devices as gres File=; /dev/null symlinks pass.
make_fake_gpus() {
  local i
  for i in 0 1 2 3; do ln -sfn /dev/null "$GPU_DIR/a100-$i"; done
  for i in 0 1; do ln -sfn /dev/null "$GPU_DIR/h100-$i"; done
}

# ---------------------------------------------------------------------------------------------- configs
write_slurm_conf() {
  # Do not silently destroy a real cluster's config on a developer machine.
  if [[ -f $SLURM_ETC/slurm.conf ]] && ! grep -qF "$MARKER" "$SLURM_ETC/slurm.conf"; then
    log "moving existing $SLURM_ETC/slurm.conf to slurm.conf.pre-lab"
    mv "$SLURM_ETC/slurm.conf" "$SLURM_ETC/slurm.conf.pre-lab"
  fi
  install_file "$SLURM_ETC/slurm.conf" 644 root:root <<EOF
$MARKER (state: $STATE)
ClusterName=$CLUSTER
# 'localhost' keeps the lab independent of the machine's hostname.
SlurmctldHost=localhost
SlurmctldPort=$CTLD_PORT
SlurmUser=slurm
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$MUNGE_SOCKET
StateSaveLocation=$SL_DIR/ctld
SlurmdSpoolDir=$SL_DIR/d/%n
SlurmctldPidFile=${PIDFILE[slurmctld]}
SlurmdPidFile=$SL_DIR/run/slurmd-%n.pid
SlurmctldLogFile=${LOGFILE[slurmctld]}
SlurmdLogFile=$SL_DIR/log/slurmd-%n.log
# No cgroups in containers/CI.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
# Lets each node claim CPUs=4 RealMemory=4000 on a 2-core machine.
SlurmdParameters=config_overrides
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# Without it one job takes a node's whole memory and jobs run one at a time.
DefMemPerCPU=100
MinJobAge=300
ReturnToService=2
MailProg=/bin/true
SchedulerType=sched/backfill
GresTypes=gpu
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=$DBD_PORT
# The dbd connection ignores AuthInfo; for slurmdbd this key names an alternative munge socket.
AccountingStoragePass=$MUNGE_SOCKET
# Makes AllocTRES show gres/gpu:a100=2 (fatal without slurmdbd).
AccountingStorageTRES=gres/gpu,gres/gpu:a100,gres/gpu:h100
JobAcctGatherType=jobacct_gather/linux
JobCompType=jobcomp/none
MpiDefault=none
NodeName=gpu-a100 NodeHostname=localhost NodeAddr=127.0.0.1 Port=${PORT[slurmd@gpu-a100]} CPUs=4 RealMemory=4000 Gres=gpu:a100:4 State=UNKNOWN
NodeName=gpu-h100 NodeHostname=localhost NodeAddr=127.0.0.1 Port=${PORT[slurmd@gpu-h100]} CPUs=4 RealMemory=4000 Gres=gpu:h100:2 State=UNKNOWN
NodeName=cpu-01 NodeHostname=localhost NodeAddr=127.0.0.1 Port=${PORT[slurmd@cpu-01]} CPUs=4 RealMemory=4000 State=UNKNOWN
# gpu has limits as sites set them, so a launch is checked against a real MaxTime and DefaultTime.
PartitionName=gpu Nodes=gpu-a100,gpu-h100 Default=YES MaxTime=2-00:00:00 DefaultTime=01:00:00 State=UP
PartitionName=cpu Nodes=cpu-01 MaxTime=INFINITE State=UP
EOF
  install_file "$SLURM_ETC/gres.conf" 644 root:root <<EOF
$MARKER
AutoDetect=off
NodeName=gpu-a100 Name=gpu Type=a100 File=$GPU_DIR/a100-[0-3]
NodeName=gpu-h100 Name=gpu Type=h100 File=$GPU_DIR/h100-[0-1]
EOF
  # slurmdbd finds its config beside $SLURM_CONF; this link lets it run with SLURM_CONF in the state dir.
  ln -sfn "$SLURM_ETC/slurm.conf" "$DBD_CONF_DIR/slurm.conf"
}

db_password() {
  [[ -s $DB_PASS_FILE ]] || (umask 077; od -An -tx1 -N12 /dev/urandom | tr -d ' \n' >"$DB_PASS_FILE")
  cat "$DB_PASS_FILE"
}

write_dbd_conf() {
  # slurmdbd refuses a config that is not mode 600 and owned by its SlurmUser.
  install_file "$DBD_CONF_DIR/slurmdbd.conf" 600 slurm:slurm <<EOF
$MARKER
AuthType=auth/munge
AuthInfo=socket=$MUNGE_SOCKET
DbdHost=localhost
DbdPort=$DBD_PORT
SlurmUser=slurm
PidFile=${PIDFILE[slurmdbd]}
LogFile=${LOGFILE[slurmdbd]}
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$DB_PORT
StorageUser=slurm
StoragePass=$(db_password)
StorageLoc=slurm_acct_db
EOF
}

write_db_conf() {
  install_file "$DB_CNF" 644 root:root <<EOF
$MARKER
[mariadbd]
user=mysql
datadir=$DB_DIR/data
socket=$DB_DIR/mysqld.sock
pid-file=${PIDFILE[mariadbd]}
log-error=${LOGFILE[mariadbd]}
bind-address=127.0.0.1
port=$DB_PORT
skip-name-resolve
# slurmdbd warns (and is slow to create tables) below these.
innodb_buffer_pool_size=512M
innodb_log_file_size=64M
innodb_lock_wait_timeout=900
[client]
socket=$DB_DIR/mysqld.sock
user=root
EOF
}

write_sshd_conf() {
  install_file "$SSHD_CONFIG" 644 root:root <<EOF
$MARKER
# A second sshd for the lab only; the system sshd and port 22 are left alone.
Port $SSH_PORT
ListenAddress $SSH_HOST
HostKey $HOST_KEY
PidFile ${PIDFILE[sshd]}
AllowUsers ${LAB_USERS[*]}
PermitRootLogin no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
# UsePAM would need a PAM stack for the password-less account; key-only needs none of it.
UsePAM no
X11Forwarding no
PrintMotd no
Subsystem sftp /usr/lib/openssh/sftp-server
EOF
}

# ---------------------------------------------------------------------------------------------- ssh keys
ensure_keys() {
  # OpenSSH-format ed25519 (ssh-keygen's default): ssh2 (Node) refuses PKCS8 ed25519 keys.
  [[ -s $HOST_KEY ]] || ssh-keygen -q -t ed25519 -N '' -C mission-control-lab-host -f "$HOST_KEY"
  chmod 600 "$HOST_KEY"
  local user key
  for user in "${LAB_USERS[@]}"; do
    key=${CLIENT_KEY_OF[$user]}
    [[ -s $key ]] || ssh-keygen -q -t ed25519 -N '' -C "mission-control-lab-$user" -f "$key"
    chmod 600 "$key"
  done
  for user in "${LAB_USERS[@]}"; do authorize_own_key_only "$user"; done

  install_file "$KNOWN_HOSTS" 644 root:root <<<"[$SSH_HOST]:$SSH_PORT $(cut -d' ' -f1,2 "$HOST_KEY.pub")"
}

# USER's authorized_keys: its own lab key added, the other lab users' keys removed (so a test that logs in with one
# user's key really is that user), and whatever else the account authorizes kept.
authorize_own_key_only() {
  local user=$1 keys other own foreign=()
  keys=$(home_of "$user")/.ssh/authorized_keys
  own=$(cut -d' ' -f2 "${CLIENT_KEY_OF[$user]}.pub")
  for other in "${LAB_USERS[@]}"; do
    [[ $other == "$user" ]] || foreign+=(-e "$(cut -d' ' -f2 "${CLIENT_KEY_OF[$other]}.pub")")
  done
  install -d -m 700 -o "$user" -g "$user" "$(dirname "$keys")"
  {
    grep -vF "${foreign[@]}" "$keys" 2>/dev/null || true
    grep -qF "$own" "$keys" 2>/dev/null || cat "${CLIENT_KEY_OF[$user]}.pub"
  } | install_file "$keys" 600 "$user:$user"
}

host_key_fingerprint() { ssh-keygen -lf "$HOST_KEY.pub" | awk '{print $2}'; }

# ---------------------------------------------------------------------------------------------- real Hydra
# Hydra for the lab users' python3 (see the header): the vendored package copied into the state dir when it differs,
# byte-compiled so each job does not compile it again, and put on sys.path by a .pth in each user's site-packages.
install_hydra() {
  local vendored=1
  if [[ ! -f $HYDRA_VENDOR/hydra/__init__.py ]]; then
    # CI must test real Hydra (.ci/run): there its absence stops the run instead of quietly testing the stand-in.
    [[ -z ${CI:-} ]] || die "no vendored Hydra at $HYDRA_VENDOR (set MC_HYDRA_VENDOR); CI runs lab jobs with real Hydra"
    log "no vendored Hydra at $HYDRA_VENDOR (set MC_HYDRA_VENDOR): lab jobs run without Hydra"
    vendored=
  elif ! diff -rq -x __pycache__ "$HYDRA_VENDOR" "$HYDRA_DIR" >/dev/null 2>&1; then
    log "installing Hydra from $HYDRA_VENDOR for the lab users"
    rm -rf "$HYDRA_DIR"
    install -d -m 755 "$STATE/python"
    cp -r "$HYDRA_VENDOR" "$HYDRA_DIR"
    chmod -R u+w,go+rX "$HYDRA_DIR"
    /usr/bin/python3 -m compileall -q "$HYDRA_DIR" >/dev/null || die "byte-compiling $HYDRA_DIR failed"
  fi
  local user site out
  for user in "${LAB_USERS[@]}"; do
    site=$(runuser -u "$user" -- /usr/bin/python3 -c 'import site; print(site.getusersitepackages())') ||
      die "cannot ask $user's python3 for its site-packages"
    if [[ -z $vendored ]]; then rm -f "$site/$HYDRA_PTH"; continue; fi
    runuser -u "$user" -- install -d -m 755 "$site"
    # Rewritten only when it differs, so a second `up` leaves the home directories as they were.
    [[ $(cat "$site/$HYDRA_PTH" 2>/dev/null) == "$HYDRA_DIR" ]] ||
      runuser -u "$user" -- sh -c 'printf "%s\n" "$1" > "$2"' sh "$HYDRA_DIR" "$site/$HYDRA_PTH"
    out=$(runuser -u "$user" -- /usr/bin/python3 -c 'import hydra' 2>&1) ||
      die "$user's python3 cannot import hydra from $HYDRA_DIR: ${out##*$'\n'}"
  done
}

# ---------------------------------------------------------------------------------------------- stand-in nvidia-smi
# See the header: the script in <state>/bin, and that directory first on each lab user's PATH by one marked line at the
# top of ~/.bashrc (a line of an older lab.sh is replaced, so a second `up` changes nothing).
install_nvidia_smi() {
  [[ -f $NVIDIA_SMI ]] || die "no stand-in nvidia-smi at $NVIDIA_SMI"
  install -d -m 755 "$BIN_DIR"
  install_file "$BIN_DIR/nvidia-smi" 755 root:root <"$NVIDIA_SMI"
  local user rc line
  line="case \":\$PATH:\" in *\":$BIN_DIR:\"*) ;; *) PATH=\"$BIN_DIR:\$PATH\" ;; esac $BASHRC_MARKER"
  for user in "${LAB_USERS[@]}"; do
    rc=$(home_of "$user")/.bashrc
    [[ $(head -n 1 "$rc" 2>/dev/null) == "$line" ]] && continue
    { printf '%s\n' "$line"; grep -vF "$BASHRC_MARKER" "$rc" 2>/dev/null || true; } >"$rc.mc-lab"
    chown "$user:$user" "$rc.mc-lab"; chmod 644 "$rc.mc-lab"
    mv -f "$rc.mc-lab" "$rc"
  done
}

# What a job's sbatch sees: each lab user's command over ssh finds the stand-in.
check_nvidia_smi() {
  local user path
  for user in "${LAB_USERS[@]}"; do
    path=$(lab_ssh "$user" 'command -v nvidia-smi' 2>&1) || true
    [[ $path == "$BIN_DIR/nvidia-smi" ]] ||
      die "over ssh $user's PATH does not find $BIN_DIR/nvidia-smi first (found: ${path:-nothing})"
  done
}

# ---------------------------------------------------------------------------------------------- daemons
munge_ok() { munge -n -S "$MUNGE_SOCKET" | unmunge -S "$MUNGE_SOCKET"; }

start_munged() {
  if [[ ! -s $MUNGE_DIR/munge.key ]]; then
    mungekey --create --keyfile="$MUNGE_DIR/munge.key"
  fi
  chown munge:munge "$MUNGE_DIR/munge.key"; chmod 600 "$MUNGE_DIR/munge.key"
  # --force: take over a stale socket left by a killed munged.
  spawn munged runuser -u munge -- munged --force --socket="$MUNGE_SOCKET" \
    --key-file="$MUNGE_DIR/munge.key" --pid-file="${PIDFILE[munged]}" \
    --log-file="${LOGFILE[munged]}" --seed-file="$MUNGE_DIR/munged.seed"
  wait_until 10 munge_ok || die "munge credentials do not round-trip" munged
}

db() { mariadb --defaults-file="$DB_CNF" "$@"; }

start_mariadb() {
  if [[ ! -d $DB_DIR/data/mysql ]]; then
    log "initialising MariaDB datadir"
    mariadb-install-db --defaults-file="$DB_CNF" --user=mysql --skip-test-db \
      --auth-root-authentication-method=socket >>"${LOGFILE[mariadbd]}.out" 2>&1 9>&- ||
      die "mariadb-install-db failed (see ${LOGFILE[mariadbd]}.out)" mariadbd
  fi
  # mariadbd does not daemonize itself.
  spawn mariadbd setsid -f mariadbd --defaults-file="$DB_CNF"
  wait_until 30 db -e 'SELECT 1' || die "MariaDB on 127.0.0.1:$DB_PORT does not answer" mariadbd
  local pw; pw=$(db_password)
  db --batch <<EOF || die "could not create the slurm database user" mariadbd
CREATE DATABASE IF NOT EXISTS slurm_acct_db;
CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY '$pw';
CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY '$pw';
ALTER USER 'slurm'@'127.0.0.1' IDENTIFIED BY '$pw';
ALTER USER 'slurm'@'localhost' IDENTIFIED BY '$pw';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';
EOF
}

dbd_ok() { sacctmgr -n -P list cluster format=cluster; }

start_slurmdbd() {
  spawn slurmdbd env SLURM_CONF="$DBD_CONF_DIR/slurm.conf" slurmdbd
  # The first start creates the accounting tables: allow for that.
  wait_until 40 dbd_ok || die "slurmdbd does not answer sacctmgr" slurmdbd mariadbd
}

# Slurm wants the cluster in the database before slurmctld registers, and a user needs an association
# (cluster + account + user) for its jobs to be accounted under an account.
ensure_associations() {
  sacctmgr -n -P list cluster format=cluster | grep -qx "$CLUSTER" ||
    sacctmgr -i add cluster "$CLUSTER" >/dev/null
  sacctmgr -n -P list account "$ACCOUNT" format=account | grep -qx "$ACCOUNT" ||
    sacctmgr -i add account "$ACCOUNT" Cluster="$CLUSTER" Description="mission control lab" \
      Organization=lab >/dev/null
  local user
  for user in "${LAB_USERS[@]}"; do
    sacctmgr -n -P list assoc cluster="$CLUSTER" user="$user" format=user | grep -qx "$user" ||
      sacctmgr -i add user "$user" Account="$ACCOUNT" Cluster="$CLUSTER" DefaultAccount="$ACCOUNT" >/dev/null
  done
}

start_slurmctld() {
  spawn slurmctld slurmctld
  wait_until 20 scontrol ping || die "slurmctld does not answer 'scontrol ping'" slurmctld
}

start_slurmds() {
  local n
  for n in "${NODES[@]}"; do spawn "slurmd@$n" slurmd -N "$n"; done
}

# Healthy = idle, or busy with jobs (a warm `up` may find test jobs running). A '*' suffix means the
# controller cannot reach that slurmd.
nodes_ready() {
  local states
  states=$(sinfo -h -N -o '%N %t') || return 1
  [[ $(grep -cE '^[^ ]+ (idle|mix|alloc)$' <<<"$states") -eq ${#NODES[@]} ]]
}

start_sshd() {
  /usr/sbin/sshd -t -f "$SSHD_CONFIG" 2>>"${LOGFILE[sshd]}" || die "sshd rejects $SSHD_CONFIG" sshd
  spawn sshd /usr/sbin/sshd -f "$SSHD_CONFIG" -E "${LOGFILE[sshd]}"
}

# ssh_login KEY USER CMD...: key-only, this lab's host key only, no ssh config or agent of the caller's.
ssh_login() {
  local key=$1 user=$2; shift 2
  ssh -F /dev/null -i "$key" -p "$SSH_PORT" -o IdentitiesOnly=yes -o BatchMode=yes \
    -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$KNOWN_HOSTS" -o ConnectTimeout=5 \
    -o LogLevel=ERROR "$user@$SSH_HOST" "$@"
}

# lab_ssh USER CMD...: as that lab user, with its own key.
lab_ssh() { local user=$1; shift; ssh_login "${CLIENT_KEY_OF[$user]}" "$user" "$@"; }

# What authorize_own_key_only promises, seen from outside: no lab user's key logs in as another lab user.
check_keys_are_per_user() {
  local user other
  for user in "${LAB_USERS[@]}"; do
    for other in "${LAB_USERS[@]}"; do
      [[ $other == "$user" ]] && continue
      if ssh_login "${CLIENT_KEY_OF[$other]}" "$user" true 2>/dev/null; then
        die "$other's key ${CLIENT_KEY_OF[$other]} logs in as $user"
      fi
    done
  done
}

# The one check that proves the whole chain, for every lab user: ssh → sbatch → slurmctld → slurmd → slurmdbd →
# sacct, the job accounted under the login that submitted it. All users submit first, so their jobs run together.
smoke_test() {
  local user id state deadline
  local -A job_of=()
  for user in "${LAB_USERS[@]}"; do
    id=$(lab_ssh "$user" 'sbatch --parsable --job-name=lab-smoke --output=/dev/null --wrap=true' 2>&1) ||
      die "smoke sbatch over ssh as $user failed: $id" sshd slurmctld
    id=${id%%;*}
    [[ $id =~ ^[0-9]+$ ]] || die "smoke sbatch as $user printed no job id: $id" slurmctld
    job_of[$user]=$id
  done
  deadline=$(($(now_ms) + SMOKE_TIMEOUT * 1000))
  for user in "${LAB_USERS[@]}"; do
    id=${job_of[$user]}
    while :; do
      state=$(lab_ssh "$user" "sacct -X -n -P -j $id -o State,User" 2>&1) || state="sacct failed: $state"
      [[ $state == "COMPLETED|$user" ]] && break
      if (($(now_ms) > deadline)); then
        die "$user's smoke job $id not COMPLETED|$user in sacct after ${SMOKE_TIMEOUT}s (last: '${state:-no record}')" \
          slurmctld "slurmd@${NODES[0]}" slurmdbd
      fi
      sleep 0.3
    done
  done
}

json_str() { local s=${1//\\/\\\\}; printf '"%s"' "${s//\"/\\\"}"; }
json_list() { local out='' x; for x in "$@"; do out+=${out:+,}$(json_str "$x"); done; printf '[%s]' "$out"; }

write_lab_json() {
  local version tmp
  version=$(sinfo --version | awk '{print $NF}')
  tmp=$(mktemp "$LAB_JSON.XXXXXX")
  cat >"$tmp" <<EOF
{
  "host": $(json_str "$SSH_HOST"),
  "port": $SSH_PORT,
  "user": $(json_str "$LAB_USER"),
  "identityFile": $(json_str "$CLIENT_KEY"),
  "otherUser": {"user": $(json_str "$LAB_OTHER_USER"), "identityFile": $(json_str "$OTHER_CLIENT_KEY")},
  "knownHostsFile": $(json_str "$KNOWN_HOSTS"),
  "hostKeyFingerprint": $(json_str "$(host_key_fingerprint)"),
  "stateDir": $(json_str "$STATE"),
  "slurmVersion": $(json_str "$version"),
  "accounting": true,
  "nodes": $(json_list "${NODES[@]}"),
  "partitions": $(json_list "${PARTITIONS[@]}")
}
EOF
  chmod 644 "$tmp"
  mv -f "$tmp" "$LAB_JSON"
}

# One `up`/`down` at a time: two concurrent runs would race on pid files.
take_lock() {
  install -d -m 755 "$STATE"
  exec 9>"$STATE/.lock"
  flock -w 300 9 || die "another lab.sh is still running (lock $STATE/.lock)"
}

# ---------------------------------------------------------------------------------------------- commands
cmd_up() {
  require_root up
  local t0; t0=$(now_ms)
  ensure_packages
  take_lock
  rm -f "$LAB_JSON"   # its presence must keep meaning "the last up succeeded and nothing stopped it since"
  make_dirs
  ensure_users
  make_fake_gpus
  ensure_keys
  install_hydra
  install_nvidia_smi
  write_slurm_conf; write_dbd_conf; write_db_conf; write_sshd_conf

  # A warm `up` after a config change restarts only the daemons that read the changed file.
  local slurmds=(); local n; for n in "${NODES[@]}"; do slurmds+=("slurmd@$n"); done
  restart_if "$DB_CNF" mariadbd
  restart_if "$DBD_CONF_DIR/slurmdbd.conf" slurmdbd
  restart_if "$SLURM_ETC/slurm.conf" slurmctld "${slurmds[@]}"
  restart_if "$SLURM_ETC/gres.conf" slurmctld "${slurmds[@]}"
  restart_if "$SSHD_CONFIG" sshd

  start_munged
  start_mariadb
  start_slurmdbd
  ensure_associations
  start_slurmctld
  start_slurmds
  start_sshd
  wait_until 30 nodes_ready ||
    die "nodes not ready: $(sinfo -h -N -o '%N=%t' | tr '\n' ' ')" slurmctld "${slurmds[@]}"
  smoke_test
  check_nvidia_smi
  check_keys_are_per_user
  write_lab_json
  local ms=$(($(now_ms) - t0))
  printf '[lab] up in %d.%01ds: ssh -i %s -p %s %s@%s (or -i %s %s@%s; slurm %s, state %s)\n' \
    $((ms / 1000)) $((ms % 1000 / 100)) "$CLIENT_KEY" "$SSH_PORT" "$LAB_USER" "$SSH_HOST" \
    "$OTHER_CLIENT_KEY" "$LAB_OTHER_USER" "$SSH_HOST" "$(sinfo --version | awk '{print $NF}')" "$STATE"
}

no_active_jobs() { local ids; ids=$(timeout 5 squeue -h -o %i) && [[ -z $ids ]]; }

# Cancel jobs first: their slurmstepd processes would otherwise outlive the slurmds.
cancel_jobs() {
  running slurmctld || return 0
  local ids
  ids=$(timeout 10 squeue -h -o '%i' 2>/dev/null) || return 0
  [[ -n $ids ]] || return 0
  log "cancelling jobs: $(tr '\n' ' ' <<<"$ids")"
  # shellcheck disable=SC2086
  timeout 10 scancel $ids 2>/dev/null || true
  wait_until 15 no_active_jobs ||
    log "some jobs are still completing"
}

cmd_down() {
  require_root down
  [[ -d $STATE ]] || { log "nothing to stop ($STATE does not exist)"; return 0; }
  take_lock
  rm -f "$LAB_JSON"
  cancel_jobs
  local slurmds=(); local n; for n in "${NODES[@]}"; do slurmds+=("slurmd@$n"); done
  # Each daemon takes ~2 s to exit, so stop in three waves that respect what still needs what: slurmctld
  # flushes job records to slurmdbd, slurmdbd writes them to MariaDB; munged outlives the slurm daemons.
  stop_daemons sshd "${slurmds[@]}" slurmctld
  stop_daemons slurmdbd
  stop_daemons mariadbd munged
  log "down (data kept in $STATE)"
}

cmd_status() {
  local d pid all=0
  for d in "${DAEMONS[@]}"; do
    if pid=$(live_pid "$d"); then
      printf '%-18s running  pid %s\n' "$d" "$pid"
    else
      printf '%-18s stopped\n' "$d"; all=1
    fi
  done
  if [[ -f $LAB_JSON ]]; then echo "lab.json: $LAB_JSON"; else echo "lab.json: absent"; fi
  return "$all"
}

case ${1:-} in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status || exit 1 ;;
  *) echo "usage: bash test/lab/lab.sh up|down|status   (state dir: \$MC_LAB_DIR, default /var/tmp/mission-control-lab)" >&2; exit 2 ;;
esac
