"""libchat's processes (two of every service, two gateways) and HAProxy:
started detached (a session of their own, output to logs/NAME.log), their
pids in the state file; a pid counts only while /proc says it still runs
the same program, so a reused pid is never signalled."""
import os
import signal
import subprocess
import time

from .state import SERVICES

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def program(name, bindir):
    if name == "lb":
        return "haproxy"
    if name.startswith("gateway"):
        return os.path.join(bindir, "chat-gateway")
    return os.path.join(bindir, f"chat-{name.rstrip('0123456789')}d")


def is_libchat(name):
    return name == "lb" or name.startswith("gateway") or name.rstrip("0123456789") in SERVICES


def address(state, name):
    port = state.port(name)
    if name.startswith("gateway"):
        return f"http://127.0.0.1:{port}"
    return f"tcp://127.0.0.1:{port}"


def pid_alive(state, name):
    """NAME's pid while it runs, else None."""
    pid = state.data["pids"].get(name)
    if not pid:
        return None
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv0 = f.read().split(b"\0")[0].decode(errors="replace")
        with open(f"/proc/{pid}/stat") as f:
            if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                return None
    except OSError:
        return None
    want = os.path.basename(program(name, ""))
    return pid if os.path.basename(argv0) == want else None


def spawn(state, name, bindir, conf):
    """Starts NAME unless it runs; its pid."""
    pid = pid_alive(state, name)
    if pid:
        return pid
    os.makedirs(state.logs, exist_ok=True)
    env = dict(os.environ)
    if name == "lb":
        gws = [f"127.0.0.1:{state.port(g)}" for g in ("gateway1", "gateway2")]
        env.update(CHAT_LB_BIND=f"127.0.0.1:{state.lb_port()}",
                   CHAT_GATEWAY1=gws[0], CHAT_GATEWAY2=gws[1])
        argv = ["haproxy", "-db", "-f", os.path.join(REPO, "deploy", "haproxy.cfg")]
    else:
        argv = [program(name, bindir), "--config", conf, "--listen", address(state, name)]
    with open(os.path.join(state.logs, f"{name}.log"), "ab") as log:
        log.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(argv)}\n".encode())
        log.flush()
        p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, env=env, start_new_session=True)
    state.data["pids"][name] = p.pid
    state.save()
    return p.pid


def signal_proc(state, name, sig):
    pid = pid_alive(state, name)
    if pid:
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            pass
    return pid


def wait_gone(state, name, timeout):
    deadline = time.monotonic() + timeout
    while pid_alive(state, name) and time.monotonic() < deadline:
        _reap()
        time.sleep(0.05)
    return pid_alive(state, name) is None


def _reap():
    """Our own children (started by this command) would stay zombies."""
    try:
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
    except ChildProcessError:
        pass


def kill(state, name):
    if signal_proc(state, name, signal.SIGKILL):
        wait_gone(state, name, 5)


def stop(state, name, timeout=20):
    """SIGTERM (a service withdraws from discovery and drains), then SIGKILL."""
    if signal_proc(state, name, signal.SIGTERM) and not wait_gone(state, name, timeout):
        kill(state, name)


def stop_all(state, names, timeout=20):
    """SIGTERM to all at once (each drains in parallel), SIGKILL to any
    still running after timeout."""
    running = [n for n in names if signal_proc(state, n, signal.SIGTERM)]
    deadline = time.monotonic() + timeout
    for n in running:
        if not wait_gone(state, n, max(0.1, deadline - time.monotonic())):
            kill(state, n)
