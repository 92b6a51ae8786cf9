#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Convert between PyTorch classifiers and seqnn model files.

  convert.py to-seqnn STATE_DICT.pt --vocab vocab.txt --labels labels.txt [--cell lstm] [--head last]
                     [--hidden-dim H] OUT.model
  convert.py to-torch IN.model OUT.pt [--split] [--names seqnn|lesson]
  convert.py info IN.model

The model file layout (safetensors with seqnn metadata and a CRC-32
checksum) is described in models/README-format.md and lib/seqnn/classifier.h.
Reading and writing model files needs json, numpy and struct only; torch is
imported only to read or write .pt files.

The architecture is inferred from the state_dict: cell from the gate rows of
weight_hh (4H LSTM, 3H GRU, H Elman RNN; rnn-tanh unless --cell rnn-relu),
layers and direction from the tensor names. The head (last/mean/max) is not in
a state_dict and must be given when it is not "last". A state_dict without
rnn tensors is a bag of embeddings (num_layers 0: the head reads the embedding
rows, as nn.EmbeddingBag(mode="mean" or "max") + nn.Linear): its head, mean or
max, must be given; its cell and hidden size are unused, stored as --cell (lstm
unless given) and --hidden-dim (32 unless given). Module names of common
classifiers ("emb.", "embeddings.", "lstm.", "gru.", "encoder.", "linear.",
"classifier.", a "module." prefix...) are mapped onto seqnn's
"embedding.", "rnn.", "fc.".
"""
import argparse
import collections
import hashlib
import json
import os
import re
import struct
import sys
import tempfile
import zlib

import numpy as np

FORMAT_NAME = "seqnn"
FORMAT_VERSION = 1
TOKENIZER_NAME = "basic_english"
HEADER_MAX_BYTES = 100 * 1024 * 1024
CELLS = {"rnn-tanh": 1, "rnn-relu": 1, "lstm": 4, "gru": 3}
HEADS = ("last", "mean", "max")
RESERVED_KEYS = ("seqnn.version", "seqnn.cell", "seqnn.embed_dim", "seqnn.hidden_dim",
                 "seqnn.num_layers", "seqnn.bidirectional", "seqnn.head", "seqnn.num_classes",
                 "seqnn.vocab_size", "seqnn.padding_idx", "seqnn.dropout", "seqnn.tokenizer",
                 "seqnn.labels", "seqnn.vocab", "seqnn.checksum", "seqnn.stream")

# Prefixes of other classifiers' module names -> seqnn's (first match wins).
NAME_MAP = [
    ("module.", ""),  # nn.DataParallel
    ("embedding.", "embedding."), ("emb.", "embedding."), ("embed.", "embedding."),
    ("embeddings.", "embedding."), ("encoder.embedding.", "embedding."),
    ("rnn.", "rnn."), ("lstm.", "rnn."), ("gru.", "rnn."), ("encoder.", "rnn."),
    ("fc.", "fc."), ("linear.", "fc."), ("classifier.", "fc."), ("out.", "fc."),
    ("head.", "fc."), ("decoder.", "fc."), ("output.", "fc."),
]


class FormatError(Exception):
    """A model file or state_dict that cannot be used; the message says why."""


# ---- Strict JSON (the same rules as lib/jsonstrict.c) ------------------------------------------

JSON_MAX_DEPTH = 16  # SEQNN_JSON_MAX_DEPTH
INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1


def _json_depth_check(text, what):
    """Refuses nesting deeper than JSON_MAX_DEPTH before json (recursive) reads it.
    Counts brackets outside double-quoted strings: for any text json accepts up to
    a point, that is the depth json reaches there."""
    depth, in_string, escaped = 0, False, False
    for i, c in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
        elif c in "[{":
            depth += 1
            if depth > JSON_MAX_DEPTH:
                raise FormatError("%s is not valid JSON (strict RFC 8259): nested too deeply at character %d" % (what, i))
        elif c in "]}":
            depth -= 1


def _refuse_constant(name):
    raise ValueError("NaN or Infinity (not JSON): %s" % name)


def _parse_int(text):
    value = int(text)
    if not INT64_MIN <= value <= INT64_MAX:
        raise ValueError("integer out of the 64-bit range: %s" % text[:40])
    return value


def _parse_float(text):
    value = float(text)
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError("number out of range: %s" % text[:40])
    return value


def _pairs_without_repeats(pairs):
    seen = {}
    for key, value in pairs:
        if key in seen:
            raise ValueError("object repeats a key %r" % key[:64])
        seen[key] = value
    return seen


def _check_strings(value, what):
    """No U+0000 and no lone surrogates in any string or key, as the C reader."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            stack.extend(v.keys())
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
        elif isinstance(v, str):
            if "\0" in v:
                raise FormatError("%s is not valid JSON (strict RFC 8259): a string holds a NUL character" % what)
            if any(0xD800 <= ord(c) <= 0xDFFF for c in v):
                raise FormatError("%s is not valid JSON (strict RFC 8259): unpaired surrogate" % what)


