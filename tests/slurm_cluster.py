"""A throwaway single-node SLURM cluster on this machine, for the real SLURM test (tests/test_slurm.py).

Why a real one: the executor plugin drives `sbatch`, `squeue` and `srun`; a mock would only test our own
assumptions about them. Everything the cluster needs lives in one scratch folder (config, munge key and
socket, state, spool, logs), on ports picked free, so a system munged or SLURM install is not touched.
The one file outside it is /etc/slurm/slurm.conf: the plugin's job steps drop SLURM_CONF before calling
`srun`, so the config must also be at the default path while the cluster runs; whatever was there before
is put back (or the file removed) when the cluster stops.

Shape of the cluster: one node called `localhost` (this host's name is not, hence `slurmd -N localhost`)
with 2 CPUs, a bit less memory than `slurmd -C` reports and two fake GPUs (generic resources whose device
files are links to /dev/null), so that jobs asking for `--gpus=1` are scheduled, and get
CUDA_VISIBLE_DEVICES, as on a GPU cluster; nothing needs a real GPU. With `gpus=0` it is a CPU-only
cluster instead: no generic resources at all (no `GresTypes`, no gres.conf), so sbatch rejects any job
that asks for a GPU, as a cluster without GPUs does. Daemons die with the process that
started them, even when it is killed. Two partitions: `debug` (the default) and `cddgan`, so a test can
check that jobs go where the environment says. No accounting storage: job status comes from `squeue`, and
`MinJobAge` keeps finished jobs visible to it for an hour.

Usage: `with single_node_cluster(folder) as cluster: ...` (or `start` / `stop`; `gpus=0` for CPUs only);
every daemon started is stopped by its PID on exit, also when the body raised.
`python tests/slurm_cluster.py FOLDER [GPUS]` starts one and keeps it up until Ctrl-C, for trying the
profile by hand.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

SYSTEM_CONF = Path("/etc/slurm/slurm.conf")
PACKAGES = ("slurm-wlm", "munge")
DAEMONS = ("munged", "slurmctld", "slurmd")
CLIENTS = ("sbatch", "squeue", "srun", "scancel", "sinfo", "scontrol")
NODE = "localhost"
PARTITION = "cddgan"
DEFAULT_PARTITION = "debug"
GPUS = 2
CONF_MARKER = b"cddgan-bench test cluster"  # first line of every slurm.conf written here


class ClusterError(RuntimeError):
    """The cluster did not come up; the message names the daemon and its log file."""


@dataclass
class Daemon:
    name: str
    process: subprocess.Popen
    log: Path


@dataclass
class Cluster:
    """A running cluster: its folder, config and the environment that points clients at it."""

    root: Path
    conf: Path
    gpus: int = GPUS  # fake GPUs of the node; 0: no generic resources configured at all
    daemons: list[Daemon] = field(default_factory=list)
    _system_conf_backup: bytes | None = None
    _created_etc_slurm: bool = False
    _wrote_system_conf: bool = False

    @property
    def env(self) -> dict[str, str]:
        """Variables for client commands (and Snakemake) so they talk to this cluster."""
        return {"SLURM_CONF": str(self.conf)}

    def client(self, *args: str, timeout: float = 30) -> subprocess.CompletedProcess:
        """Run a SLURM client command (`squeue ...`) against this cluster."""
        return subprocess.run(
            list(args), capture_output=True, text=True, timeout=timeout, env={**os.environ, **self.env}
        )

    def jobs(self) -> list[dict[str, str]]:
        """Every job the cluster still knows (finished ones for MinJobAge): id, partition, GPUs, memory,
        time limit, CPUs, state and comment (the plugin writes `rule_<name>_wildcards_<...>` there)."""
        fields = ["JobID", "Partition", "tres-per-job", "MinMemory", "TimeLimit", "NumCPUs", "State"]
        fields.append("Comment")
        result = self.client("squeue", "--states=all", "--noheader", "-O", ",".join(f"{f}:|" for f in fields))
        if result.returncode != 0:
            raise ClusterError(f"squeue failed: {result.stderr}")
        keys = ["id", "partition", "tres", "memory", "time_limit", "cpus", "state", "comment"]
        return [dict(zip(keys, line.split("|"), strict=False)) for line in result.stdout.splitlines() if line]

    def logs(self, tail: int = 3000) -> str:
        """The end of every daemon log, for failure messages."""
        parts = []
        for daemon in self.daemons:
            text = daemon.log.read_text(errors="replace") if daemon.log.exists() else "(no log)"
            parts.append(f"--- {daemon.name} ({daemon.log}):\n{text[-tail:]}")
        return "\n".join(parts)


def missing_tools() -> list[str]:
    """Daemons and client commands of SLURM and munge that are not on PATH (or in /usr/sbin)."""
    path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    return [tool for tool in (*DAEMONS, *CLIENTS) if shutil.which(tool, path=path) is None]


def running_slurm_daemons() -> list[str]:
    """PIDs and names of slurmctld/slurmd processes already running (another cluster on this machine)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            name = (entry / "comm").read_text().strip()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if name in ("slurmctld", "slurmd") and state != "Z":  # a zombie is dead, just not reaped
            found.append(f"{name} (pid {entry.name})")
    return found


