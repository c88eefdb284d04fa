"""Runs one SDK test against the distributed deployment: starts chat-authd,
chat-userd, chat-channeld, chat-messaged, chat-presenced and chat-gateway
(tests/e2e/conftest.py's Distributed, beside $CHATD), hands the gateway's URL
to the test in CHAT_SDK_BASE (its log in CHAT_SDK_LOG), and stops them after:
the test fails when it fails, or when a server died or did not exit 0.

Usage: CHATD=/path/to/chatd python tests/sdk/distributed.py -- <command...>
"""
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "e2e"))
import conftest as e2e  # noqa: E402

# What the SDK tests' own chatd gets: cheap signups, no rate limits, and
# Events API retries a second apart.
ARGS = ["--set", "argon2.m_cost_kib=64", "--set", "argon2.t_cost=1",
        "--set", "ratelimit.per_sec=1000000", "--set", "ratelimit.burst=1000000",
        "--set", "gateway.app_retry_ms=1000"]


def main(argv):
    if "--" not in argv or argv.index("--") == len(argv) - 1:
        sys.exit(__doc__)
    cmd = argv[argv.index("--") + 1:]
    srv = e2e.Distributed(ARGS, name="sdk").start()
    try:
        env = dict(os.environ, CHAT_SDK_BASE=srv.base, CHAT_SDK_LOG=srv.log_path)
        rc = subprocess.call(cmd, env=env)
    finally:
        alive = srv.alive()
        code = srv.stop()
        tail = srv.log_tail()
        shutil.rmtree(srv.data_dir, ignore_errors=True)
    if not alive or code != 0:
        print(f"the distributed servers {'exited' if alive else 'died'} with {code}:\n{tail}",
              file=sys.stderr)
        return 1
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv))