def strict_json_loads(text, what):
    """json.loads for model headers and metadata strings: strict RFC 8259 only (no
    NaN/Infinity, no repeated keys at any level, numbers finite and integers in 64
    bits, no NUL or lone surrogates in strings, nesting <= JSON_MAX_DEPTH), the rules
    lib/jsonstrict.c applies, so both readers accept exactly the same files."""
    _json_depth_check(text, what)
    try:
        value = json.loads(text, object_pairs_hook=_pairs_without_repeats, parse_constant=_refuse_constant,
                           parse_int=_parse_int, parse_float=_parse_float)
    except ValueError as e:  # json.JSONDecodeError is a ValueError
        raise FormatError("%s is not valid JSON (strict RFC 8259): %s" % (what, e)) from None
    _check_strings(value, what)
    return value


# ---- Architecture ---------------------------------------------------------------------------

# What a bag of embeddings (num_layers 0) stores for the settings it does not use.
BAG_CELL, BAG_HIDDEN = "lstm", 32


def default_config():
    return dict(cell="lstm", vocab_size=0, embed_dim=64, hidden_dim=32, num_layers=1,
                bidirectional=False, head="last", num_classes=4, padding_idx=-1, dropout=0.0)


def default_tokenizer():
    return dict(name=TOKENIZER_NAME, lowercase=True, strip_markup=False, max_tokens=0)


def tensor_shapes(config):
    """(name, shape) in seqnn's (= torch's state_dict) order."""
    G, H, E = CELLS[config["cell"]], config["hidden_dim"], config["embed_dim"]
    dirs = 2 if config["bidirectional"] else 1
    out = [("embedding.weight", (config["vocab_size"], E))]
    for layer in range(config["num_layers"]):
        inp = E if layer == 0 else dirs * H
        for d in range(dirs):
            sfx = "_l%d%s" % (layer, "_reverse" if d else "")
            out += [("rnn.weight_ih" + sfx, (G * H, inp)), ("rnn.weight_hh" + sfx, (G * H, H)),
                    ("rnn.bias_ih" + sfx, (G * H,)), ("rnn.bias_hh" + sfx, (G * H,))]
    features = E if config["num_layers"] == 0 else dirs * H  # a bag's head reads the embedding rows
    out += [("fc.weight", (config["num_classes"], features)), ("fc.bias", (config["num_classes"],))]
    return out


def bag_problem(config):
    """Why a config with num_layers 0 (a bag of embeddings) is invalid, or None:
    the same rules as seqnn_config_validate."""
    if config["num_layers"] != 0:
        return None
    if config["head"] == "last":
        return "num_layers 0 (a bag of embeddings) has no last state: use head mean or max"
    if config["bidirectional"]:
        return "num_layers 0 (a bag of embeddings) has no direction: bidirectional must be false"
    return None


def map_names(state_dict, extra_map=()):
    """Renames a state_dict's keys onto seqnn's module names."""
    rules = list(extra_map) + NAME_MAP
    out = collections.OrderedDict()
    for name, value in state_dict.items():
        new = name
        while new.startswith("module."):
            new = new[len("module."):]
        for old, repl in rules:
            if old != "module." and new.startswith(old):
                new = repl + new[len(old):]
                break
        if new in out:
            raise FormatError("two tensors map to %r (second: %r)" % (new, name))
        out[new] = value
    return out