def why_not_runnable() -> str | None:
    """The reason a real cluster cannot be started here, or None if it can (perhaps after apt-get)."""
    if not sys.platform.startswith("linux"):
        return "a real SLURM cluster needs Linux"
    if os.geteuid() != 0:
        return "starting slurmd and munged needs root (run the slurm tests as root, e.g. in CI)"
    if missing_tools() and shutil.which("apt-get") is None:
        missing = ", ".join(missing_tools())
        return f"SLURM/munge are not installed ({missing} missing) and apt-get is unavailable"
    running = running_slurm_daemons()
    if running:
        return f"SLURM daemons already run here ({', '.join(running)}); not starting a second cluster"
    if SYSTEM_CONF.exists() and CONF_MARKER not in SYSTEM_CONF.read_bytes():
        # Someone's real config: rewriting it, even for minutes, could break their cluster clients.
        return f"{SYSTEM_CONF} belongs to another SLURM installation; not overwriting it"
    return None


def ensure_installed(timeout: float = 600) -> None:
    """Install Debian's slurm-wlm and munge when any of their commands is missing (needs root and apt)."""
    if not missing_tools():
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *PACKAGES],
    ):
        result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout)
        if result.returncode != 0:
            failed = " ".join(command)
            raise ClusterError(f"`{failed}` failed ({result.returncode}):\n{result.stderr[-3000:]}")
    if missing_tools():
        raise ClusterError(f"after installing {PACKAGES}, still missing: {', '.join(missing_tools())}")


def _tool(name: str) -> str:
    path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    found = shutil.which(name, path=path)
    if found is None:
        raise ClusterError(f"{name} not found; install Debian's {' and '.join(PACKAGES)}")
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def node_memory_mb() -> int:
    """RealMemory for the node: 90% of what `slurmd -C` reports, so slurmd never finds less than declared."""
    result = subprocess.run([_tool("slurmd"), "-C"], capture_output=True, text=True, timeout=30)
    for word in result.stdout.split():
        if word.startswith("RealMemory="):
            return int(int(word.split("=", 1)[1]) * 0.9)
    raise ClusterError(f"`slurmd -C` did not report RealMemory:\n{result.stdout}{result.stderr}")


def slurm_conf(
    root: Path, memory_mb: int, ctld_port: int, slurmd_port: int, cpus: int = 2, gpus: int = GPUS
) -> str:
    """The slurm.conf text of the one-node cluster under `root` (SLURM 22.05 keys); with `gpus=0` no
    generic resources at all (no GresTypes, no Gres on the node): a CPU-only cluster."""
    host = socket.gethostname().split(".")[0]
    gres_types = "GresTypes=gpu\n" if gpus else ""
    node_gres = f" Gres=gpu:{gpus}" if gpus else ""
    return f"""# cddgan-bench test cluster (tests/slurm_cluster.py); removed when the test ends.
ClusterName=cddgan-test
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={root}/munge/munge.socket
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/run/slurmctld.pid
SlurmdPidFile={root}/run/slurmd.pid
SlurmctldLogFile={root}/log/slurmctld.log
SlurmdLogFile={root}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
MailProg=/bin/true
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
MinJobAge=3600
SlurmdTimeout=60
{gres_types}NodeName={NODE} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory_mb}{node_gres} State=UNKNOWN
PartitionName={DEFAULT_PARTITION} Nodes={NODE} Default=YES MaxTime=120 State=UP
PartitionName={PARTITION} Nodes={NODE} Default=NO MaxTime=120 State=UP
"""


