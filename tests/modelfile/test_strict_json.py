# SPDX-License-Identifier: LGPL-2.1-or-later
"""Strict JSON (issue 9): crafted model files (75,000-level nesting hidden by
single quotes or comments, repeated keys at every level, trailing commas,
NaN/Infinity, comments) in the header and in the seqnn.tokenizer metadata
string are refused by models/convert.py AND by the C reader (argv[1], the
seqnn-load-check helper) on the very same files; strict files load in both.
Needs numpy (convert.py imports it); exit 77 without."""
import json
import os
import struct
import subprocess
import sys
import tempfile

ROOT = os.environ.get("SEQNN_SOURCE_ROOT") or os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "models"))
try:
    import numpy  # noqa: F401
except ImportError:
    print("SKIP: numpy is not importable by %s" % sys.executable)
    sys.exit(77)
import convert  # noqa: E402

FIXTURE = os.path.join(ROOT, "tests", "fixtures", "convert", "lstm.model")
DEEP = 75000
NEST = "[" * DEEP + "]" * DEEP
TOK = '"name":"basic_english","lowercase":true,"strip_markup":false,"max_tokens":0'

# (name, text to find in the header, its replacement, what the C message says, what Python's says)
SYNTAX = "not valid JSON (strict RFC 8259)"
HEADER_CASES = [
    ("single-quotes-deep", "{", "{\"a\":'\"',\"deep\":" + NEST + ",", "single-quoted string", SYNTAX),
    ("comment-deep", "{", "{/* \" */\"deep\":" + NEST + ",", "comment (JSON has no comments)", SYNTAX),
    ("deep", "{", "{\"deep\":" + NEST + ",", "nested too deeply", "nested too deeply"),
    ("repeat-top", "{", "{\"fc.bias\":{},", "object repeats a key \"fc.bias\"", "object repeats a key 'fc.bias'"),
    ("repeat-tensor", "\"dtype\":\"F32\"", "\"dtype\":\"F32\",\"dtype\":\"F16\"", "object repeats a key \"dtype\"",
     "object repeats a key 'dtype'"),
    ("repeat-metadata", "\"format\":\"seqnn\"", "\"format\":\"seqnn\",\"format\":\"seqnn\"",
     "object repeats a key \"format\"", "object repeats a key 'format'"),
    ("trailing-comma-array", "],\"data_offsets\"", ",],\"data_offsets\"", "trailing comma", SYNTAX),
    ("trailing-comma-object", "\"F32\",", "\"F32\",}, \"x\":{", "trailing comma", SYNTAX),
    ("nan", "\"shape\":[", "\"shape\":[NaN,", "NaN or Infinity", "NaN or Infinity"),
    ("infinity", "\"shape\":[", "\"shape\":[-Infinity,", "NaN or Infinity", "NaN or Infinity"),
    ("huge-float", "\"shape\":[", "\"shape\":[1e999,", "number out of range", "number out of range"),
    ("huge-int", "\"shape\":[", "\"shape\":[99999999999999999999,", "integer out of the 64-bit range",
     "integer out of the 64-bit range"),
    ("comment", "\"format\":\"seqnn\"", "\"format\":\"seqnn\" /* c */", "comment (JSON has no comments)", SYNTAX),
    ("nul", "\"format\":\"seqnn\"", "\"format\":\"seq\\u0000nn\"", "NUL character", "NUL character"),
    ("surrogate", "\"format\":\"seqnn\"", "\"format\":\"\\udc00\"", "unpaired surrogate", "unpaired surrogate"),
]
# seqnn.tokenizer values (the file re-signed, so only their JSON is wrong)
TOKENIZER_CASES = [
    ("tok-single-quotes-deep", "{'\"':1,\"x\":" + NEST + "," + TOK + "}", "single-quoted key", SYNTAX),
    ("tok-comment-deep", "{/* \" */\"x\":" + NEST + "," + TOK + "}", "comment (JSON has no comments)", SYNTAX),
    ("tok-deep", "{\"x\":" + NEST + "," + TOK + "}", "nested too deeply", "nested too deeply"),
    ("tok-repeat", "{" + TOK + ",\"lowercase\":false}", "object repeats a key \"lowercase\"",
     "object repeats a key 'lowercase'"),
    ("tok-repeat-nested", "{" + TOK + ",\"x\":{\"a\":1,\"a\":2}}", "object repeats a key \"a\"",
     "object repeats a key 'a'"),
    ("tok-trailing-comma", "{" + TOK + ",}", "trailing comma", SYNTAX),
    ("tok-nan", "{" + TOK + ",\"x\":NaN}", "NaN or Infinity", "NaN or Infinity"),
    ("tok-comment", "{" + TOK + "} // c", "comment (JSON has no comments)", SYNTAX),
]