def infer_config(state_dict, cell=None, head="last", padding_idx=-1, dropout=0.0, hidden_dim=None):
    """Architecture from a (seqnn-named) state_dict of numpy arrays. hidden_dim is
    only needed by a bag of embeddings (no rnn tensors), which does not show it."""
    if head not in HEADS:
        raise FormatError("head %r is not one of %s" % (head, ", ".join(HEADS)))
    if not any(name.startswith("rnn.") for name in state_dict):
        return _infer_bag(state_dict, cell, head, padding_idx, dropout, hidden_dim)
    for needed in ("embedding.weight", "rnn.weight_ih_l0", "rnn.weight_hh_l0", "fc.weight"):
        if needed not in state_dict:
            raise FormatError("state_dict has no %r (tensors: %s)" % (needed, ", ".join(state_dict)))
    V, E = state_dict["embedding.weight"].shape
    GH, H = state_dict["rnn.weight_hh_l0"].shape
    if GH % H:
        raise FormatError("rnn.weight_hh_l0 has %d rows, not a multiple of hidden %d" % (GH, H))
    G = GH // H
    if hidden_dim is not None and hidden_dim != H:
        raise FormatError("hidden size %d given but rnn.weight_hh_l0 says %d" % (hidden_dim, H))
    by_gates = {1: "rnn-tanh", 4: "lstm", 3: "gru"}
    if G not in by_gates:
        raise FormatError("rnn.weight_hh_l0 has %d gates: not an RNN (1), GRU (3) or LSTM (4)" % G)
    if cell is None:
        cell = by_gates[G]
    elif CELLS.get(cell) != G:
        raise FormatError("cell %r has %s gates but the state_dict has %d" % (cell, CELLS.get(cell), G))
    layers = set()
    for name in state_dict:
        m = re.match(r"rnn\.weight_ih_l(\d+)$", name)
        if m:
            layers.add(int(m.group(1)))
    num_layers = max(layers) + 1
    if layers != set(range(num_layers)):
        raise FormatError("layers %s are not 0..%d" % (sorted(layers), num_layers - 1))
    bidirectional = "rnn.weight_ih_l0_reverse" in state_dict
    C = state_dict["fc.weight"].shape[0]
    return dict(cell=cell, vocab_size=int(V), embed_dim=int(E), hidden_dim=int(H),
                num_layers=num_layers, bidirectional=bidirectional, head=head,
                num_classes=int(C), padding_idx=int(padding_idx), dropout=float(dropout))


def _infer_bag(state_dict, cell, head, padding_idx, dropout, hidden_dim):
    """num_layers 0: embedding and fc only; cell and hidden size are stored, not used."""
    for needed in ("embedding.weight", "fc.weight"):
        if needed not in state_dict:
            raise FormatError("state_dict has no %r (tensors: %s)" % (needed, ", ".join(state_dict)))
    if cell is not None and cell not in CELLS:
        raise FormatError("cell %r is not one of %s" % (cell, ", ".join(CELLS)))
    V, E = state_dict["embedding.weight"].shape
    config = dict(cell=cell or BAG_CELL, vocab_size=int(V), embed_dim=int(E),
                  hidden_dim=int(BAG_HIDDEN if hidden_dim is None else hidden_dim), num_layers=0,
                  bidirectional=False, head=head, num_classes=int(state_dict["fc.weight"].shape[0]),
                  padding_idx=int(padding_idx), dropout=float(dropout))
    problem = bag_problem(config)
    if problem:
        raise FormatError("the state_dict has no rnn tensors, so %s" % problem)
    return config