def gres_conf(root: Path, gpus: int = GPUS) -> str:
    """Fake GPUs (two by default): links to /dev/null stand in for /dev/nvidia*, so SLURM schedules them and
    sets CUDA_VISIBLE_DEVICES in the job as on a real GPU node (nothing here needs a GPU)."""
    return f"NodeName={NODE} Name=gpu File={root}/dev/nvidia[0-{gpus - 1}]\n"


def write_config(root: Path, gpus: int = GPUS) -> Path:
    """Create the cluster's folders, munge key and config files under `root`; returns slurm.conf. With
    `gpus=0` there is no gres.conf and no fake device (a leftover of an earlier cluster is removed)."""
    for sub in ("munge", "state", "spool", "run", "log", "dev"):
        (root / sub).mkdir(parents=True, exist_ok=True)
        os.chmod(root / sub, 0o755)  # munged wants no group/other write access on its folders
    os.chmod(root, 0o755)
    for index in range(gpus):
        fake = root / "dev" / f"nvidia{index}"
        fake.unlink(missing_ok=True)
        fake.symlink_to("/dev/null")  # slurmd wants a character device; it never opens it here
    key = root / "munge" / "munge.key"
    key.write_bytes(secrets.token_bytes(1024))
    os.chmod(key, 0o400)
    conf = root / "slurm.conf"
    conf.write_text(slurm_conf(root, node_memory_mb(), free_port(), free_port(), gpus=gpus))
    if gpus:
        (root / "gres.conf").write_text(gres_conf(root, gpus))
    else:
        (root / "gres.conf").unlink(missing_ok=True)
    return conf


def _install_system_conf(cluster: Cluster) -> None:
    etc = SYSTEM_CONF.parent
    if not etc.exists():
        etc.mkdir(parents=True)
        cluster._created_etc_slurm = True
    if SYSTEM_CONF.exists() and CONF_MARKER not in SYSTEM_CONF.read_bytes():
        cluster._system_conf_backup = SYSTEM_CONF.read_bytes()  # (a leftover of a killed test is not kept)
    shutil.copyfile(cluster.conf, SYSTEM_CONF)
    cluster._wrote_system_conf = True


