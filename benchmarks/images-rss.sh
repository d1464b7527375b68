#!/usr/bin/env bash
# Image bomb memory check: starts the API (Release) on a fresh SQLite store, uploads a burst of
# decompression bombs and of large-but-valid images to POST /v1/images, and reports the server's
# resident memory (RSS) before, right after the burst, and after it has been idle for a while.
#
#   benchmarks/images-rss.sh [rounds] [concurrency] [idle seconds]     # default 20 4 15
#
# Per round: the 43-byte GIF (10000×10000 canvas, 1×1 frame), a 1,080-byte RLE BMP and a 70-byte
# PNG declaring 10000×10000 (all refused before decoding, 422 implausible-dimensions), an
# interlaced 10000×10000 PNG (refused, 422 too-many-pixels), a 100-megapixel black 1-bit PNG
# (decoded whole: 100 MB of native memory) and a 4000×4000 interlaced one (16 MB).
set -euo pipefail
rounds="${1:-20}"
concurrency="${2:-4}"
idle="${3:-15}"
usage="benchmarks/images-rss.sh [rounds] [concurrency] [idle seconds]"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
source scripts/lib/common.sh
source scripts/lib/postgres.sh
source scripts/lib/benchmark.sh

bench_setup sqlite
export Registry__Lookup__RequestsPerSecondPerAddress=100000 Logging__LogLevel__Default=Warning

python3 - "$work" <<'PY'
import struct, sys, zlib
work = sys.argv[1]

def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

def png(width, height, bits, colour, interlaced, raw_rows):
    ihdr = struct.pack(">IIBBBBB", width, height, bits, colour, 0, 0, 1 if interlaced else 0)
    z = zlib.compressobj(9)
    data = b"".join(z.compress(r) for r in raw_rows) + z.flush()
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", data) + chunk(b"IEND", b"")

def black_rows(width, height, interlaced):
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)] if interlaced else [(0, 0, 1, 1)]
    for x0, y0, dx, dy in passes:
        columns = (width - x0 + dx - 1) // dx if width > x0 else 0
        if columns:
            row = bytes(1 + (columns + 7) // 8)
            for _ in range(y0, height, dy):
                yield row

files = {
    "gif-canvas.gif": b"GIF89a" + struct.pack("<HH", 10000, 10000) + bytes([0x80, 0, 0, 0, 0, 0, 255, 255, 255,
        0x21, 0xF9, 4, 0, 0, 0, 0, 0, 0x2C, 0, 0, 0, 0, 1, 0, 1, 0, 0, 2, 2, 0x44, 0x01, 0, 0x3B]),
    "rle.bmp": b"BM" + struct.pack("<IHHI", 54 + 1024 + 2, 0, 0, 54 + 1024) + struct.pack("<IiiHHIIiiII", 40, 10000, 10000, 1, 8, 1, 2, 2835, 2835, 256, 0)
        + bytes(1024) + b"\x00\x01",
    "truncated.png": png(10000, 10000, 8, 2, False, [b"\x00"]),
    "interlaced-100mp.png": png(10000, 10000, 1, 0, True, black_rows(10000, 10000, True)),
    "rows-100mp.png": png(10000, 10000, 1, 0, False, black_rows(10000, 10000, False)),
    "interlaced-16mp.png": png(4000, 4000, 1, 0, True, black_rows(4000, 4000, True)),
}
for name, data in files.items():
    open(f"{work}/{name}", "wb").write(data)
    print(f"{name}: {len(data)} bytes")
PY

start_api
wait_ready
rss() { ps -o rss= -p "$api_pid" | awk '{printf "%.0f MiB", $1/1024}'; }
# Warm up every code path once so that "before" includes the JIT and Skia's own start-up.
for f in "$work"/*.gif "$work"/*.bmp "$work"/*.png; do
  curl -s -o /dev/null -w "$(basename "$f"): %{http_code}\n" -F "file=@$f" "$target/v1/images"
done
sleep 2
log "RSS before the burst: $(rss)"

started=$(date +%s%N)
for _ in $(seq "$rounds"); do ls "$work"/*.gif "$work"/*.bmp "$work"/*.png; done \
  | xargs -P "$concurrency" -I{} curl -s -o /dev/null -w "%{http_code}\n" -F "file=@{}" "$target/v1/images" \
  | sort | uniq -c | sed 's/^/  status /'
log "$(( rounds * 6 )) uploads in $(( ($(date +%s%N) - started) / 1000000 )) ms, $concurrency at a time"
log "RSS right after the burst: $(rss)"
sleep "$idle"
log "RSS after $idle s idle: $(rss)"
