"""Files through the Slack Web API: the v2 flow that slack_sdk's
files_upload_v2 and @slack/web-api's uploadV2 use (files.getUploadURLExternal,
the bytes POSTed to upload_url raw or as a form, files.completeUploadExternal),
the older multipart files.upload, files.info/list/delete, and authorised
downloads of url_private."""
import hashlib
import hmac
import json
import os
import time
import urllib.parse
import uuid

import pytest

from conftest import b64url, http_request as http, unique

# Bytes that trip naive parsers: NUL, CR/LF, and lines that look like boundaries.
BINARY = bytes(range(256)) + b"\r\n--\r\n--not-a-boundary\r\n\r\n" + os.urandom(3000)


def multipart(fields=(), files=(), boundary=None):
    """A multipart/form-data body: fields are (name, text), files are
    (name, filename, content_type, bytes). Returns (body, content_type)."""
    boundary = boundary or "----libchat" + uuid.uuid4().hex
    b = boundary.encode()
    out = []
    for name, value in fields:
        out.append(b"--" + b + b"\r\nContent-Disposition: form-data; name=\"" + name.encode()
                   + b"\"\r\n\r\n" + value.encode() + b"\r\n")
    for name, filename, ctype, data in files:
        head = f'Content-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
        if ctype:
            head += f"Content-Type: {ctype}\r\n"
        out.append(b"--" + b + b"\r\n" + head.encode() + b"\r\n" + data + b"\r\n")
    out.append(b"--" + b + b"--\r\n")
    return b"".join(out), "multipart/form-data; boundary=" + boundary


def channel(api, private=False):
    return api.ok("conversations.create", name=unique("files"), is_private=private)["channel"]["id"]


def get_upload_url(api, filename, length, **kw):
    j = api.ok("files.getUploadURLExternal", filename=filename, length=length, **kw)
    assert j["file_id"].startswith("F"), j
    assert j["upload_url"].startswith(api.base + "/upload/" + j["file_id"] + "?"), j
    return j["upload_url"], j["file_id"]


def post_bytes(url, data, content_type="application/octet-stream"):
    """POSTs to an upload_url the way the SDKs do: no API token."""
    return http(url, data, {"Content-Type": content_type}, "POST")


def download(url, token=None, via="header"):
    headers = {}
    if token and via == "header":
        headers["Authorization"] = "Bearer " + token
    elif token:
        url += ("&" if "?" in url else "?") + "token=" + urllib.parse.quote(token)
    return http(url, headers=headers, verb="GET")


def assert_not_found(r):
    assert r.status == 404, r
    assert r.json == {"ok": False, "error": "file_not_found"}, r


def v2_upload(api, data, filename="notes.txt", **complete):
    url, fid = get_upload_url(api, filename, len(data))
    r = post_bytes(url, data)
    assert r.status == 200 and r.raw == f"OK - {len(data)}".encode(), r
    j = api.ok("files.completeUploadExternal",
               files=json.dumps([{"id": fid, "title": complete.pop("title", filename)}]),
               **complete)
    return j["files"][0]


# ------------------------------------------------------------- the v2 flow ---


def test_v2_flow_shares_into_a_channel_and_downloads(server, alice, bob, carol):
    chan = channel(alice, private=True)
    alice.ok("conversations.invite", channel=chan, users=bob.user_id)
    data = b"meeting notes\nline two\n"

    url, fid = get_upload_url(alice, "notes.txt", len(data))
    r = post_bytes(url, data)
    assert r.status == 200, r
    assert r.raw == f"OK - {len(data)}".encode()

    j = alice.ok("files.completeUploadExternal",
                 files=json.dumps([{"id": fid, "title": "Notes"}]),
                 channel_id=chan, initial_comment="minutes attached")
    assert len(j["files"]) == 1
    f = j["files"][0]
    assert f["id"] == fid
    assert f["name"] == "notes.txt"
    assert f["title"] == "Notes"
    assert bob.ok("files.info", file=fid)["file"]["title"] == "Notes"
    assert f["mimetype"] == "text/plain"
    assert f["filetype"] == "text"
    assert f["size"] == len(data)
    assert f["user"] == alice.user_id
    assert f["channels"] == [chan]
    assert f["sha256"] == hashlib.sha256(data).hexdigest()
    assert f["url_private"] == f"{server.base}/files/{fid}/notes.txt"
    assert f["url_private_download"] == f["url_private"] + "?download=1"
    assert f["permalink"]

    # The share is a message in the channel carrying the file.
    hist = bob.ok("conversations.history", channel=chan)["messages"]
    assert hist[0]["text"] == "minutes attached"
    assert hist[0]["user"] == alice.user_id
    assert [x["id"] for x in hist[0]["files"]] == [fid]

    # Members download with the token in the header or the query.
    for who in (alice, bob):
        for via in ("header", "query"):
            r = download(f["url_private"], who.token, via)
            assert r.status == 200, r
            assert r.raw == data
            assert r.headers["Content-Type"] == "text/plain"
            assert r.headers["Content-Length"] == str(len(data))
            assert r.headers["Content-Disposition"].startswith('inline; filename="notes.txt"')
            assert r.headers["X-Content-Type-Options"] == "nosniff"
    r = download(f["url_private_download"], bob.token)
    assert r.status == 200 and r.raw == data
    assert r.headers["Content-Disposition"].startswith('attachment; filename="notes.txt"')

    # Anyone else learns nothing, not even that the file exists.
    assert_not_found(download(f["url_private"]))
    assert_not_found(download(f["url_private"], carol.token))
    assert_not_found(download(f["url_private"], carol.token, "query"))
    assert_not_found(download(f["url_private"], "not-a-token"))
    assert_not_found(download(f"{server.base}/files/FNOSUCHFILE/x.txt", alice.token))
    carol.fail("files.info", "file_not_found", file=fid)