def _restore_system_conf(cluster: Cluster) -> None:
    if not cluster._wrote_system_conf:
        return
    if cluster._system_conf_backup is not None:
        SYSTEM_CONF.write_bytes(cluster._system_conf_backup)
    else:
        SYSTEM_CONF.unlink(missing_ok=True)
        if cluster._created_etc_slurm:
            with contextlib.suppress(OSError):
                SYSTEM_CONF.parent.rmdir()
    cluster._wrote_system_conf = False


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the test process dies, even by SIGKILL (no stray daemons)."""
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _spawn(cluster: Cluster, name: str, command: list[str]) -> Daemon:
    log = cluster.root / "log" / f"{name}.out"
    with open(log, "wb") as handle:
        process = subprocess.Popen(
            command,
            stdout=handle,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **cluster.env},
            start_new_session=True,  # Ctrl-C in a terminal reaches the test, which then stops the daemons
            preexec_fn=_die_with_parent,
        )
    daemon = Daemon(name, process, log)
    cluster.daemons.append(daemon)
    return daemon


def _wait(cluster: Cluster, what: str, ready, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for daemon in cluster.daemons:
            if daemon.process.poll() is not None:
                raise ClusterError(
                    f"{daemon.name} exited ({daemon.process.returncode}) while waiting for {what}\n"
                    + cluster.logs()
                )
        if ready():
            return
        time.sleep(0.5)
    raise ClusterError(f"timed out after {timeout:.0f} s waiting for {what}\n" + cluster.logs())


def start(root: Path, timeout: float = 60, gpus: int = GPUS) -> Cluster:
    """Write the config under `root` and start munged, slurmctld and slurmd; returns once the node is idle.
    `gpus`: fake GPUs of the node (0: a CPU-only cluster).

    On failure every daemon already started is stopped again before the error propagates.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    conf = write_config(root, gpus)
    cluster = Cluster(root=root, conf=conf, gpus=gpus)
    try:
        _install_system_conf(cluster)
        socket_path = root / "munge" / "munge.socket"
        _spawn(
            cluster,
            "munged",
            [
                _tool("munged"),
                "--foreground",
                "--force",
                f"--key-file={root / 'munge' / 'munge.key'}",
                f"--socket={socket_path}",
                f"--pid-file={root / 'run' / 'munged.pid'}",
                f"--log-file={root / 'log' / 'munged.log'}",
                f"--seed-file={root / 'munge' / 'munged.seed'}",
            ],
        )
        _wait(cluster, "the munge socket", socket_path.exists, timeout)
        _spawn(cluster, "slurmctld", [_tool("slurmctld"), "-D", "-c", "-i", "-f", str(conf)])
        _wait(cluster, "slurmctld", lambda: cluster.client("scontrol", "ping").returncode == 0, timeout)
        _spawn(cluster, "slurmd", [_tool("slurmd"), "-D", "-N", NODE, "-f", str(conf)])

        def node_idle() -> bool:
            result = cluster.client("sinfo", "--noheader", "--nodes", NODE, "--format=%T")
            return result.returncode == 0 and result.stdout.split()[:1] == ["idle"]

        _wait(cluster, f"node {NODE} to become idle", node_idle, timeout)
    except BaseException:
        stop(cluster)
        raise
    return cluster


def _cancel_jobs(cluster: Cluster, timeout: float = 30) -> None:
    """Cancel every job of the cluster and wait until none is running, so slurmd leaves no job steps."""
    if not any(d.name == "slurmctld" and d.process.poll() is None for d in cluster.daemons):
        return
    cluster.client("scancel", "--full", f"--partition={PARTITION}")
    cluster.client("scancel", "--full", f"--partition={DEFAULT_PARTITION}")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = cluster.client("squeue", "--noheader", "--states=RUNNING,COMPLETING,PENDING", "--format=%i")
        if result.returncode != 0 or not result.stdout.strip():
            return
        time.sleep(0.5)


def stop(cluster: Cluster, timeout: float = 15) -> None:
    """Cancel jobs, stop every daemon this cluster started (by PID, newest first), restore /etc/slurm."""
    try:
        _cancel_jobs(cluster)
    finally:
        for daemon in reversed(cluster.daemons):
            process = daemon.process
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=timeout)
        _restore_system_conf(cluster)


@contextlib.contextmanager
def single_node_cluster(root: Path, timeout: float = 60, gpus: int = GPUS) -> Iterator[Cluster]:
    """`start` the cluster (with `gpus` fake GPUs; 0: CPUs only), yield it, and `stop` it however the body
    ends."""
    cluster = start(root, timeout=timeout, gpus=gpus)
    try:
        yield cluster
    finally:
        stop(cluster)


if __name__ == "__main__":
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "slurm-cluster").resolve()
    fake_gpus = int(sys.argv[2]) if len(sys.argv) > 2 else GPUS
    reason = why_not_runnable()
    if reason:
        sys.exit(f"cannot start a cluster: {reason}")
    ensure_installed()
    def _interrupt(*_) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _interrupt)  # `kill PID` stops the cluster as cleanly as Ctrl-C
    with single_node_cluster(folder, gpus=fake_gpus) as running:
        print(f"cluster up; in another shell: export SLURM_CONF={running.conf}; Ctrl-C stops it", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()
