"""Plain PyTorch reference for `stylelab bench`: the same network and losses
as stylelab (VGG19 to relu5_1, caffe preprocessing, content relu4_2, style
relu1_1..relu5_1, tv), written the way a strong PyTorch user would: NCHW
tensors (channels-last under bf16/fp16 autocast, which is faster there),
cudnn.benchmark on CUDA, weights that need no gradient, one forward +
backward per evaluation, fp16 with dynamic loss scaling that backs off on
overflow, and torch.optim.LBFGS with the strong-Wolfe line search for steps.

--cuda-graph replays the forward and backward as one captured CUDA graph
(static input and gradient buffers), PyTorch at its fastest.
--run-steps N is the whole run instead: load, targets, N steps, save; it
reports seconds from its process's start to the first step.
--trace N is the time-to-quality reference: L-BFGS (strong Wolfe, history
100) on the weights file --weights (stylelab's safetensors, read here
without the safetensors package) and the layers --content-layers and
--style-layers, for N evaluations, printing each evaluation's process time
and loss, the first and the final loss, and writing the final image.
--bounds box keeps the image in [0, 1] as stylelab's `optim.bounds = "box"`
does: the loss at the clamped image, no gradient from it where a value is
outside, and a pull back mu/2 * sum(dist(x, [0, 1])^2) with
mu = max|grad| at the first evaluation / 0.25; the reported loss is the
clamped image's (the pull apart), the image written the clamped one.
--bounds box applies everywhere but --cuda-graph (refused there).
--check-at RAW evaluates at the content, then at the raw image RAW (which
may lie outside [0, 1]), prints that second evaluation's loss and pull and
writes its gradient to --out: the bench compares them with stylelab's.

Prints one JSON line with the fields stylelab's bench-one (or, with
--run-steps, its end-to-end row) prints; with --trace, the trace and the
first and final loss; with --check-at, the loss and the pull.
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

# A value this far outside [0, 1] is pulled back as hard as the loss pulled
# its strongest pixel at the first evaluation (stylelab's PULL_DISTANCE).
PULL_DISTANCE = 0.25

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


def load_weights(path, device, memory_format):
    """stylelab's safetensors file (`conv1_1.weight`, `conv1_1.bias`, … in
    little-endian f32), read by hand: 8 bytes of header length, the JSON
    header, the data."""
    with open(path, "rb") as f:
        raw = f.read()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] != "F32":
            raise SystemExit(f"{path}: {name} is {info['dtype']}, not F32")
        lo, hi = info["data_offsets"]
        tensors[name] = torch.frombuffer(bytearray(data[lo:hi]), dtype=torch.float32).reshape(info["shape"])
    convs = {}
    for b, n_convs in enumerate(BLOCKS, start=1):
        for i in range(1, n_convs + 1):
            key = f"conv{b}_{i}"
            if f"{key}.weight" in tensors:
                w = tensors[f"{key}.weight"].to(device).contiguous(memory_format=memory_format)
                convs[key] = (w, tensors[f"{key}.bias"].to(device))
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


def process_age():
    """Seconds since this process started, interpreter and imports included."""
    with open("/proc/self/stat") as f:
        start = int(f.read().rsplit(")", 1)[1].split()[19])
    with open("/proc/uptime") as f:
        uptime = float(f.read().split()[0])
    return uptime - start / os.sysconf("SC_CLK_TCK")


class Objective:
    """The loss and its gradient at x, with the precision's autocast and,
    in fp16, dynamic loss scaling: the scale starts at 2**16, halves and
    the evaluation is redone when the gradient is not finite, doubles
    after 200 good evaluations (what GradScaler does for a model's
    weights, done here for the image). With box, the loss is taken at the
    image clamped to [0, 1] and a pull brings values outside back (see
    --bounds); last_loss and last_pull are the last evaluation's."""

    def __init__(self, convs, content, style, dev, precision, memory_format,
                 content_layers=("relu4_2",), style_layers=("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"),
                 box=False):
        self.convs, self.dev, self.memory_format = convs, dev, memory_format
        self.box, self.mu = box, None
        # The last evaluation's loss and pull, as tensors: read only when
        # asked for (a read is a host sync).
        self.no_pull = torch.tensor(0.0)
        self.last = (torch.tensor(float("nan")), self.no_pull)
        self.reduced = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
        self.content_layers = list(content_layers)
        self.style_layers = list(style_layers)
        self.wanted = set(self.content_layers + self.style_layers)
        order = [f"relu{b}_{i}" for b, n in enumerate(BLOCKS, start=1) for i in range(1, n + 1)]
        self.deepest = max(self.wanted, key=order.index)
        self.scale = 2.0**16 if precision == "fp16" else 1.0
        self.good = 0
        self.evals = 0
        with torch.no_grad(), self.autocast():
            f = features(convs, content, self.content_layers, self.deepest, memory_format)
            self.ct = {k: v.detach().float() for k, v in f.items()}
            f = features(convs, style, self.style_layers, self.deepest, memory_format)
            self.st = {k: gram(v).detach().float() for k, v in f.items()}

    def autocast(self):
        return torch.autocast(self.dev.type, dtype=self.reduced, enabled=self.reduced is not None)

    def loss(self, x):
        with self.autocast():
            f = features(self.convs, x, self.wanted, self.deepest, self.memory_format)
            c = sum(F.mse_loss(f[k].float(), self.ct[k]) for k in self.content_layers)
            s = sum(F.mse_loss(gram(f[k]).float(), self.st[k]) for k in self.style_layers)
            tv = ((x[..., 1:, :] - x[..., :-1, :]) ** 2).mean() + ((x[..., :, 1:] - x[..., :, :-1]) ** 2).mean()
            return 5.0 * c + 100.0 * s + 1e-3 * tv

    def scaled(self, x):
        """The loss at x and its gradient in x.grad, with fp16's loss scaling."""
        while True:
            self.evals += 1
            x.grad = None
            loss = self.loss(x)
            (loss * self.scale).backward()
            if self.scale == 1.0:
                return loss
            if bool(torch.isfinite(x.grad).all()):
                x.grad /= self.scale
                self.good += 1
                if self.good >= 200:
                    self.scale, self.good = self.scale * 2.0, 0
                return loss
            self.scale, self.good = self.scale / 2.0, 0

    def boxed(self, x):
        """The loss at clamp(x) plus the pull; x.grad the gradient of both."""
        inside = x.detach().clamp(0.0, 1.0).requires_grad_(True)
        loss = self.scaled(inside)
        grad = inside.grad
        if self.mu is None:
            self.mu = (grad.abs().max().double() / PULL_DISTANCE).clamp_min(1e-30)
        outside = x.detach() - inside.detach()
        grad = grad.masked_fill(outside != 0, 0.0) + self.mu.to(grad.dtype) * outside
        x.grad = grad
        pull = 0.5 * self.mu * (outside.double() * outside.double()).sum()
        return loss, pull

    @property
    def last_loss(self):
        return float(self.last[0])

    @property
    def last_pull(self):
        return float(self.last[1])

    def closure_for(self, x):
        def closure():
            if not self.box:
                loss = self.scaled(x)
                self.last = (loss.detach(), self.no_pull)
                return loss
            loss, pull = self.boxed(x)
            self.last = (loss.detach(), pull)
            return loss.double() + pull

        return closure