def test_v2_upload_as_multipart_form(server, alice):
    """Older slack_sdk versions POST the bytes as a form with a "file" part."""
    chan = channel(alice)
    url, fid = get_upload_url(alice, "blob.bin", len(BINARY))
    body, ctype = multipart(files=[("file", "blob.bin", "application/octet-stream", BINARY)])
    r = post_bytes(url, body, ctype)
    assert r.status == 200 and r.raw == f"OK - {len(BINARY)}".encode(), r
    # channels as Slack's comma-separated list; files as a JSON array (JSON body).
    j = alice.ok("files.completeUploadExternal", via="json",
                 files=[{"id": fid}], channels=chan)
    assert j["files"][0]["channels"] == [chan]
    assert j["files"][0]["sha256"] == hashlib.sha256(BINARY).hexdigest()
    r = download(j["files"][0]["url_private"], alice.token)
    assert r.status == 200 and r.raw == BINARY
    assert r.headers["Content-Type"] == "application/octet-stream"


def test_v2_without_channel_stays_private(server, alice, bob):
    f = v2_upload(alice, b"private bytes", "mine.txt")
    assert f["channels"] == []
    assert download(f["url_private"], alice.token).raw == b"private bytes"
    assert_not_found(download(f["url_private"], bob.token))
    bob.fail("files.info", "file_not_found", file=f["id"])


def test_v2_empty_file(server, alice):
    f = v2_upload(alice, b"", "empty.txt")
    assert f["size"] == 0
    assert f["sha256"] == hashlib.sha256(b"").hexdigest()
    r = download(f["url_private"], alice.token)
    assert r.status == 200 and r.raw == b"" and r.headers["Content-Length"] == "0", r


def test_v2_several_files_and_a_thread(server, alice, bob):
    chan = channel(alice)
    bob.ok("conversations.join", channel=chan)
    parent = alice.post(chan, "thread root")["ts"]
    ids = []
    for i in range(2):
        url, fid = get_upload_url(alice, f"part{i}.txt", 5)
        assert post_bytes(url, f"part{i}".encode()).status == 200
        ids.append(fid)
    j = alice.ok("files.completeUploadExternal",
                 files=json.dumps([{"id": x} for x in ids]),
                 channel_id=chan, thread_ts=parent, initial_comment="two parts")
    assert [f["id"] for f in j["files"]] == ids
    replies = bob.ok("conversations.replies", channel=chan, ts=parent)["messages"]
    carried = [f["id"] for m in replies[1:] for f in m.get("files", [])]
    assert sorted(carried) == sorted(ids)
    assert replies[1]["text"] == "two parts"


def test_complete_requires_the_uploaders_finished_file(server, alice, bob):
    chan = channel(alice)
    url, fid = get_upload_url(alice, "later.txt", 4)
    # Not uploaded yet: nothing to share, and not listed.
    alice.fail("files.completeUploadExternal", "file_not_found",
               files=json.dumps([{"id": fid}]), channel_id=chan)
    assert fid not in [f["id"] for f in alice.ok("files.list")["files"]]
    assert alice.ok("files.info", file=fid)["file"]["id"] == fid  # the uploader sees it
    assert post_bytes(url, b"done").status == 200
    # Only the uploader completes.
    bob.fail("files.completeUploadExternal", "file_not_found",
             files=json.dumps([{"id": fid}]), channel_id=chan)
    alice.fail("files.completeUploadExternal", "invalid_arguments", files="[]")
    alice.ok("files.completeUploadExternal", files=json.dumps([{"id": fid}]), channel_id=chan)


