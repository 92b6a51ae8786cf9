#!/usr/bin/env python3
"""Makes the train/test splits of bench/unseen.sh from four public data sets
the project does not ship (each file as its authors publish it):

  sms  SMS Spam Collection (UCI): SMSSpamCollection, "ham|spam<TAB>text"
       (a first line "Label<TAB>SMS" is kept as the header, else one is added)
  sst2 SST-2 (GLUE): train.tsv and dev.tsv, "sentence<TAB>label" or
       "label<TAB>sentence" with a header; dev.tsv is the test split
  mr   MR movie reviews, sentence polarity v1.0: rt-polarity.pos and .neg
       (Latin-1), written as JSON Lines {"id", "review", "sentiment"}
  bbc  BBC News (bbc-text.csv, "category,text" with a header), any subset
       of its categories (e.g. politics and sport)

Usage: bench/unseen-splits.py OUT_DIR [--sms FILE] [--sst2 TRAIN DEV] [--mr POS NEG] [--bbc FILE]
Splits are seeded (sms 20% test, seed 1; mr 10%, seed 2; bbc 20%, seed 3)."""
import argparse
import csv
import json
import os
import random


def split(rows, fraction, seed):
    rows = rows[:]
    random.Random(seed).shuffle(rows)
    n = int(len(rows) * fraction)
    return rows[n:], rows[:n]


def write_lines(path, header, rows):
    with open(path, 'w', encoding='utf-8') as f:
        f.write(header + '\n' + '\n'.join(rows) + '\n')


def main():
    a = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    a.add_argument('out')
    a.add_argument('--sms')
    a.add_argument('--sst2', nargs=2, metavar=('TRAIN', 'DEV'))
    a.add_argument('--mr', nargs=2, metavar=('POS', 'NEG'))
    a.add_argument('--bbc')
    args = a.parse_args()
    os.makedirs(args.out, exist_ok=True)
    out = lambda name: os.path.join(args.out, name)
    if args.sms:
        lines = [l for l in open(args.sms, encoding='utf-8').read().split('\n') if l.strip()]
        header = 'Label\tSMS'
        if lines[0].split('\t')[0] not in ('ham', 'spam'):
            header, lines = lines[0], lines[1:]
        train, test = split(lines, 0.2, 1)
        write_lines(out('sms-train.tsv'), header, train)
        write_lines(out('sms-test.tsv'), header, test)
    if args.sst2:
        for src, name in zip(args.sst2, ('sst2-train.tsv', 'sst2-test.tsv')):
            lines = [l.rstrip('\r') for l in open(src, encoding='utf-8', newline='').read().split('\n')]
            lines = [l for l in lines if l.strip()]
            cols = lines[0].split('\t')
            # one header for both files: label<TAB>sentence
            label_first = cols[0] == 'label'
            rows = [l if label_first else '\t'.join(reversed(l.split('\t'))) for l in lines[1:]]
            write_lines(out(name), 'label\tsentence', rows)
    if args.mr:
        rows = []
        for path, sentiment in zip(args.mr, ('positive', 'negative')):
            for l in open(path, encoding='latin-1'):
                if l.strip():
                    rows.append({'review': l.strip(), 'sentiment': sentiment})
        train, test = split(rows, 0.1, 2)
        for name, part in (('mr-train.jsonl', train), ('mr-test.jsonl', test)):
            with open(out(name), 'w', encoding='utf-8') as f:
                for i, r in enumerate(part):
                    f.write(json.dumps({'id': i, **r}, ensure_ascii=False) + '\n')
    if args.bbc:
        with open(args.bbc, newline='', encoding='utf-8') as f:
            rows = list(csv.reader(f))
        train, test = split(rows[1:], 0.2, 3)
        for name, part in (('bbc-train.csv', train), ('bbc-test.csv', test)):
            with open(out(name), 'w', newline='', encoding='utf-8') as f:
                w = csv.writer(f)
                w.writerow(rows[0])
                w.writerows(part)


main()