def check_tensors(tensors, config, zero_missing_biases=True):
    """Same names and shapes as the architecture; missing recurrent biases
    (a torch module built with bias=False) become zeros when allowed."""
    expected = tensor_shapes(config)
    out = collections.OrderedDict()
    for name, shape in expected:
        if name not in tensors:
            if zero_missing_biases and ".bias_" in name:
                out[name] = np.zeros(shape, dtype=np.float32)
                continue
            raise FormatError("missing tensor %r" % name)
        t = np.asarray(tensors[name])
        if tuple(t.shape) != tuple(shape):
            raise FormatError("tensor %r has shape %s, expected %s" % (name, list(t.shape), list(shape)))
        out[name] = np.ascontiguousarray(t, dtype=np.float32)
    extra = set(tensors) - set(out)
    if extra:
        raise FormatError("unexpected tensors: %s" % ", ".join(sorted(extra)))
    return out


# ---- Model files --------------------------------------------------------------------------

class _Crc32:
    """zlib.crc32 behind hashlib's update() interface."""

    def __init__(self):
        self.crc = 0

    def update(self, data):
        self.crc = zlib.crc32(data, self.crc)


def _field(h, text):
    b = text.encode("utf-8")
    h.update(struct.pack("<Q", len(b)))
    h.update(b)


def compute_checksum(entries, metadata, data, algorithm="crc32"):
    """entries: {name: (dtype, shape, (begin, end))}; the definition is in classifier.h.
    algorithm: "crc32" (what seqnn writes) or "sha256" (also accepted)."""
    h = _Crc32() if algorithm == "crc32" else hashlib.sha256()
    for name in sorted(entries, key=lambda n: n.encode("utf-8")):
        dtype, shape, (begin, end) = entries[name]
        _field(h, name)
        _field(h, dtype)
        _field(h, ",".join(str(int(d)) for d in shape))
        _field(h, "%d,%d" % (begin, end))
    for key in sorted(metadata, key=lambda k: k.encode("utf-8")):
        if key != "seqnn.checksum":
            _field(h, key)
            _field(h, metadata[key])
    h.update(data)
    if algorithm == "crc32":
        return "crc32:%08x" % h.crc
    return "sha256:" + h.hexdigest()


def _bool(value):
    return "true" if value else "false"


def tokenizer_json(tok, config):
    """The tokenizer metadata; word_ngrams only when above 1 (a bag's word n-grams), as seqnn writes it."""
    out = dict(name=tok["name"], lowercase=bool(tok["lowercase"]), strip_markup=bool(tok["strip_markup"]),
               max_tokens=int(tok["max_tokens"]))
    ngrams = int(tok.get("word_ngrams", 1))
    if not 1 <= ngrams <= 5:
        raise FormatError("word_ngrams is %d; it must be 1 to 5" % ngrams)
    if ngrams > 1:
        if config["num_layers"] != 0:
            raise FormatError("word_ngrams %d needs a bag of embeddings (num_layers 0)" % ngrams)
        out["word_ngrams"] = ngrams
    return out


