#!/usr/bin/python3
"""PyTorch's time for one sequence at batch 1 with the lesson's LSTM classifier
(embedding 64, hidden 32, packed, last state), the figure torch_baseline.py
does not print. Usage: torch_batch1.py [TOKENS] [THREADS]"""
import statistics
import sys
import time

import torch

tokens = int(sys.argv[1]) if len(sys.argv) > 1 else 43
threads = int(sys.argv[2]) if len(sys.argv) > 2 else 2
torch.set_num_threads(threads)
torch.manual_seed(0)
emb = torch.nn.Embedding(67000, 64)
rnn = torch.nn.LSTM(64, 32, batch_first=True)
fc = torch.nn.Linear(32, 4)


def classify(x, lengths):
    p = torch.nn.utils.rnn.pack_padded_sequence(emb(x), lengths, batch_first=True, enforce_sorted=False)
    _, (h, _) = rnn(p)
    return torch.softmax(fc(h[-1]), 1)


x = torch.randint(2, 67000, (1, tokens))
lengths = torch.tensor([tokens])
times = []
with torch.no_grad():
    for i in range(2200):
        t0 = time.perf_counter()
        classify(x, lengths)
        if i >= 200:
            times.append(time.perf_counter() - t0)
print(f"torch batch 1 ({tokens} tokens, {threads} threads): median {statistics.median(times) * 1e6:.1f} us, "
      f"mean {statistics.mean(times) * 1e6:.1f} us")