# ------------------------------------------------------------- tickets ---


def ticket_parts(url):
    q = urllib.parse.parse_qs(urllib.parse.urlparse(url).query)
    return q["ticket"][0].split(".")


def test_upload_url_tickets(server, alice, bob):
    data = b"0123456789"
    url, fid = get_upload_url(alice, "t.bin", len(data))
    base = url.split("?")[0]
    exp, user, team, mac = ticket_parts(url)
    assert user == alice.user_id and team == alice.team_id
    assert int(exp) - time.time() == pytest.approx(900, abs=60)

    def refused(u, status, error, body=data):
        r = post_bytes(u, body)
        assert r.status == status, r
        assert r.json["ok"] is False and r.json["error"] == error, r

    forged = mac[:-2] + ("AA" if mac[-2:] != "AA" else "BB")
    refused(base, 403, "invalid_auth")
    refused(f"{base}?ticket=", 403, "invalid_auth")
    refused(f"{base}?ticket=garbage", 403, "invalid_auth")
    refused(f"{base}?ticket={exp}.{user}.{team}.{forged}", 403, "invalid_auth")
    refused(f"{base}?ticket={int(exp) + 3600}.{user}.{team}.{mac}", 403, "invalid_auth")
    refused(f"{base}?ticket={exp}.{bob.user_id}.{team}.{mac}", 403, "invalid_auth")
    # The ticket is for this file only.
    url2, fid2 = get_upload_url(alice, "u.bin", len(data))
    refused(url2.replace(fid2, fid), 403, "invalid_auth")
    refused(url.replace(fid, "FNOSUCHFILE"), 403, "invalid_auth")
    refused(f"{server.base}/upload/not-an-id?ticket=x", 404, "file_not_found")

    # An expired ticket with a good signature (the server's key is in its data dir).
    with open(os.path.join(server.data_dir, "jwt.key"), "rb") as fh:
        key = fh.read()

    def signed(expiry):
        m = hmac.new(key, f"ticket|{fid}|{user}|{team}|{expiry}".encode(), hashlib.sha256).digest()
        return f"{base}?ticket={expiry}.{user}.{team}.{b64url(m)}"

    assert signed(exp) == url  # the format is what this test thinks it is
    refused(signed(int(time.time()) - 5), 403, "token_expired")

    # The length must be the announced one; the bytes go up once.
    refused(url, 400, "invalid_arguments", body=data[:-1])
    refused(url, 400, "invalid_arguments", body=data + b"!")
    assert post_bytes(signed(int(time.time()) + 60), data).status == 200
    refused(url, 400, "invalid_arguments")
    assert alice.ok("files.info", file=fid)["file"]["size"] == len(data)

    # A form without a file part is refused, as is a malformed one.
    body, ctype = multipart(fields=[("note", "no file here")])
    r = post_bytes(url2, body, ctype)
    assert r.status == 400 and r.json["error"] == "invalid_form_data", r
    r = post_bytes(url2, body[:-10], ctype)
    assert r.status == 400 and r.json["error"] == "invalid_form_data", r
    # A deleted pending file takes no bytes.
    alice.ok("files.delete", file=fid2)
    r = post_bytes(url2, data)
    assert r.status == 404 and r.json["error"] == "file_deleted", r


def test_size_limits(make_server):
    srv = make_server("--set", "files.max_bytes=1000", name="small")
    a = srv.signup("limits")
    a.fail("files.getUploadURLExternal", "file_too_large", filename="big.bin", length=1001)
    url, fid = get_upload_url(a, "edge.bin", 1000)
    r = post_bytes(url, b"x" * 1001)
    assert r.status == 413, r
    assert r.json["ok"] is False and r.json["error"] == "file_too_large", r
    r = post_bytes(url, b"x" * 1000)
    assert r.status == 200 and r.raw == b"OK - 1000", r
    # The one-step upload has the same limit.
    body, ctype = multipart(files=[("file", "big.bin", None, b"y" * 1001)])
    r = http(f"{srv.base}/api/files.upload", body,
             {"Content-Type": ctype, "Authorization": "Bearer " + a.token}, "POST")
    assert r.status == 200 and r.json["error"] == "file_too_large", r
    a.fail("files.getUploadURLExternal", "invalid_arguments", filename="neg.bin", length=-1)


