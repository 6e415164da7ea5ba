"""Plain PyTorch reference for `stylelab bench`: the same network and losses
as stylelab (VGG19 to relu5_1, caffe preprocessing, content relu4_2, style
relu1_1..relu5_1, tv), written the way a PyTorch user would: NCHW tensors,
weights that need no gradient, one forward + backward per evaluation.

Prints one JSON line: {"impl", "size", "device", "s_per_eval", ...}.
"""
import argparse
import json
import resource
import time

import torch
import torch.nn.functional as F

BLOCKS = [2, 2, 4, 4, 4]
CHANNELS = [64, 128, 256, 512, 512]


def random_vgg19(device):
    """He-normal weights, zero biases, to relu5_1: same shapes as VGG19."""
    torch.manual_seed(0)
    convs = {}
    cin = 3
    for b, (n, c) in enumerate(zip(BLOCKS, CHANNELS), start=1):
        for i in range(1, n + 1):
            std = (2.0 / (cin * 9)) ** 0.5
            w = (torch.randn(c, cin, 3, 3) * std).to(device)
            convs[f"conv{b}_{i}"] = (w, torch.zeros(c, device=device))
            cin = c
    return convs


def features(convs, x, wanted, deepest):
    mean = torch.tensor([103.939, 116.779, 123.68], device=x.device).view(1, 3, 1, 1)
    h = x.flip(1) * 255.0 - mean
    out = {}
    for b, n in enumerate(BLOCKS, start=1):
        for i in range(1, n + 1):
            w, bias = convs[f"conv{b}_{i}"]
            h = F.relu(F.conv2d(h, w, bias, padding=1))
            name = f"relu{b}_{i}"
            if name in wanted:
                out[name] = h
            if name == deepest:
                return out
        h = F.max_pool2d(h, 2, 2)
    return out


def gram(f):
    _, c, h, w = f.shape
    f = f.reshape(c, h * w)
    return f @ f.t() / (c * h * w)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--device", default="cpu")
    p.add_argument("--evals", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=0)
    a = p.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    dev = torch.device(a.device)
    convs = random_vgg19(dev)
    content_layers = ["relu4_2"]
    style_layers = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"]
    wanted = set(content_layers + style_layers)
    g = torch.Generator().manual_seed(1)
    content = torch.rand(1, 3, a.size, a.size, generator=g).to(dev)
    style = torch.rand(1, 3, a.size, a.size, generator=g).to(dev)
    with torch.no_grad():
        ct = {k: v.detach() for k, v in features(convs, content, content_layers, "relu5_1").items()}
        st = {k: gram(v).detach() for k, v in features(convs, style, style_layers, "relu5_1").items()}
    x = content.clone().requires_grad_(True)

    def evaluate():
        x.grad = None
        f = features(convs, x, wanted, "relu5_1")
        c = sum(F.mse_loss(f[l], ct[l]) for l in content_layers)
        s = sum(F.mse_loss(gram(f[l]), st[l]) for l in style_layers)
        tv = ((x[..., 1:, :] - x[..., :-1, :]) ** 2).mean() + ((x[..., :, 1:] - x[..., :, :-1]) ** 2).mean()
        loss = 5.0 * c + 100.0 * s + 1e-3 * tv
        loss.backward()
        return loss.item()

    for _ in range(a.warmup):
        evaluate()
    if dev.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(a.evals):
        t = time.perf_counter()
        evaluate()
        if dev.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    out = {
        "impl": "pytorch",
        "size": a.size,
        "device": a.device,
        "threads": torch.get_num_threads(),
        "evals": a.evals,
        "s_per_eval": sum(times) / len(times),
        "s_per_eval_min": min(times),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
    }
    if dev.type == "cuda":
        out["peak_gpu_mib"] = torch.cuda.max_memory_allocated() / 2**20
    print(json.dumps(out))


if __name__ == "__main__":
    main()
