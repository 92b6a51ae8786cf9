#!/usr/bin/env python3
"""Writes a labelled file in fastText's format ("__label__NAME tokens"), read with
seqtokenize's layout properties, tokenized as seqtokenize's default (torchtext's
basic_english: lowercase, punctuation apart), so fastText and lstmtrain see the
same rows and the same tokens.

Usage: bench/to-fasttext.py IN OUT [format=csv|tsv|jsonl|fasttext] [header=auto|true|false]
                            [label-column=C] [text-columns=C1,C2] [labels=N1,N2,...]
Columns are header names or 1-based numbers, as seqtokenize takes them; labels=
maps class numbers (1-based) to names, as seqtokenize's labels does."""
import csv
import json
import re
import sys

PUNCT = re.compile(r"([.,!?()'])")


def basic_english(text):
    text = text.lower().replace('"', '').replace('<br />', ' ')
    text = PUNCT.sub(r' \1 ', text).replace(';', ' ').replace(':', ' ')
    return ' '.join(text.split())


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    src, dst = sys.argv[1], sys.argv[2]
    props = dict(a.split('=', 1) for a in sys.argv[3:])
    fmt = props.get('format', 'csv')
    header = props.get('header', 'auto')
    label_col = props.get('label-column', '')
    text_cols = [c for c in props.get('text-columns', '').split(',') if c]
    names = [n for n in props.get('labels', '').split(',') if n]

    def named(c):
        return c != '' and not c.isdigit()

    with open(src, newline='', encoding='utf-8-sig') as f, open(dst, 'w', encoding='utf-8') as out:
        if fmt == 'fasttext':
            for line in f:
                out.write(line)
            return
        if fmt == 'jsonl':
            label_key, text_keys = label_col or 'label', text_cols or ['text']
            rows = ((str(o[label_key]), ' '.join(str(o[k]) for k in text_keys))
                    for o in map(json.loads, filter(str.strip, f)))
        else:
            reader = csv.reader(f) if fmt == 'csv' else (
                line.rstrip('\r\n').split('\t') for line in f if line.strip('\r\n'))
            has_header = header == 'true' or (
                header == 'auto' and (named(label_col) or any(map(named, text_cols))))
            first = next(reader)
            cols = first if has_header else []

            def index(c):
                return cols.index(c) if named(c) else int(c) - 1
            li = index(label_col) if label_col else 0
            ti = [index(c) for c in text_cols]
            if not has_header:
                reader = [first, *reader]
            rows = ((r[li], ' '.join(r[i] for i in (ti or [j for j in range(len(r)) if j != li])))
                    for r in reader if r)
        for label, text in rows:
            if names and label.isdigit():
                label = names[int(label) - 1]
            out.write('__label__%s %s\n' % (label.replace(' ', '_'), basic_english(text)))


main()
