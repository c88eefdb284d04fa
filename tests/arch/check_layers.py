#!/usr/bin/env python3
"""Fails when a source file includes across a forbidden layer boundary.

The layers and what each may include are docs/architecture.md's picture, as a
table (LAYERS below). Every #include "..." of every .c/.h under libchat/ and
servers/ is resolved to the layer of the file it names, and every #include
<chat/...> to a public header; an include a layer may not make is reported
with its file and line, and the script exits 1.

usage: check_layers.py [SOURCE_ROOT]      (default: the checkout it lives in)
       check_layers.py --self-test         (the checker finds what it should)
"""
import os
import re
import sys
import tempfile

# Layer -> layers it may include (itself always). Order: top to bottom.
LAYERS = {
    "servers": {"public"},                        # thin mains: public headers only
    "edge": {"api", "domain", "backends", "core"},
    "gateway": {"api", "proto", "core", "public"},
    "api": {"domain", "rpc", "proto", "auth", "core", "public"},
    "domain": {"proto", "auth", "core", "public"},
    "backends": {"core", "public"},
    "rpc": {"core", "public"},                    # the transport knows nothing of chat
    "proto": {"core", "public"},
    "auth": {"core", "public"},
    "core": {"public"},
    "public": set(),
}

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')
# protoc-c output lands in the build tree under these names: the proto layer.
GENERATED = re.compile(r'^[a-z_]+\.pb-c\.h$')


def layer_of(root, path):
    rel = os.path.relpath(path, root).replace(os.sep, "/")
    parts = rel.split("/")
    if parts[0] == "servers":
        return "servers"
    if parts[0] == "include" or rel.startswith("libchat/gateway/include/"):
        return "public"
    if parts[0] == "libchat" and len(parts) > 2:
        return parts[1]
    return None


def resolve(root, src, quote, name):
    """The layer an include names, or None for a system header."""
    if quote == "<":
        if name.startswith("chat/"):
            for base in ("include", "libchat/gateway/include"):
                if os.path.exists(os.path.join(root, base, name)):
                    return "public"
            return "unknown public header"
        return None
    if GENERATED.match(name):
        return "proto"
    here = os.path.join(os.path.dirname(src), name)
    if os.path.exists(here):            # beside the file (or servers/common via -I)
        return layer_of(root, here)
    for base in ("libchat", "servers/common"):
        p = os.path.join(root, base, name)
        if os.path.exists(p):
            return layer_of(root, p)
    return "unresolved"


def check(root):
    bad = []
    checked = 0
    for top in ("libchat", "servers", "include"):
        for d, _, files in os.walk(os.path.join(root, top)):
            for f in files:
                if not f.endswith((".c", ".h")):
                    continue
                src = os.path.join(d, f)
                me = layer_of(root, src)
                if me not in LAYERS:
                    bad.append(f"{src}: in no layer (add it to LAYERS and docs/architecture.md)")
                    continue
                with open(src, encoding="utf-8", errors="replace") as fh:
                    for n, line in enumerate(fh, 1):
                        m = INCLUDE.match(line)
                        if not m:
                            continue
                        checked += 1
                        to = resolve(root, src, m.group(1), m.group(2))
                        if to is None or to == me:
                            continue
                        if me == "servers" and to == "servers":
                            continue
                        if to not in LAYERS[me]:
                            rel = os.path.relpath(src, root)
                            bad.append(f"{rel}:{n}: {me} may not include {m.group(2)} ({to})")
    return bad, checked


def self_test():
    """A tree with known crossings: each must be found, and nothing else."""
    files = {
        "include/chat/chat.h": "",
        "libchat/core/internal.h": '#include <chat/chat.h>\n',
        "libchat/rpc/rpc.h": '#include "core/internal.h"\n',
        "libchat/domain/ctx.h": '#include "core/internal.h"\n',
        "libchat/api/ok.c": '#include "rpc/rpc.h"\n#include "domain/ctx.h"\n#include "api.pb-c.h"\n',
        "libchat/domain/up.c": '#include "rpc/rpc.h"\n',             # domain -> transport
        "libchat/rpc/chat.c": '#include "rpc.pb-c.h"\n',              # transport -> chat's frames
        "libchat/core/up.c": '#include "domain/ctx.h"\n',             # core -> domain
        "servers/x/main.c": '#include <chat/chat.h>\n#include "core/internal.h"\n',
        "servers/common/util.h": '#include <chat/chat.h>\n',
        "servers/x/two.c": '#include "util.h"\n#include <chat/nope.h>\n',
    }
    want = {"libchat/domain/up.c:1", "libchat/rpc/chat.c:1", "libchat/core/up.c:1",
            "servers/x/main.c:2", "servers/x/two.c:2"}
    with tempfile.TemporaryDirectory() as root:
        for rel, text in files.items():
            os.makedirs(os.path.dirname(os.path.join(root, rel)), exist_ok=True)
            with open(os.path.join(root, rel), "w") as fh:
                fh.write(text)
        bad, _ = check(root)
        found = {b.split(": ")[0] for b in bad}
        if found != want:
            print(f"self-test: found {sorted(found)}, wanted {sorted(want)}")
            for b in bad:
                print("  " + b)
            return 1
    print(f"self-test: the {len(want)} planted crossings found, nothing else")
    return 0


def main():
    if sys.argv[1:] == ["--self-test"]:
        return self_test()
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    bad, checked = check(root)
    for b in bad:
        print(b)
    print(f"{checked} includes checked, {len(bad)} across a forbidden boundary")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
