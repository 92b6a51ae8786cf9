#!/usr/bin/env python3
"""Pipeline tests: gst-launch-1.0 runs of the seqnn elements over the project's
own fixtures (always) and the real files in ../shared/data (when present).

Usage: test_pipelines.py CASE   (exit 0 pass, 1 fail, 77 skip)
"""
import json
import os
import random
import re
import subprocess
import sys
import tempfile

ROOT = os.environ.get('SEQNN_SOURCE_ROOT', os.path.join(os.path.dirname(__file__), '..', '..'))
BUILD = os.environ.get('SEQNN_BUILD_ROOT', os.path.join(ROOT, 'build'))
DATA = os.environ.get('SEQNN_SHARED_DATA', os.path.join(ROOT, '..', 'shared', 'data'))
SKIP = 77
LABELS = ['World', 'Sports', 'Business', 'Sci/Tech']

# Words that make each made-up record's topic obvious, and filler shared by all.
TOPIC_WORDS = [
    'minister election government troops border president parliament embassy refugees treaty'.split(),
    'match goal coach season league championship striker tennis olympic team'.split(),
    'shares profit market stocks investors earnings bank quarterly merger prices'.split(),
    'software internet computer scientists space research chip wireless nasa browser'.split(),
]
FILLER = 'the a of in on and to for with new said after report today week'.split()


def env():
    e = dict(os.environ)
    e['GST_PLUGIN_PATH'] = os.path.join(BUILD, 'gst')
    e.setdefault('GST_REGISTRY_1_0', os.path.join(BUILD, 'tests', 'gst-registry-pipelines.bin'))
    return e