def graph_closure(obj, x):
    """The forward and backward captured once as a CUDA graph on static
    buffers; each call copies x in, replays, and hands the gradient back."""
    static_x = x.detach().clone().requires_grad_(True)
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for _ in range(3):  # warm up cuDNN's choices outside the capture
            static_x.grad = None
            obj.loss(static_x).backward()
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    static_x.grad = None
    with torch.cuda.graph(graph):
        static_loss = obj.loss(static_x)
        static_loss.backward()

    def closure():
        obj.evals += 1
        with torch.no_grad():
            static_x.copy_(x)
        graph.replay()
        x.grad = static_x.grad.detach().clone()
        return static_loss.detach().clone()

    return closure


def read_image(path, h, w, dev):
    with open(path, "rb") as f:
        return torch.frombuffer(bytearray(f.read()), dtype=torch.float32).reshape(1, 3, h, w).to(dev)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--device", default="cpu")
    p.add_argument("--precision", default="fp32", choices=["fp32", "bf16", "fp16"])
    p.add_argument("--evals", type=int, default=5)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--content", required=True, help="raw float32 1x3xHxW RGB in [0, 1]")
    p.add_argument("--style", required=True)
    p.add_argument("--cuda-graph", action="store_true")
    p.add_argument("--run-steps", type=int, default=0, help="the whole run of N steps instead")
    p.add_argument("--content-hw", default="", help="H,W of --content (default: size,size)")
    p.add_argument("--style-hw", default="", help="H,W of --style (default: size,size)")
    p.add_argument("--out", default="",
                   help="where --run-steps and --trace write the final image, --check-at the gradient (raw float32)")
    p.add_argument("--trace", type=int, default=0, help="the time-to-quality reference: N evaluations")
    p.add_argument("--weights", default="", help="stylelab's safetensors weights file (default: random)")
    p.add_argument("--content-layers", default="relu4_2")
    p.add_argument("--style-layers", default="relu1_1,relu2_1,relu3_1,relu4_1,relu5_1")
    p.add_argument("--bounds", default="none", choices=["none", "box"], help="box: keep the image in [0, 1]")
    p.add_argument("--check-at", default="", help="evaluate at the content, then at this raw image (content-hw)")
    a = p.parse_args()
    if a.bounds != "none" and a.cuda_graph:
        p.error("--bounds box is not for --cuda-graph")
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    dev = torch.device(a.device)
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True
    reduced = a.precision in ("bf16", "fp16")
    memory_format = torch.channels_last if reduced or a.cuda_graph else torch.contiguous_format
    hw = lambda s: tuple(int(v) for v in s.split(",")) if s else (a.size, a.size)  # noqa: E731
    convs = load_weights(a.weights, dev, memory_format) if a.weights else random_vgg19(dev, memory_format)
    content = read_image(a.content, *hw(a.content_hw), dev)
    style = read_image(a.style, *hw(a.style_hw), dev)
    obj = Objective(convs, content, style, dev, a.precision, memory_format,
                    a.content_layers.split(","), a.style_layers.split(","), box=a.bounds == "box")
    x = content.clone().requires_grad_(True)
    if a.check_at:
        return check_at(obj, x, read_image(a.check_at, *hw(a.content_hw), dev), a.out)
    if a.trace > 0:
        return trace(a, obj, x)
    if a.run_steps > 0:
        return whole_run(a, obj, x)
    closure = graph_closure(obj, x) if a.cuda_graph else obj.closure_for(x)

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
    evals0, syncs0, started = obj.evals, SYNCS[0], time.perf_counter()
    opt.step(closure)
    sync()
    s_per_step = (time.perf_counter() - started) / a.steps
    out = {
        "device": a.device,
        "size": a.size,
        "precision": a.precision,
        "implementation": "pytorch-graph" if a.cuda_graph else "pytorch",
        "s_per_eval": s_per_eval,
        "s_per_step": s_per_step,
        "evals_per_step": (obj.evals - evals0) / a.steps,
        "host_reads_per_step": (SYNCS[0] - syncs0) / a.steps,
        "peak_mib": nvml_process_mib() if dev.type == "cuda" else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "memory_format": "channels_last" if memory_format == torch.channels_last else "nchw",
        "threads": torch.get_num_threads(),
    }
    print(json.dumps(out))