def write_model(path, tensors, config, vocab, labels, tokenizer=None, metadata=None, checksum="crc32"):
    """Writes a seqnn model file atomically. tensors: {name: array} (any order)."""
    problem = bag_problem(config)
    if problem:
        raise FormatError(problem)
    tensors = check_tensors(tensors, config)
    if len(vocab) != config["vocab_size"]:
        raise FormatError("vocabulary has %d tokens, embedding %d rows" % (len(vocab), config["vocab_size"]))
    if len(set(vocab)) != len(vocab):
        raise FormatError("vocabulary has duplicate tokens")
    if list(vocab[:2]) != ["<unk>", "<pad>"]:
        raise FormatError("vocabulary must start with <unk>, <pad> (found %r)" % (list(vocab[:2]),))
    if len(labels) != config["num_classes"]:
        raise FormatError("%d labels for %d classes" % (len(labels), config["num_classes"]))
    tok = default_tokenizer()
    tok.update(tokenizer or {})
    meta = {}
    for key, value in (metadata or {}).items():
        if key.startswith("seqnn.") or key == "format":
            raise FormatError("metadata key %r is reserved" % key)
        meta[str(key)] = str(value)
    meta.update({
        "format": FORMAT_NAME, "seqnn.version": str(FORMAT_VERSION),
        "seqnn.cell": config["cell"], "seqnn.embed_dim": str(config["embed_dim"]),
        "seqnn.hidden_dim": str(config["hidden_dim"]), "seqnn.num_layers": str(config["num_layers"]),
        "seqnn.bidirectional": _bool(config["bidirectional"]), "seqnn.head": config["head"],
        "seqnn.num_classes": str(config["num_classes"]), "seqnn.vocab_size": str(config["vocab_size"]),
        "seqnn.padding_idx": str(config["padding_idx"]),
        "seqnn.dropout": format(float(np.float32(config["dropout"])), ".9g"),
        "seqnn.tokenizer": json.dumps(tokenizer_json(tok, config)),
        "seqnn.labels": json.dumps(list(labels)),
        "seqnn.vocab": json.dumps(list(vocab)),
    })
    if config.get("stream"):  # a stream model (context=stream); absent means false
        if config["bidirectional"] or config["head"] != "last":
            raise FormatError("a stream model must be unidirectional with head last")
        meta["seqnn.stream"] = "true"
    entries, chunks, offset = {}, [], 0
    for name, t in tensors.items():
        raw = t.astype("<f4").tobytes()
        entries[name] = ("F32", t.shape, (offset, offset + len(raw)))
        chunks.append(raw)
        offset += len(raw)
    data = b"".join(chunks)
    meta["seqnn.checksum"] = compute_checksum(entries, meta, data, checksum)
    header = {name: {"dtype": d, "shape": [int(x) for x in s], "data_offsets": list(o)}
              for name, (d, s, o) in entries.items()}
    header["__metadata__"] = dict(sorted(meta.items()))
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(struct.pack("<Q", len(text)))
            f.write(text)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def read_model(path):
    """Returns dict(tensors, config, vocab, labels, tokenizer, metadata); checks the checksum."""
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        raise FormatError("%s: too short" % path)
    (n,) = struct.unpack("<Q", blob[:8])
    if n > HEADER_MAX_BYTES or n > len(blob) - 8:
        raise FormatError("%s: header length %d is absurd" % (path, n))
    try:
        header_text = blob[8:8 + n].decode("utf-8")
    except UnicodeDecodeError as e:
        raise FormatError("%s: header is not valid JSON (strict RFC 8259): not valid UTF-8 at byte %d"
                          % (path, e.start)) from None
    header = strict_json_loads(header_text, "%s: header" % path)
    if not isinstance(header, dict):
        raise FormatError("%s: header is not a JSON object" % path)
    data = blob[8 + n:]
    meta = header.pop("__metadata__", None)
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
        raise FormatError("%s: not a seqnn model" % path)
    if int(meta["seqnn.version"]) > FORMAT_VERSION:
        raise FormatError("%s: format version %s is newer than %d" % (path, meta["seqnn.version"], FORMAT_VERSION))
    entries, tensors, expected_begin = {}, {}, 0
    for name, e in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        if e["dtype"] != "F32":
            raise FormatError("%s: tensor %r has dtype %s" % (path, name, e["dtype"]))
        begin, end = e["data_offsets"]
        if begin != expected_begin or end - begin != 4 * int(np.prod(e["shape"], dtype=np.int64)):
            raise FormatError("%s: tensor %r data_offsets %s overlap, leave a gap or disagree with its shape"
                              % (path, name, e["data_offsets"]))
        expected_begin = end
        entries[name] = (e["dtype"], e["shape"], (begin, end))
        tensors[name] = np.frombuffer(data, dtype="<f4", count=(end - begin) // 4, offset=begin).reshape(e["shape"])
    if expected_begin != len(data):
        raise FormatError("%s: tensors cover %d of the %d data bytes" % (path, expected_begin, len(data)))
    stored = meta.get("seqnn.checksum", "")
    algorithm = stored.split(":", 1)[0]
    if algorithm not in ("crc32", "sha256"):
        raise FormatError("%s: checksum %r is neither crc32 nor sha256" % (path, stored[:40]))
    if compute_checksum(entries, meta, data, algorithm) != stored:
        raise FormatError("%s: checksum mismatch" % path)
    config = dict(cell=meta["seqnn.cell"], head=meta["seqnn.head"],
                  bidirectional=meta["seqnn.bidirectional"] == "true",
                  dropout=float(meta["seqnn.dropout"]),
                  **{k: int(meta["seqnn." + k]) for k in ("vocab_size", "embed_dim", "hidden_dim",
                                                           "num_layers", "num_classes", "padding_idx")})
    stream = meta.get("seqnn.stream", "false")
    if stream not in ("true", "false"):
        raise FormatError('%s: metadata "seqnn.stream" is %r, not true or false' % (path, stream))
    config["stream"] = stream == "true"
    problem = bag_problem(config)
    if problem:
        raise FormatError("%s: %s" % (path, problem))
    if config["stream"] and (config["bidirectional"] or config["head"] != "last"):
        raise FormatError('%s: metadata "seqnn.stream" is "true" but the model is not unidirectional '
                          'with head last' % path)
    tensors = check_tensors(tensors, config, zero_missing_biases=False)  # seqnn order, shapes checked
    user = {k: v for k, v in meta.items() if not k.startswith("seqnn.") and k != "format"}
    parsed = {k: strict_json_loads(meta[k], '%s: metadata "%s"' % (path, k))
              for k in ("seqnn.vocab", "seqnn.labels", "seqnn.tokenizer")}
    for k in ("seqnn.vocab", "seqnn.labels"):
        if not isinstance(parsed[k], list) or not all(isinstance(v, str) for v in parsed[k]):
            raise FormatError('%s: metadata "%s" is not a JSON array of strings' % (path, k))
    if not isinstance(parsed["seqnn.tokenizer"], dict):
        raise FormatError('%s: metadata "seqnn.tokenizer" is not a JSON object' % path)
    return dict(tensors=tensors, config=config, vocab=parsed["seqnn.vocab"], labels=parsed["seqnn.labels"],
                tokenizer=parsed["seqnn.tokenizer"], metadata=user)


# ---- torch side -------------------------------------------------------------------------

def read_lines(path):
    """vocab.txt / labels.txt: one entry per line (a JSON list is accepted too)."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if path.endswith(".json"):
        return list(json.loads(text))
    return [line for line in text.split("\n") if line != ""]


def load_state_dict(path):
    import torch
    obj = torch.load(path, map_location="cpu")
    extra = {}
    if isinstance(obj, torch.nn.Module):
        obj = obj.state_dict()
    elif isinstance(obj, dict) and "state_dict" in obj:
        extra = {k: v for k, v in obj.items() if k != "state_dict"}
        obj = obj["state_dict"]
    return collections.OrderedDict((k, v.detach().cpu().float().numpy()) for k, v in obj.items()), extra


def to_seqnn(state_dict, out_path, vocab, labels, cell=None, head="last", padding_idx=-1,
             dropout=0.0, tokenizer=None, metadata=None, name_map=(), stream=False, hidden_dim=None):
    """state_dict: {name: numpy array or torch tensor}. hidden_dim: see infer_config."""
    sd = collections.OrderedDict()
    for k, v in state_dict.items():
        sd[k] = v.detach().cpu().float().numpy() if hasattr(v, "detach") else np.asarray(v, np.float32)
    sd = map_names(sd, name_map)
    config = infer_config(sd, cell=cell, head=head, padding_idx=padding_idx, dropout=dropout,
                          hidden_dim=hidden_dim)
    config["stream"] = bool(stream)
    write_model(out_path, sd, config, vocab, labels, tokenizer, metadata)
    return config


LESSON_NAMES = [("embedding.", "emb.")]


def to_torch(model_path, out_path, split=False, names="seqnn"):
    """Writes {"state_dict", "vocab", "labels", "config", "tokenizer", "metadata"} to out_path,
    or with split the bare state_dict there and vocab.txt / labels.txt / config.json beside it."""
    import torch
    m = read_model(model_path)
    sd = collections.OrderedDict()
    for name, t in m["tensors"].items():
        if names == "lesson":
            for old, new in LESSON_NAMES:
                if name.startswith(old):
                    name = new + name[len(old):]
        sd[name] = torch.from_numpy(np.array(t, dtype=np.float32))
    if split:
        torch.save(sd, out_path)
        base = os.path.splitext(out_path)[0]
        for suffix, items in (("vocab.txt", m["vocab"]), ("labels.txt", m["labels"])):
            if any("\n" in s or s == "" for s in items):
                raise FormatError("%s: an entry holds a newline or is empty; use the single-file form" % suffix)
            with open(base + "." + suffix, "w", encoding="utf-8") as f:
                f.write("".join(s + "\n" for s in items))
        with open(base + ".config.json", "w", encoding="utf-8") as f:
            json.dump(dict(config=m["config"], tokenizer=m["tokenizer"], metadata=m["metadata"]), f, indent=1)
    else:
        torch.save(dict(state_dict=sd, vocab=m["vocab"], labels=m["labels"], config=m["config"],
                        tokenizer=m["tokenizer"], metadata=m["metadata"]), out_path)
    return m


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    a = sub.add_parser("to-seqnn", help="torch state_dict (.pt) -> seqnn model file")
    a.add_argument("state_dict")
    a.add_argument("out")
    a.add_argument("--vocab", required=True, help="one token per line, <unk> and <pad> first (or .json list)")
    a.add_argument("--labels", required=True, help="one class name per line (or .json list)")
    a.add_argument("--cell", choices=sorted(CELLS), help="default: from the gate count (rnn-tanh for RNN)")
    a.add_argument("--head", choices=HEADS, default="last",
                   help="mean or max for a bag of embeddings (a state_dict without rnn tensors)")
    a.add_argument("--hidden-dim", type=int,
                   help="stored for a bag of embeddings, which does not use it (default %d)" % BAG_HIDDEN)
    a.add_argument("--padding-idx", type=int, default=-1)
    a.add_argument("--stream", action="store_true",
                   help="mark as a stream model (unidirectional, head last, trained over streams)")
    a.add_argument("--dropout", type=float, default=0.0)
    a.add_argument("--no-lowercase", action="store_true")
    a.add_argument("--strip-markup", action="store_true")
    a.add_argument("--max-tokens", type=int, default=0)
    a.add_argument("--word-ngrams", type=int, default=1,
                   help="a bag of embeddings' word n-grams: the vocabulary holds them as words joined "
                        "by a space, and their ids follow the word ids of a record")
    a.add_argument("--map", action="append", default=[], metavar="OLD=NEW",
                   help="extra module-name prefix mapping, e.g. --map enc.=rnn.")
    a.add_argument("--meta", action="append", default=[], metavar="KEY=VALUE")
    b = sub.add_parser("to-torch", help="seqnn model file -> torch .pt")
    b.add_argument("model")
    b.add_argument("out")
    b.add_argument("--split", action="store_true", help="bare state_dict plus .vocab.txt/.labels.txt/.config.json")
    b.add_argument("--names", choices=("seqnn", "lesson"), default="seqnn",
                   help="lesson: embedding. -> emb. as the lesson's module")
    c = sub.add_parser("info", help="print a model file's architecture and metadata")
    c.add_argument("model")
    args = ap.parse_args(argv)
    try:
        if args.command == "to-seqnn":
            sd, extra = load_state_dict(args.state_dict)
            name_map = [tuple(m.split("=", 1)) for m in args.map]
            meta = dict(kv.split("=", 1) for kv in args.meta)
            tokenizer = dict(lowercase=not args.no_lowercase, strip_markup=args.strip_markup,
                             max_tokens=args.max_tokens, word_ngrams=args.word_ngrams)
            config = to_seqnn(sd, args.out, read_lines(args.vocab), read_lines(args.labels),
                              cell=args.cell, head=args.head, padding_idx=args.padding_idx,
                              dropout=args.dropout, tokenizer=tokenizer, metadata=meta, name_map=name_map,
                              stream=args.stream, hidden_dim=args.hidden_dim)
            print(json.dumps(config))
        elif args.command == "to-torch":
            to_torch(args.model, args.out, split=args.split, names=args.names)
        else:
            m = read_model(args.model)
            print(json.dumps(dict(config=m["config"], tokenizer=m["tokenizer"], labels=m["labels"],
                                  vocab_size=len(m["vocab"]), metadata=m["metadata"]), indent=1))
    except (FormatError, OSError, KeyError, ValueError) as e:
        print("convert.py: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
