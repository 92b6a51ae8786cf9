# SPDX-License-Identifier: LGPL-2.1-or-later
"""models/convert.py: the numpy-only reader verifies every committed fixture
(checksum, shapes) and rewrites it byte-identically; with torch, model -> .pt
-> model is byte-identical and .pt -> model -> .pt tensor-identical, and the
CLI works; a bag of embeddings (num_layers 0) converts and its invalid
settings are refused by both readers. Exit 77 (skip) when numpy is missing, or torch (after the numpy checks)."""
import json
import os
import struct
import subprocess
import sys
import tempfile

ROOT = os.environ.get("SEQNN_SOURCE_ROOT") or os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "models"))
try:
    import numpy as np
except ImportError:
    print("SKIP: numpy is not importable by %s" % sys.executable)
    sys.exit(77)
import convert  # noqa: E402

FIXTURES = os.path.join(ROOT, "tests", "fixtures", "convert")
NAMES = ("lstm", "gru2-bi", "rnn-tanh-mean", "bag-mean")


def read(path):
    with open(path, "rb") as f:
        return f.read()


def check_numpy_only(tmp):
    for name in NAMES:
        path = os.path.join(FIXTURES, name + ".model")
        m = convert.read_model(path)
        assert m["vocab"][:2] == ["<unk>", "<pad>"], name
        assert m["labels"] == ["World", "Sports", "Business", "Sci/Tech"], m["labels"]
        out = os.path.join(tmp, name + ".model")
        convert.write_model(out, m["tensors"], m["config"], m["vocab"], m["labels"], m["tokenizer"], m["metadata"])
        assert read(out) == read(path), "%s: rewrite differs" % name
        # damage is caught by the Python reader too
        blob = bytearray(read(path))
        blob[-5] ^= 1
        with open(out, "wb") as f:
            f.write(blob)
        try:
            convert.read_model(out)
        except convert.FormatError as e:
            assert "checksum" in str(e)
        else:
            raise AssertionError("%s: flipped data byte not detected" % name)
    # other classifiers' module names map onto seqnn's; bias=False becomes zero biases
    sd = {"module.emb.weight": np.zeros((5, 3), np.float32), "module.lstm.weight_ih_l0": np.zeros((8, 3), np.float32),
          "module.lstm.weight_hh_l0": np.zeros((8, 2), np.float32), "module.linear.weight": np.zeros((4, 2), np.float32),
          "module.linear.bias": np.zeros(4, np.float32)}
    mapped = convert.map_names(sd)
    assert list(mapped) == ["embedding.weight", "rnn.weight_ih_l0", "rnn.weight_hh_l0", "fc.weight", "fc.bias"], list(mapped)
    c = convert.infer_config(mapped)
    assert (c["cell"], c["hidden_dim"], c["embed_dim"], c["num_classes"]) == ("lstm", 2, 3, 4), c
    full = convert.check_tensors(mapped, c)
    assert full["rnn.bias_ih_l0"].shape == (8,) and not full["rnn.bias_ih_l0"].any()
    print("numpy reader/writer: %d fixtures verified and rewritten byte-identically" % len(NAMES))


def check_stream(tmp):
    """The stream mark ("seqnn.stream", issue 10): written only when true, read back, refused on an
    architecture that cannot run as a stream; the C reader agrees (seqnn-load-check, when built)."""
    m = convert.read_model(os.path.join(FIXTURES, "lstm.model"))
    assert m["config"]["stream"] is False
    out = os.path.join(tmp, "stream.model")
    config = dict(m["config"], stream=True)
    convert.write_model(out, m["tensors"], config, m["vocab"], m["labels"], m["tokenizer"], m["metadata"])
    assert b'"seqnn.stream":"true"' in read(out)
    back = convert.read_model(out)
    assert back["config"]["stream"] is True
    again = os.path.join(tmp, "stream2.model")
    convert.write_model(again, back["tensors"], back["config"], back["vocab"], back["labels"], back["tokenizer"],
                        back["metadata"])
    assert read(again) == read(out), "stream model rewrite differs"
    bi = convert.read_model(os.path.join(FIXTURES, "gru2-bi.model"))
    try:
        convert.write_model(os.path.join(tmp, "bad.model"), bi["tensors"], dict(bi["config"], stream=True),
                            bi["vocab"], bi["labels"], bi["tokenizer"], bi["metadata"])
    except convert.FormatError as e:
        assert "unidirectional with head last" in str(e), e
    else:
        raise AssertionError("a bidirectional stream model was written")
    checker = os.path.join(os.environ.get("SEQNN_BUILD_ROOT", ""), "tests", "modelfile", "seqnn-load-check")
    if os.path.exists(checker):
        lines = subprocess.run([checker, out], capture_output=True, text=True, check=True).stdout.split("\n")
        assert lines[0] == "ok", lines
    print("stream mark: written, read back, rewritten byte-identically, refused on a bidirectional model")


