"""Plain PyTorch reference for `stylelab bench`: the same network and losses
as stylelab (VGG19 to relu5_1, caffe preprocessing, content relu4_2, style
relu1_1..relu5_1, tv), written the way a PyTorch user would: NCHW tensors
(channels-last under bf16/fp16 autocast, which is faster there), weights
that need no gradient, one forward + backward per evaluation, and
torch.optim.LBFGS with the strong-Wolfe line search for steps.

Prints one JSON line with the fields stylelab's bench-one prints.
"""
import argparse
import ctypes
import json
import os
import resource
import time

import torch
import torch.nn.functional as F

BLOCKS = [2, 2, 4, 4, 4]
CHANNELS = [64, 128, 256, 512, 512]

# Host syncs made by LBFGS: every tensor turned into a Python number or
# truth value. Counted by wrapping the methods that do it.
SYNCS = [0]
for name in ("item", "tolist", "__float__", "__bool__", "__int__"):
    original = getattr(torch.Tensor, name)

    def counted(self, *a, _original=original, **k):
        SYNCS[0] += 1
        return _original(self, *a, **k)

    setattr(torch.Tensor, name, counted)


def random_vgg19(device, memory_format):
    """He-normal weights, zero biases, to relu5_1: same shapes as VGG19."""
    torch.manual_seed(0)
    convs = {}
    cin = 3
    for b, (n, c) in enumerate(zip(BLOCKS, CHANNELS), start=1):
        for i in range(1, n + 1):
            std = (2.0 / (cin * 9)) ** 0.5
            w = (torch.randn(c, cin, 3, 3) * std).to(device).contiguous(memory_format=memory_format)
            convs[f"conv{b}_{i}"] = (w, torch.zeros(c, device=device))
            cin = c
    return convs


def features(convs, x, wanted, deepest, memory_format):
    mean = torch.tensor([103.939, 116.779, 123.68], device=x.device).view(1, 3, 1, 1)
    h = (x.flip(1) * 255.0 - mean).contiguous(memory_format=memory_format)
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


def nvml_process_mib():
    """This process's GPU memory as NVML reports it (what stylelab reports)."""

    class Info(ctypes.Structure):
        _fields_ = [("pid", ctypes.c_uint), ("used", ctypes.c_ulonglong), ("gi", ctypes.c_uint), ("ci", ctypes.c_uint)]

    try:
        lib = ctypes.CDLL("libnvidia-ml.so.1")
        lib.nvmlInit_v2()
        count = ctypes.c_uint(0)
        lib.nvmlDeviceGetCount_v2(ctypes.byref(count))
        total = 0
        for i in range(count.value):
            handle = ctypes.c_void_p()
            lib.nvmlDeviceGetHandleByIndex_v2(i, ctypes.byref(handle))
            infos = (Info * 64)()
            n = ctypes.c_uint(64)
            if lib.nvmlDeviceGetComputeRunningProcesses_v3(handle, ctypes.byref(n), infos) == 0:
                total += sum(infos[j].used for j in range(n.value) if infos[j].pid == os.getpid())
        return total / 2**20
    except OSError:
        return 0.0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--device", default="cpu")
    p.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "fp16"])
    p.add_argument("--evals", type=int, default=5)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--content", required=True, help="raw float32 1x3xSxS RGB in [0, 1]")
    p.add_argument("--style", required=True)
    a = p.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    dev = torch.device(a.device)
    reduced = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(a.precision)
    memory_format = torch.channels_last if reduced else torch.contiguous_format
    convs = random_vgg19(dev, memory_format)
    content_layers = ["relu4_2"]
    style_layers = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"]
    wanted = set(content_layers + style_layers)
    def image(path):
        with open(path, "rb") as f:
            return torch.frombuffer(bytearray(f.read()), dtype=torch.float32).reshape(1, 3, a.size, a.size).to(dev)

    content, style = image(a.content), image(a.style)
    autocast = lambda: torch.autocast(dev.type, dtype=reduced, enabled=reduced is not None)  # noqa: E731
    with torch.no_grad(), autocast():
        ct = {k: v.detach().float() for k, v in features(convs, content, content_layers, "relu5_1", memory_format).items()}
        st = {k: gram(v).detach().float() for k, v in features(convs, style, style_layers, "relu5_1", memory_format).items()}
    x = content.clone().requires_grad_(True)
    scaler = torch.amp.GradScaler(dev.type, enabled=a.precision == "fp16")
    evals = [0]

    def closure():
        evals[0] += 1
        x.grad = None
        with autocast():
            f = features(convs, x, wanted, "relu5_1", memory_format)
            c = sum(F.mse_loss(f[l].float(), ct[l]) for l in content_layers)
            s = sum(F.mse_loss(gram(f[l]).float(), st[l]) for l in style_layers)
            tv = ((x[..., 1:, :] - x[..., :-1, :]) ** 2).mean() + ((x[..., :, 1:] - x[..., :, :-1]) ** 2).mean()
            loss = 5.0 * c + 100.0 * s + 1e-3 * tv
        scaler.scale(loss).backward()
        if scaler.is_enabled():
            x.grad /= scaler.get_scale()
        return loss

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize()

    for _ in range(a.warmup):
        closure()
    sync()
    started = time.perf_counter()
    for _ in range(a.evals):
        float(closure())  # the value, as stylelab reads it
    sync()
    s_per_eval = (time.perf_counter() - started) / a.evals

    # One call runs max_iter iterations (each call also evaluates once at
    # its start, which a run of many steps does once): the warm-up steps,
    # then the timed ones, so the timed call's extra evaluation is counted.
    opt = torch.optim.LBFGS([x], lr=1.0, max_iter=a.warmup, history_size=100, line_search_fn="strong_wolfe")
    opt.step(closure)
    for group in opt.param_groups:
        group["max_iter"] = a.steps
        group["max_eval"] = a.steps * 5 // 4 + 25 * a.steps
    sync()
    evals0, syncs0, started = evals[0], SYNCS[0], time.perf_counter()
    opt.step(closure)
    sync()
    s_per_step = (time.perf_counter() - started) / a.steps
    out = {
        "device": a.device,
        "size": a.size,
        "precision": a.precision,
        "implementation": "pytorch",
        "s_per_eval": s_per_eval,
        "s_per_step": s_per_step,
        "evals_per_step": (evals[0] - evals0) / a.steps,
        "host_reads_per_step": (SYNCS[0] - syncs0) / a.steps,
        "peak_mib": nvml_process_mib() if dev.type == "cuda" else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "memory_format": "channels_last" if reduced else "nchw",
        "threads": torch.get_num_threads(),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