# ---------------------------------------------------------- files.upload ---


def upload_form(api, fields=(), files=(), token_in_form=False):
    body, ctype = multipart(list(fields) + ([("token", api.token)] if token_in_form else []),
                            files)
    headers = {"Content-Type": ctype}
    if not token_in_form:
        headers["Authorization"] = "Bearer " + api.token
    return http(f"{api.base}/api/files.upload", body, headers, "POST")


def test_files_upload_multipart(server, alice, bob):
    chan = channel(alice)
    bob.ok("conversations.join", channel=chan)
    r = upload_form(alice,
                    fields=[("channels", chan), ("title", "Quarterly"),
                            ("initial_comment", "numbers inside")],
                    files=[("file", "q3.pdf", "application/pdf", BINARY)])
    assert r.status == 200 and r.ok, r
    f = r.json["file"]
    assert f["name"] == "q3.pdf"
    assert f["title"] == "Quarterly"
    assert f["mimetype"] == "application/pdf"
    assert f["filetype"] == "pdf"
    assert f["size"] == len(BINARY)
    assert f["channels"] == [chan]
    hist = bob.ok("conversations.history", channel=chan)["messages"]
    assert hist[0]["text"] == "numbers inside"
    assert [x["id"] for x in hist[0]["files"]] == [f["id"]]
    d = download(f["url_private"], bob.token)
    assert d.status == 200 and d.raw == BINARY
    assert d.headers["Content-Type"] == "application/pdf"

    # The token may come in the form; filename may be given as a field; a
    # part's Content-Type parameters are dropped.
    r = upload_form(alice, fields=[("filename", "renamed.txt")],
                    files=[("file", "orig.txt", "text/plain; charset=utf-8", b"hi")],
                    token_in_form=True)
    assert r.ok, r
    assert r.json["file"]["name"] == "renamed.txt"
    assert r.json["file"]["mimetype"] == "text/plain"
    assert r.json["file"]["channels"] == []

    # Text content instead of a file part, multipart or plain form.
    r = upload_form(alice, fields=[("content", "snippet text"), ("filename", "s.txt"),
                                   ("channels", chan)])
    assert r.ok, r
    assert download(r.json["file"]["url_private"], alice.token).raw == b"snippet text"
    j = alice.ok("files.upload", content="form snippet", filename="f.txt", channels=chan)
    assert download(j["file"]["url_private"], bob.token).raw == b"form snippet"

    # Into a thread.
    parent = alice.post(chan, "root")["ts"]
    r = upload_form(alice, fields=[("channels", chan), ("thread_ts", parent)],
                    files=[("file", "t.txt", "text/plain", b"threaded")])
    assert r.ok, r
    replies = bob.ok("conversations.replies", channel=chan, ts=parent)["messages"]
    assert [x["id"] for x in replies[-1]["files"]] == [r.json["file"]["id"]]

    # Errors: no token, a channel the caller cannot post in, a broken form.
    body, ctype = multipart(files=[("file", "x.txt", None, b"x")])
    r = http(f"{server.base}/api/files.upload", body, {"Content-Type": ctype}, "POST")
    assert r.json["ok"] is False and r.json["error"] == "not_authed", r
    r = upload_form(alice, fields=[("channels", "CNOSUCHCHAN")],
                    files=[("file", "x.txt", None, b"x")])
    assert r.json["ok"] is False and r.json["error"] == "channel_not_found", r
    r = http(f"{server.base}/api/files.upload", body[:-8],
             {"Content-Type": ctype, "Authorization": "Bearer " + alice.token}, "POST")
    assert r.json["ok"] is False and r.json["error"] == "invalid_form_data", r


# --------------------------------------------------- info, list, delete ---


