"""Per-token rate limits: a token bucket of `burst` requests refilled at
`per_sec`; past it HTTP 429, Retry-After and {"ok":false,"error":"ratelimited"}."""
import time

import pytest

from conftest import PASSWORD

RATE, BURST = 5, 5


@pytest.fixture
def limited(make_server):
    return make_server("--set", f"ratelimit.per_sec={RATE}", "--set", f"ratelimit.burst={BURST}",
                       name="ratelimit")


def burst(api, n, method="auth.test", via="form"):
    """n requests as fast as they go; (responses, seconds taken)."""
    t0 = time.monotonic()
    out = [api.request(method, via=via) for _ in range(n)]
    return out, time.monotonic() - t0


def check_limited(r):
    assert r.status == 429, r
    assert r.json == {"ok": False, "error": "ratelimited",
                      "detail": "too many requests for this token"}, r
    # the bucket refills at 5/s, so one request is at most 1/5 s away: 1 s
    assert r.headers.get("Retry-After") == "1", r.headers


def refused(rs):
    """The refused ones of a burst, each checked to be a proper 429."""
    assert all(r.ok for r in rs if r.status == 200), rs
    out = [r for r in rs if r.status != 200]
    for r in out:
        check_limited(r)
    return out


def test_burst_gets_429_then_recovers(limited):
    a = limited.signup("rl")
    rs, took = burst(a, 20)
    # the first BURST always pass: the bucket starts full
    assert [r.status for r in rs[:BURST]] == [200] * BURST, rs[:BURST]
    no = refused(rs)
    assert no, (rs, took)
    # ... and afterwards only what refilled meanwhile
    assert len(rs) - len(no) <= BURST + int(took * RATE) + 1, (len(no), took)
    # every method and every encoding draws on the same bucket
    for via in ("get", "json"):
        rs, _ = burst(a, 8, method="users.list", via=via)
        assert refused(rs), rs

    # after Retry-After the bucket has refilled: the full burst passes again
    # (a sleep on purpose: the point is the time the server asked us to wait)
    time.sleep(int(no[-1].headers["Retry-After"]) + 0.2)
    rs, _ = burst(a, BURST)
    assert [r.status for r in rs] == [200] * BURST, rs
    assert all(r.json["user_id"] == a.user_id for r in rs)
    # ... and is spent again
    rs, _ = burst(a, 10)
    assert refused(rs), rs


def test_limits_are_per_token(limited):
    a = limited.signup("rla")
    b = limited.signup("rlb")
    rs, _ = burst(a, BURST + 10)
    assert refused(rs), rs
    # b is untouched by a's burst
    rs, _ = burst(b, BURST)
    assert [r.status for r in rs] == [200] * BURST, rs
    # a second token of the same user has its own bucket
    a2 = limited.api(limited.api().ok("auth.login", email=a.email, password=PASSWORD)["token"])
    assert a2.request("auth.test").status == 200


def test_unauthenticated_calls_are_not_metered_by_token(limited):
    # api.test needs no token: nothing to meter it by
    anon = limited.api()
    rs, _ = burst(anon, BURST * 3, method="api.test")
    assert [r.status for r in rs] == [200] * (BURST * 3), rs
    # bad tokens are refused as such, not counted
    bad = limited.api("not.a.token")
    for _ in range(BURST + 3):
        r = bad.request("auth.test")
        assert (r.status, r.error) == (200, "invalid_auth"), r


def test_default_limits_allow_normal_traffic(make_server):
    srv = make_server(name="ratelimit-default")
    a = srv.signup("rld")
    # 300 requests back to back stay within the default burst of 400
    rs, _ = burst(a, 300)
    assert [r.status for r in rs] == [200] * 300
