"""chatd over HTTPS and WSS (nng's mbedtls engine) with a certificate made here."""

import http.client
import json
import os
import shutil
import signal
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
import websocket

from conftest import PASSWORD, _die_with_parent, chatd_path, free_port, unique


@pytest.fixture
def tls_server():
    d = tempfile.mkdtemp(prefix="libchat-e2e-tls-")
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", key, "-out", cert],
                   check=True, capture_output=True)
    port = free_port()
    base = f"https://127.0.0.1:{port}"
    log = open(os.path.join(d, "chatd.log"), "wb")
    proc = subprocess.Popen([chatd_path(), "--data", os.path.join(d, "data"), "--listen", base,
                             "--tls-cert", cert, "--tls-key", key,
                             "--set", "argon2.m_cost_kib=64", "--set", "argon2.t_cost=1"],
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            preexec_fn=_die_with_parent)
    ctx = ssl.create_default_context(cafile=cert)
    deadline = time.monotonic() + 15
    while True:
        try:
            with urllib.request.urlopen(base + "/health", context=ctx, timeout=2) as r:
                if json.load(r) == {"ok": True}:
                    break
        except (OSError, http.client.HTTPException):  # not up yet, or a cut close
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("chatd did not serve HTTPS: " + open(log.name).read())
            time.sleep(0.05)
    yield base, ctx, cert, port
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
    log.close()
    shutil.rmtree(d, ignore_errors=True)


def call(base, ctx, method, token=None, **args):
    # One persistent connection, as browsers and SDK sessions use: nng 1.5.2's
    # TLS server can drop the body of a response to a "Connection: close"
    # request (README, known issues), which urllib always sends.
    u = urllib.parse.urlsplit(base)
    conn = getattr(call, "conn", None)
    if conn is None or getattr(call, "base", None) != base:
        conn = call.conn = http.client.HTTPSConnection(u.hostname, u.port, context=ctx,
                                                       timeout=10)
        call.base = base
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = "Bearer " + token
    conn.request("POST", f"/api/{method}", body=json.dumps(args), headers=headers)
    r = conn.getresponse()
    return json.loads(r.read())


def test_https_and_wss(tls_server):
    base, ctx, cert, port = tls_server
    j = call(base, ctx, "auth.signup", email=f"{unique('tls')}@example.com", password=PASSWORD)
    assert j["ok"] is True
    token = j["token"]
    assert call(base, ctx, "auth.test", token)["user_id"] == j["user_id"]
    url = call(base, ctx, "rtm.connect", token)["url"]
    assert url.startswith(f"wss://127.0.0.1:{port}/rtm?token=")
    ws = websocket.create_connection(url, sslopt={"ca_certs": cert}, timeout=10)
    try:
        assert json.loads(ws.recv())["type"] == "hello"
        c = call(base, ctx, "conversations.create", token, name=unique("tls"))["channel"]["id"]
        call(base, ctx, "chat.postMessage", token, channel=c, text="over TLS")
        for _ in range(20):
            ev = json.loads(ws.recv())
            if ev.get("type") == "message":
                assert ev["text"] == "over TLS" and ev["channel"] == c
                break
        else:
            pytest.fail("no message event over WSS")
    finally:
        ws.close()
    # The certificate is really checked: an unrelated CA is refused.
    with pytest.raises(urllib.error.URLError) as e:
        urllib.request.urlopen(base + "/health", context=ssl.create_default_context(),
                               timeout=5)
    assert isinstance(e.value.reason, ssl.SSLCertVerificationError)