def launch(*args, check=True, timeout=300):
    cmd = ['gst-launch-1.0', '-q'] + list(args)
    p = subprocess.run(cmd, capture_output=True, text=True, env=env(), timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return p


def made_up_csv(path, n, seed):
    rng = random.Random(seed)
    with open(path, 'w', encoding='utf-8') as f:
        for _ in range(n):
            c = rng.randrange(4)
            words = [rng.choice(TOPIC_WORDS[c]) for _ in range(3)] + [rng.choice(FILLER) for _ in range(5)]
            rng.shuffle(words)
            title = ' '.join(words[:3]).capitalize()
            desc = ' '.join(words[3:]) + '.'
            f.write(f'"{c + 1}","{title}","{desc}"\n')


def tiny_model(tmp):
    train = os.path.join(tmp, 'train.csv')
    model = os.path.join(tmp, 'tiny.model')
    made_up_csv(train, 1600, 1)
    launch('filesrc', f'location={train}', '!', 'seqtokenize', 'format=csv', '!',
           'lstmtrain', f'model-out={model}', 'epochs=5', 'embed-dim=16', 'hidden-dim=16', 'head=mean', 'learning-rate=0.01', 'seed=3')
    assert os.path.getsize(model) > 0
    return model


def classify_jsonl(src_args, model, extra=()):
    p = launch(*src_args, '!', 'lstmclassify', f'model={model}', 'annotate=json', *extra, '!', 'fdsink', 'fd=1')
    return [json.loads(line) for line in p.stdout.splitlines() if line.strip()]


def check_results(rows, labels):
    last = -1
    for r in rows:
        assert r['label'] in labels, r
        assert abs(sum(r['probabilities']) - 1.0) < 1e-4, r
        assert abs(max(r['probabilities']) - r['confidence']) < 1e-6, r
        assert r['probabilities'][r['class-id']] == max(r['probabilities']), r
        if r['pts'] is not None:
            assert r['pts'] >= last, f"timestamps out of order: {r['pts']} after {last}"
            last = r['pts']


def count_cues(path):
    with open(path, encoding='utf-8-sig', errors='replace') as f:
        return sum(1 for line in f if '-->' in line)


def basic_english(line):
    rules = [(r"\'", " '  "), (r'\"', ''), (r'\.', ' . '), (r'<br \/>', ' '), (r',', ' , '), (r'\(', ' ( '),
             (r'\)', ' ) '), (r'\!', ' ! '), (r'\?', ' ? '), (r'\;', ' '), (r'\:', ' '), (r'\s+', ' ')]
    line = line.lower()
    for p, r in rules:
        line = re.sub(p, r, line)
    return line.split()


# ---- cases ---------------------------------------------------------------

def case_srt_fixture(tmp):
    """A SubRip file of our own with markup, a two-line cue and an empty cue."""
    model = tiny_model(tmp)
    srt = os.path.join(tmp, 'cues.srt')
    with open(srt, 'w', encoding='utf-8') as f:
        f.write('1\n00:00:01,000 --> 00:00:02,000\n<i>The coach</i> said the team won the match in the league\n\n'
                '2\n00:00:03,000 --> 00:00:05,000\nShares and profit rose\nas investors bought stocks\n\n'
                '3\n00:00:06,000 --> 00:00:07,000\n<b>Scientists &amp; NASA</b> built a new chip for the computer\n\n')
    rows = classify_jsonl(['filesrc', f'location={srt}', '!', 'subparse'], model)
    assert len(rows) == 3, rows
    check_results(rows, LABELS)
    assert [r['pts'] for r in rows] == [1_000_000_000, 3_000_000_000, 6_000_000_000], rows
    assert [r['label'] for r in rows] == ['Sports', 'Business', 'Sci/Tech'], rows
    assert 'as investors' in rows[1]['text']


def case_train_roundtrip(tmp):
    """Train from CSV with lstmtrain, then evaluate held-out rows with lstmclassify."""
    model = tiny_model(tmp)
    test = os.path.join(tmp, 'test.csv')
    made_up_csv(test, 200, 2)
    p = subprocess.run(['gst-launch-1.0', '-m', 'filesrc', f'location={test}', '!', 'seqtokenize', 'format=csv',
                        '!', 'lstmclassify', f'model={model}', '!', 'fakesink'],
                       capture_output=True, text=True, env=env(), timeout=300)
    assert p.returncode == 0, p.stderr
    m = re.search(r'lstmclassify-summary, count=\(guint64\)(\d+), accuracy=\(double\)([0-9.e-]+)', p.stdout)
    assert m, p.stdout[-2000:]
    count, acc = int(m.group(1)), float(m.group(2))
    print(f'held-out accuracy {acc:.3f} on {count} rows')
    assert count == 200 and acc >= 0.9, (count, acc)
    # The evaluate script formats the same summary.
    e = dict(env(), SEQNN_BUILD_DIR=BUILD)
    p = subprocess.run(['bash', os.path.join(ROOT, 'pipelines', 'evaluate-csv.sh'), test, model],
                       capture_output=True, text=True, env=e, timeout=300)
    assert p.returncode == 0 and 'accuracy' in p.stdout and 'confusion' in p.stdout, p.stdout + p.stderr


def case_real_subtitles(tmp):
    """Every real SRT and VTT file: one result per cue, in order."""
    subs = os.path.join(DATA, 'subtitles')
    if not os.path.isdir(subs):
        print(f'SKIP: {subs} is absent (the real subtitle files live in ../shared/data)')
        return SKIP
    model = tiny_model(tmp)
    files = sorted(os.path.join(d, f) for d, _, fs in os.walk(subs) for f in fs if f.endswith(('.srt', '.vtt')))
    assert files
    total = 0
    for path in files:
        rows = classify_jsonl(['filesrc', f'location={path}', '!', 'subparse'], model)
        check_results(rows, LABELS)
        expected = count_cues(path)
        assert len(rows) == expected, f'{path}: {len(rows)} results for {expected} cues'
        total += len(rows)
    print(f'{len(files)} files, {total} cues classified')


def case_real_transcripts(tmp):
    """Every transcript line with tokens gets one result."""
    tdir = os.path.join(DATA, 'transcripts')
    if not os.path.isdir(tdir):
        print(f'SKIP: {tdir} is absent (the real transcripts live in ../shared/data)')
        return SKIP
    model = tiny_model(tmp)
    total = 0
    for name in sorted(os.listdir(tdir)):
        if not name.endswith('.txt'):
            continue
        path = os.path.join(tdir, name)
        with open(path, encoding='utf-8', errors='replace') as f:
            expected = sum(1 for line in f if basic_english(line))
        rows = classify_jsonl(['filesrc', f'location={path}', '!', 'seqtokenize', 'format=text', 'drop-empty=true'],
                              model)
        check_results(rows, LABELS)
        assert len(rows) == expected, f'{name}: {len(rows)} results for {expected} lines'
        total += len(rows)
    print(f'{total} transcript lines classified')


def case_errors(tmp):
    """Missing and damaged models, unwritable output: clear errors, nothing lost."""
    p = launch('filesrc', f'location={os.path.join(ROOT, "data", "sample-news.srt")}', '!', 'subparse', '!',
               'lstmclassify', f'model={os.path.join(tmp, "missing.model")}', '!', 'fakesink', check=False)
    assert p.returncode != 0 and 'missing.model' in (p.stderr + p.stdout), p.stderr
    bad = os.path.join(tmp, 'bad.model')
    with open(bad, 'wb') as f:
        f.write(b'\x10\x00\x00\x00\x00\x00\x00\x00{"not": "a model"')
    p = launch('filesrc', f'location={os.path.join(ROOT, "data", "sample-news.srt")}', '!', 'subparse', '!',
               'lstmclassify', f'model={bad}', '!', 'fakesink', check=False)
    assert p.returncode != 0 and 'bad.model' in (p.stderr + p.stdout), p.stderr
    train = os.path.join(tmp, 'train.csv')
    made_up_csv(train, 50, 4)
    p = launch('filesrc', f'location={train}', '!', 'seqtokenize', 'format=csv', '!', 'lstmtrain',
               'model-out=/nonexistent-dir/x.model', check=False)
    assert p.returncode != 0 and 'nonexistent-dir' in (p.stderr + p.stdout), p.stderr


def case_shipped_model(tmp):
    """The README's first command: the shipped model on the bundled sample subtitle."""
    model = os.path.join(ROOT, 'models', 'agnews.model')
    if not os.path.exists(model):
        print('SKIP: models/agnews.model is not there yet')
        return SKIP
    e = dict(env(), SEQNN_BUILD_DIR=BUILD)
    p = subprocess.run(['bash', os.path.join(ROOT, 'pipelines', 'classify-subtitles.sh'),
                        os.path.join(ROOT, 'data', 'sample-news.srt')], capture_output=True, text=True, env=e,
                       timeout=300)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    print(p.stdout)
    assert len(lines) == 12, lines
    # The sample's cues are written three per topic, in topic order.
    expected = ['World'] * 3 + ['Sports'] * 3 + ['Business'] * 3 + ['Sci/Tech'] * 3
    got = [line.split()[1] for line in lines]
    right = sum(g == e for g, e in zip(got, expected))
    assert right >= 10, f'only {right}/12 sample cues on their topic: {got}'


def case_huge_record(tmp):
    """One 10 M-token record (a transcript without line breaks) under a memory
    limit: classified on its first max-tokens tokens; with no cap, a clear error
    instead of an abort."""
    import resource
    path = os.path.join(tmp, 'huge.txt')
    with open(path, 'w') as f:
        f.write('stocks ' * 10_000_000)
    model = tiny_model(tmp)
    limit = 3 << 30  # bytes of address space

    def limited():
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    def run(*extra):
        cmd = ['gst-launch-1.0', '-q', 'filesrc', f'location={path}', '!', 'seqtokenize', 'format=text',
               '!', 'lstmclassify', f'model={model}', 'post-messages=true', *extra, '!', 'fakesink']
        return subprocess.run(cmd, capture_output=True, text=True, env=env(), timeout=300,
                              preexec_fn=limited)

    p = run()  # the default cap (4096 tokens)
    assert p.returncode == 0, f'default max-tokens: rc {p.returncode}\n{p.stdout}\n{p.stderr}'
    # Straight from the file as text/plain: the element's tokenizer stops at the cap.
    p = subprocess.run(['gst-launch-1.0', '-q', 'filesrc', f'location={path}', 'blocksize=100000000', '!',
                        'text/plain', '!', 'lstmclassify', f'model={model}', '!', 'fakesink'],
                       capture_output=True, text=True, env=env(), timeout=300, preexec_fn=limited)
    assert p.returncode == 0, f'text/plain: rc {p.returncode}\n{p.stdout}\n{p.stderr}'
    p = run('max-tokens=0')  # the model has no cap: too big for the limit, an error, not an abort
    assert p.returncode > 0, f'no cap: rc {p.returncode} (negative: killed by a signal)\n{p.stderr}'
    assert 'lower max-tokens' in p.stdout + p.stderr, p.stdout + p.stderr


def case_chapters(tmp):
    """pipelines/chapters.sh and chapters-mkv.py on the sample: four topic chapters."""
    model = os.path.join(ROOT, 'models', 'agnews.model')
    if not os.path.exists(model):
        print('SKIP: models/agnews.model is not there yet')
        return SKIP
    e = dict(env(), SEQNN_BUILD_DIR=BUILD)
    srt = os.path.join(ROOT, 'data', 'sample-news.srt')
    vtt = os.path.join(tmp, 'chapters.vtt')
    p = subprocess.run(['bash', os.path.join(ROOT, 'pipelines', 'chapters.sh'), srt, vtt],
                       capture_output=True, text=True, env=e, timeout=300)
    assert p.returncode == 0, p.stderr
    text = open(vtt, encoding='utf-8').read()
    print(text)
    assert text.startswith('WEBVTT\n\n'), text
    cues = [c.splitlines() for c in text.split('\n\n')[1:] if c.strip()]
    assert [c[2] for c in cues] == ['World', 'Sports', 'Business', 'Sci/Tech'], cues
    assert cues[0][1] == '00:00:01.000 --> 00:00:11.500', cues[0]
    mkv = os.path.join(tmp, 'news.mkv')
    p = subprocess.run(['/usr/bin/python3', os.path.join(ROOT, 'pipelines', 'chapters-mkv.py'), srt, mkv],
                       capture_output=True, text=True, env=e, timeout=300)
    assert p.returncode == 0, p.stderr
    print(p.stdout)
    assert os.path.getsize(mkv) > 0
    assert [l.split()[-1] for l in p.stdout.splitlines()] == ['World', 'Sports', 'Business', 'Sci/Tech'], p.stdout


CASES = {name[5:]: fn for name, fn in globals().items() if name.startswith('case_')}

if __name__ == '__main__':
    if len(sys.argv) != 2 or sys.argv[1] not in CASES:
        sys.exit(f'usage: {sys.argv[0]} {"|".join(CASES)}')
    with tempfile.TemporaryDirectory(prefix='seqnn-pipeline-') as tmp:
        try:
            rc = CASES[sys.argv[1]](tmp)
        except AssertionError as e:
            print(f'FAIL: {e}')
            sys.exit(1)
    sys.exit(rc or 0)
