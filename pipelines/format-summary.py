#!/usr/bin/env python3
"""Reads `gst-launch-1.0 -m` output (stdin) and prints lstmclassify's EOS
summary (accuracy, per-class precision/recall/F1, confusion matrix)."""
import re
import sys


def split_top(text):
    """Splits on the commas that are not inside < >."""
    items, depth, cur = [], 0, ''
    for ch in text:
        if ch == '<':
            depth += 1
        elif ch == '>':
            depth -= 1
        if ch == ',' and depth == 0:
            items.append(cur)
            cur = ''
        else:
            cur += ch
    if cur.strip():
        items.append(cur)
    return items


def parse_value(text, kind=None):
    """A GstStructure value as gst-launch prints it: (type)v or (type)< a, b, ... >."""
    m = re.match(r'^\(([a-zA-Z0-9_]+)\)', text.strip())
    kind = m.group(1) if m else kind
    text = text.strip()[m.end():].strip() if m else text.strip()
    if text.startswith('<'):
        return [parse_value(i, kind) for i in split_top(text[1:-1])]
    if kind in ('string', 'gchararray') or (len(text) >= 2 and text[0] == text[-1] == '"'):
        return text.strip('"')  # a string, even 0 (a class named by a number)
    try:
        return float(text) if re.search(r'[.eE]', text) else int(text)
    except ValueError:
        return text


def fields(body):
    out = {}
    for p in split_top(body):
        if '=' in p:
            k, v = p.split('=', 1)
            out[k.strip()] = parse_value(v.rstrip(';'))
    return out


summary = None
for line in sys.stdin:
    i = line.find('lstmclassify-summary,')
    if i >= 0:
        summary = fields(line[i + len('lstmclassify-summary,'):].strip())
    elif 'ERROR' in line or 'WARNING' in line:
        sys.stderr.write(line)
if summary is None:
    sys.exit("no lstmclassify-summary message: did the input carry labels (seqtokenize format=csv|tsv|fasttext)?")
labels = summary['labels']
print(f"samples   {summary['count']}")
print(f"accuracy  {summary['accuracy']:.4f}")
print(f"macro-F1  {summary['macro-f1']:.4f}")
print()
print(f"{'class':<10} {'precision':>9} {'recall':>7} {'F1':>7}")
for k, name in enumerate(labels):
    print(f"{name:<10} {summary['precision'][k]:>9.4f} {summary['recall'][k]:>7.4f} {summary['f1'][k]:>7.4f}")
print()
print("confusion (rows: true class, columns: predicted)")
print(' ' * 10 + ''.join(f"{n[:8]:>9}" for n in labels))
for name, row in zip(labels, summary['confusion']):
    print(f"{name[:10]:<10}" + ''.join(f"{c:>9}" for c in row))