def whole_run(a, obj, x):
    """N L-BFGS steps in one call, as a user's script would; the time the
    first step ends is when the closure first sees one iteration done."""
    opt = torch.optim.LBFGS([x], lr=1.0, max_iter=a.run_steps, max_eval=a.run_steps * 25 // 4 + 25,
                            history_size=100, line_search_fn="strong_wolfe", tolerance_grad=1e-7,
                            tolerance_change=1e-9)
    inner = obj.closure_for(x)
    first = {}

    def closure():
        state = opt.state.get(x, {})
        if state.get("n_iter", 0) >= 1 and "t" not in first:
            if x.device.type == "cuda":
                torch.cuda.synchronize()
            first["t"] = process_age()
            first["steady"] = time.perf_counter()
            first["evals"] = obj.evals
        return inner()

    opt.step(closure)  # returns the loss it started from
    if x.device.type == "cuda":
        torch.cuda.synchronize()
    steps = opt.state[x]["n_iter"]
    evals = obj.evals
    final_image = x.detach().clamp(0.0, 1.0) if obj.box else x.detach()
    with torch.no_grad():
        loss = obj.loss(final_image)  # where it ended; not counted as an evaluation
    if a.out:
        with open(a.out, "wb") as f:
            f.write(bytes(final_image.float().cpu().contiguous().untyped_storage()))
    steady = (time.perf_counter() - first["steady"]) / max(steps - 1, 1) if "steady" in first else float("nan")
    print(json.dumps({
        "seconds_to_first_step": first.get("t", float("nan")),
        "s_per_step": steady,
        "steps": steps,
        "evals": evals,
        "final_loss": float(loss),
    }))


def check_at(obj, x, other, out):
    """The objective at the content (which sets the pull's mu, as a run's
    first evaluation does), then at `other`: that evaluation's loss and
    pull, printed, and its gradient, written to `out` as raw float32."""
    closure = obj.closure_for(x)
    closure()
    with torch.no_grad():
        x.copy_(other)
    closure()
    if out:
        with open(out, "wb") as f:
            f.write(bytes(x.grad.detach().float().cpu().contiguous().untyped_storage()))
    print(json.dumps({"loss": obj.last_loss, "pull": obj.last_pull}))


def trace(a, obj, x):
    """L-BFGS for a budget of evaluations, as a strong user runs it (one
    call, strong Wolfe, history 100): each evaluation's process time and
    loss (with --bounds box, the clamped image's: the pull apart), the
    first and the final loss (at the final image, not counted; with box,
    clamped), and the final image (with box, clamped) written to --out."""
    opt = torch.optim.LBFGS([x], lr=1.0, max_iter=a.trace, max_eval=a.trace, history_size=100,
                            line_search_fn="strong_wolfe", tolerance_grad=1e-7, tolerance_change=1e-9)
    inner = obj.closure_for(x)
    points = []

    def closure():
        value = inner()
        if x.device.type == "cuda":
            torch.cuda.synchronize()
        points.append([process_age(), obj.last_loss])
        return value

    opt.step(closure)
    final_image = x.detach().clamp(0.0, 1.0) if obj.box else x.detach()
    with torch.no_grad():
        final = float(obj.loss(final_image))
    if a.out:
        with open(a.out, "wb") as f:
            f.write(bytes(final_image.float().cpu().contiguous().untyped_storage()))
    print(json.dumps({"trace": points, "first_loss": points[0][1], "final_loss": final, "evals": obj.evals}))


if __name__ == "__main__":
    main()