def test_info_list_delete(server, alice, bob):
    chan = channel(alice)
    bob.ok("conversations.join", channel=chan)
    ids = [v2_upload(alice, f"file {i}".encode(), f"f{i}.txt", channel_id=chan)["id"]
           for i in range(3)]
    mine = v2_upload(bob, b"bob's", "bob.txt")["id"]

    info = bob.ok("files.info", file=ids[0])["file"]
    assert info["id"] == ids[0] and info["channels"] == [chan] and info["size"] == 6

    # Newest first; filters by channel and user.
    listed = [f["id"] for f in alice.ok("files.list", channel=chan)["files"]]
    assert listed == ids[::-1]
    assert [f["id"] for f in bob.ok("files.list", user=bob.user_id)["files"]] == [mine]
    assert mine not in [f["id"] for f in alice.ok("files.list")["files"]]

    # Slack's count/page paging.
    p1 = alice.ok("files.list", channel=chan, count=2, page=1)
    assert [f["id"] for f in p1["files"]] == ids[:0:-1]
    assert p1["paging"]["page"] == 1 and p1["paging"]["count"] == 2
    assert p1["paging"]["pages"] == 2
    p2 = alice.ok("files.list", channel=chan, count=2, page=2)
    assert [f["id"] for f in p2["files"]] == ids[:1]
    assert p2["paging"]["pages"] == 2
    # Cursor paging.
    c1 = alice.ok("files.list", channel=chan, limit=2)
    cursor = c1["response_metadata"]["next_cursor"]
    assert cursor
    c2 = alice.ok("files.list", channel=chan, limit=2, cursor=cursor)
    assert [f["id"] for f in c1["files"] + c2["files"]] == ids[::-1]
    assert c2["response_metadata"]["next_cursor"] == ""

    # Only the uploader deletes; a deleted file is gone everywhere.
    bob.fail("files.delete", "cant_delete_file", file=ids[0])
    alice.ok("files.delete", file=ids[0])
    alice.fail("files.info", "file_deleted", file=ids[0])
    alice.fail("files.delete", "file_deleted", file=ids[0])
    assert_not_found(download(info["url_private"], alice.token))
    assert ids[0] not in [f["id"] for f in alice.ok("files.list", channel=chan)["files"]]
    alice.fail("files.delete", "file_not_found", file="FNOSUCHFILE")


def test_internal_methods_are_not_routed(server, alice):
    for method in ("files.uploadBytes", "files.download"):
        r = alice.request(method, file="F123")
        assert r.status == 200 and r.error == "unknown_method", r


# ------------------------------------------------------- multipart edges ---


def raw_upload(api, body, ctype):
    return http(f"{api.base}/api/files.upload", body,
                {"Content-Type": ctype, "Authorization": "Bearer " + api.token}, "POST")


def test_multipart_forms_that_parse(server, alice):
    cases = [
        # A quoted boundary, a preamble and an epilogue (RFC 2046 ignores both).
        (b"preamble\r\n--a b'c\r\nContent-Disposition: form-data; name=\"file\"; "
         b"filename=\"q.txt\"\r\n\r\nquoted\r\n--a b'c--\r\nepilogue",
         'multipart/form-data; boundary="a b\'c"', "q.txt", b"quoted"),
        # Transport padding after the boundary; case-insensitive header names.
        (b"--XYZ  \r\ncontent-disposition: form-data; name=\"file\"; filename=\"p.txt\"\r\n"
         b"CONTENT-TYPE: text/plain\r\n\r\npadded\r\n--XYZ--",
         "Multipart/Form-Data; charset=utf-8; boundary=XYZ", "p.txt", b"padded"),
        # RFC 5987 filename* wins over filename.
        (b"--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"fallback.txt\"; "
         b"filename*=UTF-8''r%C3%A9sum%C3%A9.txt\r\n\r\nutf8\r\n--B--\r\n",
         "multipart/form-data; boundary=B", "résumé.txt", b"utf8"),
        # An empty file part; a field part without a filename named "file".
        (b"--B\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n\r\n--B--\r\n",
         "multipart/form-data; boundary=B", "untitled", b""),
    ]
    for body, ctype, name, data in cases:
        r = raw_upload(alice, body, ctype)
        assert r.ok, (ctype, r)
        assert r.json["file"]["name"] == name, r
        assert r.json["file"]["size"] == len(data), r
        d = download(r.json["file"]["url_private"], alice.token)
        assert d.status == 200 and d.raw == data, d


