"""A real one-node Slurm cluster on localhost for the tests: ``munged`` with a key of its own,
``slurmctld`` and ``slurmd`` in the foreground, everything (config, state, spool, sockets,
logs) in one private folder, ports picked free. No systemd, no cgroups: proctrack/linuxproc,
task/none, select/cons_tres on CPUs. Debian packages: slurmctld slurmd slurm-client munge.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

DAEMONS = ("munged", "slurmctld", "slurmd")
CLIENTS = ("sbatch", "scontrol", "sinfo", "scancel")
SBIN = ("/usr/sbin", "/sbin", "/usr/local/sbin")


def find_binary(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for folder in SBIN:
        if os.access(Path(folder) / name, os.X_OK):
            return str(Path(folder) / name)
    return None


def missing_binaries() -> list[str]:
    return [name for name in (*DAEMONS, *CLIENTS) if find_binary(name) is None]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class SlurmError(RuntimeError):
    """The cluster did not come up; the message holds the daemons' logs."""


class SlurmCluster:
    """Start with :meth:`start`, stop with :meth:`stop`; clients need :attr:`env`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.conf = root / "slurm.conf"
        self.socket = root / "run" / "munge.sock"
        self.node = "localnode"
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.env = {**os.environ, "SLURM_CONF": str(self.conf)}
        self.env.pop("SLURM_JOB_ID", None)

    def start(self, timeout: float = 60.0) -> None:
        for sub in ("run", "munge", "state", "spool", "log"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        for folder in (self.root, self.root / "run"):
            folder.chmod(0o755)  # munged wants a socket folder everyone can enter
        (self.root / "munge").chmod(0o700)
        key = self.root / "munge" / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o600)
        self._spawn("munged", ["-F", f"--socket={self.socket}", f"--key-file={key}",
                               f"--pid-file={self.root / 'run' / 'munged.pid'}",
                               f"--log-file={self.root / 'log' / 'munged.log'}",
                               f"--seed-file={self.root / 'munge' / 'seed'}"])
        self._wait(lambda: self.socket.exists(), timeout, "munged did not create its socket")
        self.conf.write_text(self._config(), encoding="utf-8")
        self._spawn("slurmctld", ["-D", "-f", str(self.conf)])
        self._wait(self._controller_up, timeout, "slurmctld did not answer scontrol ping")
        self._spawn("slurmd", ["-D", "-f", str(self.conf), "-N", self.node])
        self._wait(self._node_idle, timeout, "slurmd did not register its node as idle")

    def _config(self) -> str:
        host = socket.gethostname().split(".")[0]
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1 << 20)
        cpus = os.cpu_count() or 1
        r = self.root
        return "\n".join([
            "ClusterName=loopgrader-test",
            f"SlurmctldHost={host}(127.0.0.1)",
            f"SlurmctldPort={_free_port()}",
            f"SlurmdPort={_free_port()}",
            "SlurmUser=root", "SlurmdUser=root",
            "AuthType=auth/munge", f"AuthInfo=socket={self.socket}", "CredType=cred/munge",
            f"StateSaveLocation={r / 'state'}", f"SlurmdSpoolDir={r / 'spool'}",
            f"SlurmctldPidFile={r / 'run' / 'slurmctld.pid'}",
            f"SlurmdPidFile={r / 'run' / 'slurmd.pid'}",
            f"SlurmctldLogFile={r / 'log' / 'slurmctld.log'}",
            f"SlurmdLogFile={r / 'log' / 'slurmd.log'}",
            "ProctrackType=proctrack/linuxproc", "TaskPlugin=task/none",
            "JobAcctGatherType=jobacct_gather/none",
            "AccountingStorageType=accounting_storage/none", "JobCompType=jobcomp/none",
            "MpiDefault=none", "SchedulerType=sched/builtin",
            "SelectType=select/cons_tres", "SelectTypeParameters=CR_CPU",
            "ReturnToService=2", "MinJobAge=600", "KillWait=5", "InactiveLimit=0",
            "SlurmctldTimeout=30", "SlurmdTimeout=30",
            f"NodeName={self.node} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory} "
            "State=UNKNOWN",
            "PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP", ""])

    def _spawn(self, name: str, args: list[str]) -> None:
        binary = find_binary(name)
        assert binary is not None, name
        with open(self.root / "log" / f"{name}.out", "wb") as log:  # the child keeps a copy
            self.processes[name] = subprocess.Popen([binary, *args], stdout=log,
                                                    stderr=subprocess.STDOUT, env=self.env,
                                                    stdin=subprocess.DEVNULL)

    def _wait(self, ready: object, timeout: float, problem: str) -> None:
        assert callable(ready)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            dead = [n for n, p in self.processes.items() if p.poll() is not None]
            if dead:
                raise SlurmError(f"{', '.join(dead)} exited: {problem}\n{self.logs()}")
            if ready():
                return
            time.sleep(0.2)
        raise SlurmError(f"{problem} within {timeout:.0f} s\n{self.logs()}")

    def run(self, *command: str, timeout: float = 30.0, check: bool = True
            ) -> subprocess.CompletedProcess[str]:
        """A Slurm client command against this cluster."""
        binary = find_binary(command[0]) or command[0]
        return subprocess.run([binary, *command[1:]], env=self.env, text=True,
                              capture_output=True, timeout=timeout, check=check)

    def _controller_up(self) -> bool:
        result = self.run("scontrol", "ping", check=False)
        return result.returncode == 0 and "UP" in result.stdout

    def _node_idle(self) -> bool:
        result = self.run("sinfo", "-h", "-N", "-o", "%T", check=False)
        return result.returncode == 0 and result.stdout.strip() == "idle"

    def logs(self) -> str:
        parts = []
        for path in sorted((self.root / "log").glob("*")):
            text = path.read_text(errors="replace").splitlines()[-25:]
            parts.append(f"--- {path.name}\n" + "\n".join(text))
        return "\n".join(parts)

    def stop(self) -> None:
        """Cancel every job of this cluster, shut the daemons down, and wait for them."""
        if "slurmctld" in self.processes:
            self.run("scancel", "--user", str(os.getuid()), check=False)
            self.run("scontrol", "shutdown", check=False)
        for name in ("slurmd", "slurmctld", "munged"):
            process = self.processes.get(name)
            if process is None:
                continue
            if name == "munged":
                process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        self.processes.clear()
