#!/usr/bin/env python3
"""png_ink.py FILE.png... - prints "FILE WIDTH HEIGHT INKED" per image, where
INKED counts pixels that are not (near) white: any of R, G, B below 240.
A minimal PNG decoder (8-bit RGB/RGBA/grey, non-interlaced), standard
library only: used by check_svg_render.sh to tell a drawn plot from a blank."""
import struct
import sys
import zlib


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else b if pb <= pc else c


def decode(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("%s: not a PNG" % path)
    pos, idat, ihdr = 8, [], None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        pos += 12 + length
    width, height, depth, color, _, _, interlace = ihdr
    channels = {0: 1, 2: 3, 4: 2, 6: 4}.get(color)
    if depth != 8 or channels is None or interlace:
        raise ValueError("%s: unsupported PNG (depth %d, colour type %d)" % (path, depth, color))
    raw, stride = zlib.decompress(b"".join(idat)), width * channels
    rows, prev = [], bytearray(stride)
    for y in range(height):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b, c = prev[i], prev[i - channels] if i >= channels else 0
            line[i] = (line[i] + (0, a, b, (a + b) // 2, paeth(a, b, c))[f]) & 0xFF
        rows.append(line)
        prev = line
    return width, height, channels, rows


def inked(width, channels, rows):
    count = 0
    for line in rows:
        for x in range(width):
            px = line[x * channels:x * channels + min(channels, 3)]
            if min(px) < 240:
                count += 1
    return count


for path in sys.argv[1:]:
    w, h, ch, rows = decode(path)
    print("%s %d %d %d" % (path, w, h, inked(w, ch, rows)))
