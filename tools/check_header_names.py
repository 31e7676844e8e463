#!/usr/bin/env python3
"""check_header_names.py CC INCLUDE_DIR GENERATED_INCLUDE_DIR LIBTENSOR_A [--list]

Lists every name the public header puts into a user's program and fails on
any that lacks the library's prefix (LT_ for macros, lt_/LT_ for the rest):
  - macros: `cc -dM -E` of the header minus those of the system headers it
    includes;
  - file-scope declarations of the preprocessed header's own lines: functions,
    typedef names, struct/enum/union tags, enumerators, variables;
  - external symbols of the static library (`nm -g --defined-only`).
--list prints every name found, one per line, with its kind.
Python 3 standard library only."""
import os
import re
import subprocess
import sys

cc, inc, geninc, lib = sys.argv[1:5]
INC = ["-I" + inc, "-I" + geninc]
HEADER = os.path.join(inc, "libtensor.h")
KEYWORDS = set("""auto break case char const continue default do double else enum extern float for goto if
inline int long register restrict return short signed sizeof static struct switch typedef union unsigned
void volatile while _Bool _Complex _Alignas _Alignof _Atomic _Noreturn _Static_assert _Thread_local""".split())


def preprocess(source, *extra):
    out = subprocess.run([cc, "-std=c11", "-E", *extra, *INC, "-x", "c", "-"], input=source,
                         capture_output=True, text=True, check=True)
    return out.stdout


def macro_names(text):
    return {m.group(1) for m in re.finditer(r"^#define (\w+)", text, re.M)}


def header_macros():
    system = re.findall(r"^#include\s+(<[^>]+>)", open(HEADER).read(), re.M)
    base = macro_names(preprocess("".join("#include %s\n" % h for h in system), "-dM"))
    full = macro_names(preprocess('#include "libtensor.h"\n', "-dM"))
    return sorted(full - base)


def own_lines(text):
    """The preprocessed lines that come from libtensor*.h itself."""
    keep, mine = [], False
    for line in text.splitlines():
        m = re.match(r'^# \d+ "([^"]*)"', line)
        if m:
            mine = os.path.basename(m.group(1)).startswith("libtensor")
        elif mine:
            keep.append(line)
    return "\n".join(keep)


def strip_attributes(text):
    out, i = [], 0
    while True:
        j = text.find("__attribute__", i)
        if j < 0:
            return "".join(out) + text[i:]
        out.append(text[i:j])
        k, depth = text.index("(", j), 0
        while True:
            depth += {"(": 1, ")": -1}.get(text[k], 0)
            k += 1
            if depth == 0:
                break
        i = k


def declared_names(text):
    tokens = re.findall(r"[A-Za-z_]\w*|\S", strip_attributes(text))
    names, stmt, braces = [], [], 0
    enum_depth = []  # brace depths of enum bodies
    expect_enumerator = False
    for i, tok in enumerate(tokens):
        prev = tokens[i - 1] if i else ""
        if tok in ("struct", "enum", "union") and i + 1 < len(tokens) and re.match(r"\w", tokens[i + 1]):
            names.append(("tag", tokens[i + 1]))
        if tok == "{":
            braces += 1
            if len(stmt) >= 1 and ("enum" in stmt[-2:]):
                enum_depth.append(braces)
                expect_enumerator = True
            stmt.append(tok)
            continue
        if tok == "}":
            if enum_depth and enum_depth[-1] == braces:
                enum_depth.pop()
            braces -= 1
            stmt.append(tok)
            continue
        if enum_depth and enum_depth[-1] == braces:
            if expect_enumerator and re.match(r"\w", tok):
                names.append(("enumerator", tok))
            expect_enumerator = tok == ","
            continue
        if braces > 0:
            continue  # struct members: not file scope
        if tok == ";":
            names.extend(statement_names(stmt))
            stmt = []
            continue
        stmt.append(tok)
    return names


def statement_names(stmt):
    """The name a file-scope declaration introduces (bodies already elided)."""
    flat, depth = [], 0
    for tok in stmt:
        if tok == "{":
            depth += 1
        elif tok == "}":
            depth -= 1
        elif depth == 0:
            flat.append(tok)
    if not flat:
        return []
    if flat[0] == "typedef":
        m = re.search(r"\( \* (\w+) \)", " ".join(flat))  # function pointer typedef
        if m:
            return [("typedef", m.group(1))]
        idents = [t for t in flat if re.match(r"\w", t) and t not in KEYWORDS]
        return [("typedef", idents[-1])] if idents else []
    if "(" in flat:
        k = flat.index("(")
        return [("function", flat[k - 1])] if k and re.match(r"\w", flat[k - 1]) else []
    idents = [t for t in flat if re.match(r"\w", t) and t not in KEYWORDS]
    if len(flat) > 2 and flat[0] not in ("struct", "enum", "union"):
        return [("variable", idents[-1])]
    return []


def external_symbols():
    out = subprocess.run(["nm", "-g", "--defined-only", lib], capture_output=True, text=True, check=True)
    return sorted({f[2] for f in (l.split() for l in out.stdout.splitlines()) if len(f) == 3})


def main():
    bad = []
    macros = header_macros()
    bad += ["macro " + m for m in macros if not m.startswith("LT_")]
    decls = sorted(set(declared_names(own_lines(preprocess('#include "libtensor.h"\n')))))
    bad += ["%s %s" % d for d in decls if not (d[1].startswith("lt_") or d[1].startswith("LT_"))]
    symbols = external_symbols()
    # names starting with "__" are the implementation's (e.g. ASan's __odr_asan.*)
    bad += ["symbol " + s for s in symbols if not s.startswith("lt_") and not s.startswith("__")]
    if "--list" in sys.argv[5:]:
        for name in macros:
            print("macro", name)
        for kind, name in decls:
            print(kind, name)
        for name in symbols:
            print("symbol", name)
    kinds = {}
    for kind, _ in decls:
        kinds[kind] = kinds.get(kind, 0) + 1
    print("header names: %d macros, %s; library: %d external symbols" % (
        len(macros), ", ".join("%d %ss" % (n, k) for k, n in sorted(kinds.items())), len(symbols)))
    if bad:
        print("names outside the LT_/lt_ prefix:\n  " + "\n  ".join(bad))
        return 1
    print("header names: all behind the LT_/lt_ prefix")
    return 0


sys.exit(main())