def resigned(blob, **meta_changes):
    """blob with some metadata changed and the checksum recomputed, so that readers judge
    the content, not the damage."""
    (n,) = struct.unpack("<Q", blob[:8])
    header, data = json.loads(blob[8:8 + n].decode("utf-8")), blob[8 + n:]
    meta = header["__metadata__"]
    meta.update(meta_changes)
    entries = {k: (v["dtype"], v["shape"], tuple(v["data_offsets"])) for k, v in header.items() if k != "__metadata__"}
    meta["seqnn.checksum"] = convert.compute_checksum(entries, meta, data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data


def check_bag(tmp):
    """num_layers 0, a bag of embeddings: no rnn tensors, fc reads the embedding (C x E); the
    architecture is inferred from that; head last or bidirectional are refused by the writer, the
    Python reader and the C reader (seqnn-load-check, when built)."""
    path = os.path.join(FIXTURES, "bag-mean.model")
    m = convert.read_model(path)
    c = m["config"]
    assert (c["num_layers"], c["bidirectional"], c["head"]) == (0, False, "mean"), c
    assert list(m["tensors"]) == ["embedding.weight", "fc.weight", "fc.bias"], list(m["tensors"])
    assert m["tensors"]["fc.weight"].shape == (c["num_classes"], c["embed_dim"])
    inferred = convert.infer_config(m["tensors"], head="max", hidden_dim=c["hidden_dim"])
    assert inferred == dict({k: v for k, v in c.items() if k != "stream"}, head="max"), (inferred, c)
    try:
        convert.infer_config(m["tensors"])  # head "last", the default
    except convert.FormatError as e:
        assert "no last state" in str(e), e
    else:
        raise AssertionError("a bag with head last was inferred")
    bad = {"head last": (dict(c, head="last"), "no last state"),
           "bidirectional": (dict(c, bidirectional=True), "no direction")}
    files = []
    for what, (config, reason) in bad.items():
        try:
            convert.write_model(os.path.join(tmp, "bad.model"), m["tensors"], config, m["vocab"], m["labels"],
                                m["tokenizer"], m["metadata"])
        except convert.FormatError as e:
            assert reason in str(e), e
        else:
            raise AssertionError("a bag with %s was written" % what)
        out = os.path.join(tmp, "bag-%s.model" % what.replace(" ", "-"))
        with open(out, "wb") as f:
            f.write(resigned(read(path), **{"seqnn.head": config["head"],
                                            "seqnn.bidirectional": "true" if config["bidirectional"] else "false"}))
        try:
            convert.read_model(out)
        except convert.FormatError as e:
            assert reason in str(e), e
        else:
            raise AssertionError("a bag with %s was read" % what)
        files.append((out, reason))
    checker = os.path.join(os.environ.get("SEQNN_BUILD_ROOT", ""), "tests", "modelfile", "seqnn-load-check")
    if os.path.exists(checker):
        lines = subprocess.run([checker, path] + [p for p, _ in files], capture_output=True, text=True,
                               check=True).stdout.split("\n")
        assert lines[0] == "ok", lines
        for (p, reason), line in zip(files, lines[1:]):
            assert reason in line, (p, line)
    print("bag of embeddings: architecture inferred, head last and bidirectional refused by both readers")


def check_torch(tmp):
    try:
        import torch
    except ImportError:
        print("torch not importable: torch round trips skipped")
        return False
    for name in NAMES:
        path = os.path.join(FIXTURES, name + ".model")
        pt = os.path.join(tmp, name + ".pt")
        m = convert.to_torch(path, pt, names="lesson")
        saved = torch.load(pt)
        assert "emb.weight" in saved["state_dict"]
        back = os.path.join(tmp, name + ".back.model")
        convert.to_seqnn(saved["state_dict"], back, saved["vocab"], saved["labels"],
                         cell=saved["config"]["cell"], head=saved["config"]["head"],
                         padding_idx=saved["config"]["padding_idx"], dropout=saved["config"]["dropout"],
                         tokenizer=saved["tokenizer"], metadata=saved["metadata"],
                         hidden_dim=saved["config"]["hidden_dim"])
        assert read(back) == read(path), "%s: model -> torch -> model differs" % name
        pt2 = os.path.join(tmp, name + ".2.pt")
        convert.to_torch(back, pt2, names="lesson")
        again = torch.load(pt2)
        for k, v in saved["state_dict"].items():
            assert torch.equal(v, again["state_dict"][k]), k
        if name != "rnn-tanh-mean":
            continue  # each CLI run imports torch: once is enough
        # the CLI: split form, then back with the files it wrote
        split = os.path.join(tmp, name + ".split.pt")
        script = os.path.join(ROOT, "models", "convert.py")
        subprocess.check_call([sys.executable, script, "to-torch", "--split", path, split])
        base = os.path.splitext(split)[0]
        cli_out = os.path.join(tmp, name + ".cli.model")
        # the documented form: STATE_DICT.pt --vocab ... --labels ... --cell ... OUT.model
        args = [sys.executable, script, "to-seqnn", split, "--vocab", base + ".vocab.txt",
                "--labels", base + ".labels.txt", "--cell", m["config"]["cell"], "--head", m["config"]["head"],
                "--hidden-dim", str(m["config"]["hidden_dim"])]
        for k, v in m["metadata"].items():
            args += ["--meta", "%s=%s" % (k, v)]
        args.append(cli_out)
        subprocess.check_call(args, stdout=subprocess.DEVNULL)
        assert read(cli_out) == read(path), "%s: CLI round trip differs" % name
    # inferred architecture: gate count, layers, direction
    m = convert.read_model(os.path.join(FIXTURES, "gru2-bi.model"))
    c = convert.infer_config(m["tensors"])
    assert (c["cell"], c["num_layers"], c["bidirectional"]) == ("gru", 2, True), c
    try:
        convert.infer_config(m["tensors"], cell="lstm")
    except convert.FormatError as e:
        assert "gates" in str(e)
    else:
        raise AssertionError("wrong --cell accepted")
    print("torch round trips: %d models identical both ways (module API and CLI)" % len(NAMES))
    return True


def main():
    with tempfile.TemporaryDirectory() as tmp:
        check_numpy_only(tmp)
        check_stream(tmp)
        check_bag(tmp)
        if not check_torch(tmp):
            return 77  # the numpy checks passed; report the torch part as skipped
    return 0


if __name__ == "__main__":
    sys.exit(main())
