#!/usr/bin/env python3
"""check_comment_names.py ROOT - fails when a comment in include/ or lib/ names
something that does not exist: an lt_/LT_ identifier that appears nowhere in
the code of the repository (include/, lib/, tests/, bench/, fuzz/, examples/,
the build files; string literals count, for environment variables), or a
repository path (tools/..., docs/..., lib/..., tests/..., bench/...,
examples/..., fuzz/..., cmake/..., include/...) that is not there (a program
may be named without its .c). A name followed by '*' (lt_new*(),
lt__json_*) is a prefix: some identifier must start with it.
Prints every dangling mention as FILE:LINE: NAME and exits 1; exits 0 when
there is none. Python 3 standard library only."""
import os
import re
import sys

root = sys.argv[1] if len(sys.argv) > 1 else "."
SOURCES = ("include", "lib")
NAME = re.compile(r"\b(?:lt|LT)_\w*")
PATH = re.compile(r"\b(?:tools|docs|lib|tests|bench|examples|fuzz|cmake|include)/[\w./-]*\w")
TOKEN = re.compile(r"""/\*.*?\*/|//[^\n]*|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'""", re.S)


def files(dirs, exts):
    for d in dirs:
        for base, _, names in os.walk(os.path.join(root, d)):
            for n in sorted(names):
                if n.endswith(exts):
                    yield os.path.join(base, n)


def split(text):
    """(code with comments blanked, [(line, comment text)])"""
    code, comments, last = [], [], 0
    for m in TOKEN.finditer(text):
        tok = m.group(0)
        if tok.startswith(("/*", "//")):
            code.append(text[last:m.start()])
            code.append("\n" * tok.count("\n"))
            comments.append((text.count("\n", 0, m.start()) + 1, tok))
            last = m.end()
    code.append(text[last:])
    return "".join(code), comments


defined, mentions = set(), []
for path in files(SOURCES, (".c", ".h", ".in")):
    code, comments = split(open(path, encoding="utf-8").read())
    defined.update(NAME.findall(code))
    rel = os.path.relpath(path, root)
    for line, text in comments:
        for m in NAME.finditer(text):
            after = text[m.end():m.end() + 1]
            mentions.append((rel, line + text.count("\n", 0, m.start()), m.group(0), after == "*"))
        for m in PATH.finditer(text):
            mentions.append((rel, line + text.count("\n", 0, m.start()), m.group(0), None))
for path in files(("tests", "bench", "fuzz", "examples"), (".c", ".h")):
    defined.update(NAME.findall(split(open(path, encoding="utf-8").read())[0]))
for path in files(("cmake",), (".cmake", ".in")):
    defined.update(NAME.findall(open(path, encoding="utf-8").read()))
defined.update(NAME.findall(open(os.path.join(root, "CMakeLists.txt"), encoding="utf-8").read()))

bad = []
for rel, line, name, prefix in mentions:
    if prefix is None:
        where = os.path.join(root, name.rstrip("."))
        ok = os.path.exists(where) or os.path.exists(where + ".c")
    elif prefix or name.endswith("_"):
        ok = any(d.startswith(name) for d in defined)
    else:
        ok = name in defined
    if not ok:
        bad.append("%s:%d: %s" % (rel, line, name))
for b in bad:
    print(b)
if bad:
    print("check_comment_names: %d comment(s) name things that do not exist (above)" % len(bad))
    sys.exit(1)
print("check_comment_names: %d mentions in comments, all exist" % len(mentions))
