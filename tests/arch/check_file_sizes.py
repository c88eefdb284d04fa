#!/usr/bin/env python3
"""Fails when a source file is longer than the project's limit (1,500 lines):
a file that grows past it holds more than one job and is split by concern.

usage: check_file_sizes.py [SOURCE_ROOT] [--limit N]
"""
import os
import sys

LIMIT = 1500
FOLDERS = ("include", "libchat", "servers", "web", "tests", "scripts", "examples", "deploy")
SOURCE = (".c", ".h", ".py", ".js", ".mjs", ".css", ".html", ".sh", ".proto", ".cmake")
SKIP_DIRS = {"node_modules", "__pycache__", ".pytest_cache"}


def long_files(root, limit):
    found, counted = [], 0
    for top in FOLDERS:
        for d, dirs, files in os.walk(os.path.join(root, top)):
            dirs[:] = [x for x in dirs if x not in SKIP_DIRS]
            for f in files:
                if not f.endswith(SOURCE) and f != "CMakeLists.txt":
                    continue
                path = os.path.join(d, f)
                with open(path, "rb") as fh:
                    n = sum(1 for _ in fh)
                counted += 1
                if n > limit:
                    found.append((os.path.relpath(path, root), n))
    return found, counted


def main():
    args = sys.argv[1:]
    limit = LIMIT
    if "--limit" in args:
        i = args.index("--limit")
        limit = int(args[i + 1])
        del args[i:i + 2]
    root = args[0] if args else os.path.dirname(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    found, counted = long_files(root, limit)
    for path, n in sorted(found):
        print(f"{path}: {n} lines, over the limit of {limit}: split it by concern")
    print(f"{counted} source files, {len(found)} over {limit} lines")
    return 1 if found or counted == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
