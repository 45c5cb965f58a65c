"""A same-machine peer for the trainer's speed: nanoGPT's model (Karpathy's model.py, the parts a CPU run uses) at the
`nano` shape, trained the way the nano recipe trains it (AdamW betas 0.9/0.99, weight decay 0.1 on matrices, clip 1.0,
fp32), timed per iteration on random tokens. Run it interleaved with bench/Wafer.Bench so both see the same machine.

Debian packages (not needed by the build or the tests):  apt-get install python3-torch libopenblas0-pthread
Usage:  /usr/bin/python3 bench/peer/nanogpt_torch.py [threads] [seconds] [gpt2]
Debian's torch 1.13 multiplies through OpenBLAS, whose threads are set apart from torch's (OPENBLAS_NUM_THREADS). On
2 cores the faster split measured: nano  OPENBLAS_NUM_THREADS=1 ... 2  (103 against 116 ms the other way);
gpt2-124m  OPENBLAS_NUM_THREADS=2 OMP_NUM_THREADS=1 ... 1 gpt2  (3.05 against 4.50 s). This build is far slower than the
libtorch the trainer's issue quotes (37.9 ms for nano): it is a peer measured in the same sitting, not that reference.
"""
import math
import statistics
import sys
import time

import torch
import torch.nn as nn
from torch.nn import functional as F


class CausalSelfAttention(nn.Module):
    def __init__(self, c, nh, t):
        super().__init__()
        self.c_attn = nn.Linear(c, 3 * c)
        self.c_proj = nn.Linear(c, c)
        self.nh = nh
        self.register_buffer("mask", torch.tril(torch.ones(t, t)).view(1, 1, t, t))

    def forward(self, x):
        b, t, c = x.size()
        q, k, v = self.c_attn(x).split(c, dim=2)
        k = k.view(b, t, self.nh, c // self.nh).transpose(1, 2)
        q = q.view(b, t, self.nh, c // self.nh).transpose(1, 2)
        v = v.view(b, t, self.nh, c // self.nh).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
        att = att.masked_fill(self.mask[:, :, :t, :t] == 0, float("-inf"))
        att = F.softmax(att, dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(b, t, c)
        return self.c_proj(y)


class Block(nn.Module):
    def __init__(self, c, nh, t):
        super().__init__()
        self.ln_1 = nn.LayerNorm(c)
        self.attn = CausalSelfAttention(c, nh, t)
        self.ln_2 = nn.LayerNorm(c)
        self.c_fc = nn.Linear(c, 4 * c)
        self.c_proj = nn.Linear(4 * c, c)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.c_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))


class GPT(nn.Module):
    def __init__(self, layers, c, nh, vocab, t):
        super().__init__()
        self.wte = nn.Embedding(vocab, c)
        self.wpe = nn.Embedding(t, c)
        self.h = nn.ModuleList([Block(c, nh, t) for _ in range(layers)])
        self.ln_f = nn.LayerNorm(c)
        self.lm_head = nn.Linear(c, vocab, bias=False)
        self.wte.weight = self.lm_head.weight  # tied, as nanoGPT and GPT-2
        for name, p in self.named_parameters():
            if p.dim() == 2:
                nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * layers) if name.endswith("c_proj.weight") else 0.02)
            elif name.endswith("bias"):
                nn.init.zeros_(p)

    def forward(self, idx, targets):
        b, t = idx.size()
        x = self.wte(idx) + self.wpe(torch.arange(t, dtype=torch.long))
        for block in self.h:
            x = block(x)
        logits = self.lm_head(self.ln_f(x))
        return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))


def main():
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 10.0
    gpt2 = len(sys.argv) > 3 and sys.argv[3] == "gpt2"
    torch.set_num_threads(threads)
    torch.manual_seed(1337)
    # nano: L4 C128 NH4 V65 T64, batch 12; gpt2-124m: L12 C768 NH12 V50304 (padded, as llm.c), batch 4, T 64.
    layers, c, nh, vocab, t, b = (12, 768, 12, 50304, 64, 4) if gpt2 else (4, 128, 4, 65, 64, 12)
    model = GPT(layers, c, nh, vocab, t)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    other = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": other, "weight_decay": 0.0}],
                            lr=1e-3, betas=(0.9, 0.99))
    g = torch.Generator().manual_seed(1)
    x = torch.randint(0, 65 if not gpt2 else 50257, (b, t), generator=g)
    y = torch.randint(0, 65 if not gpt2 else 50257, (b, t), generator=g)

    def step():
        loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    for _ in range(5 if not gpt2 else 2):
        step()
    times = []
    start = time.perf_counter()
    while time.perf_counter() - start < seconds or len(times) < 5:
        t0 = time.perf_counter()
        step()
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    name = "gpt2-124m (B4 T64)" if gpt2 else "nano (L4 C128 NH4 V65, B12 T64)"
    print(f"torch {torch.__version__} step {name}, {threads} threads: median {statistics.median(times):.1f} ms, "
          f"min {times[0]:.1f}, mean {statistics.mean(times):.1f} ({len(times)} steps)")


if __name__ == "__main__":
    main()