def test_multipart_forms_that_do_not(server, alice):
    ok_part = b"Content-Disposition: form-data; name=\"file\"; filename=\"x\"\r\n\r\nx\r\n"
    many = b"".join(b"--B\r\nContent-Disposition: form-data; name=\"f%d\"\r\n\r\nv\r\n" % i
                    for i in range(65)) + b"--B--\r\n"
    cases = [
        (b"--B\r\n" + ok_part, "multipart/form-data; boundary=B"),            # no close
        (b"--B\n" + ok_part.replace(b"\r\n", b"\n") + b"--B--\n",
         "multipart/form-data; boundary=B"),                                   # LF only
        (b"--B--\r\n", "multipart/form-data; boundary=B"),                     # no parts
        (b"--B\r\n" + ok_part + b"--B--", "multipart/form-data"),              # no boundary
        (b"--B\r\n" + ok_part + b"--B--", "multipart/form-data; boundary=" + "b" * 71),
        (b"--B\r\n" + ok_part + b"--B--", "multipart/form-data; boundary=\"B"),
        (b"--B\r\nContent-Type: text/plain\r\n\r\nx\r\n--B--", "multipart/form-data; boundary=B"),
        (b"--B\r\nContent-Disposition: attachment; name=\"file\"\r\n\r\nx\r\n--B--",
         "multipart/form-data; boundary=B"),
        (b"--B\r\nContent-Disposition: form-data; name=\"a\"; name=\"b\"\r\n\r\nx\r\n--B--",
         "multipart/form-data; boundary=B"),
        (b"--B\r\nContent-Disposition: form-data;\r\n name=\"file\"\r\n\r\nx\r\n--B--",
         "multipart/form-data; boundary=B"),                                   # folded
        (b"--B\r\nContent-Disposition: form-data; name=\"file\"\r\n" + b"X-Pad: "
         + b"p" * 9000 + b"\r\n\r\nx\r\n--B--", "multipart/form-data; boundary=B"),
        (many, "multipart/form-data; boundary=B"),                             # > 64 parts
        (b"--B\r\n" + ok_part + b"--Bogus--", "multipart/form-data; boundary=B"),
    ]
    for body, ctype in cases:
        r = raw_upload(alice, body, ctype)
        assert r.status == 200 and r.json["ok"] is False, (body[:80], r)
        assert r.json["error"] == "invalid_form_data", (body[:80], r)


def test_unicode_names_download(server, alice):
    name = "résumé 東京 \"q\".txt"
    f = v2_upload(alice, b"unicode", name)
    assert f["name"] == name
    assert f["url_private"].endswith("/r%C3%A9sum%C3%A9%20%E6%9D%B1%E4%BA%AC%20%22q%22.txt")
    r = download(f["url_private"], alice.token)
    assert r.status == 200 and r.raw == b"unicode", r
    cd = r.headers["Content-Disposition"]
    assert cd.startswith('inline; filename="')
    assert "filename*=UTF-8''r%C3%A9sum%C3%A9%20%E6%9D%B1%E4%BA%AC%20%22q%22.txt" in cd
    assert '"q"' not in cd.split(";")[1]


def test_active_content_is_an_attachment(server, alice):
    page = b"<script>alert(document.cookie)</script>"
    f = v2_upload(alice, page, "page.html")
    assert f["mimetype"] == "text/html"
    r = download(f["url_private"], alice.token)
    assert r.status == 200 and r.raw == page
    assert r.headers["Content-Disposition"].startswith("attachment;")
    assert "sandbox" in r.headers["Content-Security-Policy"]


def test_search_files_and_all(server, alice, bob):
    """search.files finds the files a caller can see by name or title;
    search.all answers messages and files together."""
    chan = channel(alice, private=True)
    word = unique("quarterly")
    mine = v2_upload(alice, b"q3", f"{word}-report.pdf", channel_id=chan)
    v2_upload(alice, b"x", "holiday.png", channel_id=chan)
    titled = v2_upload(alice, b"t", "t.txt", channel_id=chan, title=f"Budget {word.upper()}")
    alice.post(chan, f"the {word} numbers are in")
    j = alice.ok("search.files", query=word)
    assert j["query"] == word and j["files"]["total"] == 2, j
    assert [f["id"] for f in j["files"]["matches"]] == [titled["id"], mine["id"]], j
    assert j["files"]["paging"] == {"count": 20, "total": 2, "page": 1, "pages": 1}, j
    assert alice.ok("search.files", query=f"{word} report")["files"]["total"] == 1
    page2 = alice.ok("search.files", query=word, count=1, page=2)["files"]
    assert [f["id"] for f in page2["matches"]] == [mine["id"]] and page2["paging"]["pages"] == 2
    # bob is not in the private channel: nothing
    assert bob.ok("search.files", query=word)["files"]["total"] == 0
    alice.fail("search.files", "no_query", query="  ")
    both = alice.ok("search.all", query=word)
    assert both["files"]["total"] == 2, both
    assert [m["text"] for m in both["messages"]["matches"]] == [f"the {word} numbers are in"]