def split(blob):
    (n,) = struct.unpack("<Q", blob[:8])
    return blob[8:8 + n].decode("utf-8").rstrip(" "), blob[8 + n:]


def frame(header_text, data):
    raw = header_text.encode("utf-8")
    return struct.pack("<Q", len(raw)) + raw + data


def resigned(blob, tokenizer):
    header_text, data = split(blob)
    header = json.loads(header_text)
    meta = header["__metadata__"]
    meta["seqnn.tokenizer"] = tokenizer
    entries = {k: (v["dtype"], v["shape"], tuple(v["data_offsets"])) for k, v in header.items() if k != "__metadata__"}
    meta["seqnn.checksum"] = convert.compute_checksum(entries, meta, data)
    return frame(json.dumps(header, separators=(",", ":")), data)


def python_reason(path):
    try:
        convert.read_model(path)
    except convert.FormatError as e:
        return str(e)
    return "ok"


def main():
    load_check = sys.argv[1]
    with open(FIXTURE, "rb") as f:
        blob = f.read()
    header_text, data = split(blob)
    files = []  # (path, C expectation, Python expectation)
    with tempfile.TemporaryDirectory() as tmp:
        for name, find, replace, c_expect, py_expect in HEADER_CASES:
            assert find in header_text, find
            path = os.path.join(tmp, name + ".model")
            with open(path, "wb") as f:
                f.write(frame(header_text.replace(find, replace, 1), data))
            files.append((path, c_expect, py_expect))
        for name, value, c_expect, py_expect in TOKENIZER_CASES:
            path = os.path.join(tmp, name + ".model")
            with open(path, "wb") as f:
                f.write(resigned(blob, value))
            files.append((path, c_expect, py_expect))
        # controls: strict files (one re-encoded, one with an extra tokenizer member) load in both
        for name, content in (("control-reencoded", frame(json.dumps(json.loads(header_text), indent=1), data)),
                              ("control-tokenizer", resigned(blob, "{" + TOK + ",\"x\":[1.5,-2e3,null]}"))):
            path = os.path.join(tmp, name + ".model")
            with open(path, "wb") as f:
                f.write(content)
            files.append((path, "ok", "ok"))
        out = subprocess.run([load_check] + [p for p, _, _ in files], check=True, stdout=subprocess.PIPE,
                             universal_newlines=True).stdout.splitlines()
        assert len(out) == len(files), out
        for (path, c_expect, py_expect), c_reason in zip(files, out):
            name = os.path.basename(path)
            py = python_reason(path)
            assert c_expect in c_reason, "%s: C says %r, expected %r" % (name, c_reason[:300], c_expect)
            assert py_expect in py, "%s: Python says %r, expected %r" % (name, py[:300], py_expect)
            assert (c_reason == "ok") == (py == "ok"), name
            print("%-26s C: %s\n%-26s Py: %s" % (name, c_reason[-110:], "", py[-110:]))
    print("%d crafted files: both readers agree on every one" % len(files))
    return 0


if __name__ == "__main__":
    sys.exit(main())
