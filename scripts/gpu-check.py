#!/usr/bin/env python3
"""stylelab's GPU check: the figures issue 16 asks of a GPU server, in one
command that needs only a built `stylelab` binary and a Python with torch.

    python3 scripts/gpu-check.py --stylelab ./stylelab          # on the GPU machine
    python3 scripts/gpu-check.py --device cpu --quick          # a dry run of the script on any machine

It prints, as Markdown tables (and writes them to --out/report.md):

1. start-up: a 1-step classic 512 px run with an empty format cache and
   again with it warm — the process's time, the seconds before its first
   evaluation and to its first step;
2. the classic problem at 512 px (chelsea.png in the style of
   starry_night.jpg, random VGG19 to relu5_1, 500 L-BFGS steps) in fp32,
   bf16 and fp16, stylelab's whole run against the PyTorch reference's
   (`stylelab bench --end-to-end`): process seconds, seconds to the first
   step, ms per step, evaluations, final loss, and a run's step against the
   bench's at the same shape;
3. memory: `stylelab check --json`'s estimate against the peak NVML
   measured (`summary.json`'s peak_gpu_mib) for the four runs of issue 16,
   the 1024 → 8192 px multi-scale bf16 run among them;
4. print sizes tiled (issue 26): 1024 → 8192 px and 1024 → 16384 px
   multi-scale bf16 runs, each scale's tiling, `check`'s one-pass and
   tiled estimates against the measured peak;
5. time to quality (issue 27): `stylelab bench --time-to-quality` at
   512 px against the PyTorch reference's 500 evaluations;
6. `stylelab bench` rows at 512 and 1024 px, fp32 and bf16, with PyTorch
   eager and PyTorch replaying one CUDA graph, and the L-BFGS direction
   from a full history of 100 pairs: textbook, and projected as a run's
   default forms it.

Every part prints as soon as it is done, and a part that fails prints as
failed: a slow or broken part never hides the others. Parts 1-3 and 6
took about five minutes on an H200 (issue 16); parts 4 and 5 have not run
on a GPU yet: with little device time, `--parts tiles,quality` runs them
alone.

When the binary was built against another torch install than the one this
Python has, the script puts this Python's torch/lib first on
LD_LIBRARY_PATH for every stylelab it starts (same libtorch version needed:
`stylelab doctor` prints the one it was built with).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def torch_lib(python):
    out = subprocess.run([python, "-c", "import torch, os; print(os.path.dirname(torch.__file__))"],
                         capture_output=True, text=True)
    return os.path.join(out.stdout.strip(), "lib") if out.returncode == 0 else None


class Check:
    def __init__(self, a):
        self.a = a
        self.tmp = a.out or tempfile.mkdtemp(prefix="stylelab-gpu-check-")
        os.makedirs(self.tmp, exist_ok=True)
        self.env = dict(os.environ)
        lib = torch_lib(a.python)
        if lib:
            self.env["LD_LIBRARY_PATH"] = lib + ":" + self.env.get("LD_LIBRARY_PATH", "")
        self.report = []
        self.started = time.time()

    def say(self, text=""):
        print(text, flush=True)
        self.report.append(text)

    def stylelab(self, *args, env=None, timeout=600):
        e = dict(self.env)
        e.update(env or {})
        started = time.time()
        out = subprocess.run([self.a.stylelab, *map(str, args)], capture_output=True, text=True,
                             env=e, cwd=ROOT, timeout=timeout)
        return out, time.time() - started

    def weights(self):
        path = os.path.join(self.tmp, "vgg19-random.safetensors")
        if not os.path.exists(path):
            out, _ = self.stylelab("weights", "random", path, "--seed", "0", "--upto", "relu5_1")
            if out.returncode != 0:
                raise RuntimeError(out.stderr.strip())
        return path

    def experiment(self, name, size, steps, precision, history=100, memory_format="auto", tile="auto"):
        """The classic problem as an experiment file."""
        sizes = size if isinstance(size, int) else "[" + ", ".join(map(str, size)) + "]"
        iters = steps if isinstance(steps, int) else "[" + ", ".join(map(str, steps)) + "]"
        text = f'''name = "{name}"
[images]
content = "{ROOT}/examples/chelsea.png"
style = ["{ROOT}/examples/starry_night.jpg"]
init = "content"
size = {sizes}
[model]
weights = "{self.weights()}"
memory_format = "{memory_format}"
tile = {tile if isinstance(tile, int) else f'"{tile}"'}
[loss]
content_weight = 5.0
style_weight = 100.0
tv_weight = 1e-3
content_layers = {{ relu4_2 = 1.0 }}
style_layers = {{ relu1_1 = 1.0, relu2_1 = 1.0, relu3_1 = 1.0, relu4_1 = 1.0, relu5_1 = 1.0 }}
[optim]
iterations = {iters}
history = {history}
precision = "{precision}"
device = "{self.a.device}"
[output]
snapshot_every = 0
score = false
results = "{self.tmp}/results"
'''
        path = os.path.join(self.tmp, f"{name}.toml")
        with open(path, "w") as f:
            f.write(text)
        return path

    def run(self, exp, env=None):
        """A whole `stylelab run`: (process seconds, summary) or raises."""
        results = os.path.join(self.tmp, "results")
        before = set(os.listdir(results)) if os.path.isdir(results) else set()
        out, took = self.stylelab("run", exp, "--force", env=env)
        new = sorted(set(os.listdir(results)) - before)
        if not new:
            raise RuntimeError((out.stderr or out.stdout).strip().splitlines()[-1:])
        with open(os.path.join(results, new[-1], "summary.json")) as f:
            summary = json.load(f)
        if out.returncode != 0:
            raise RuntimeError(f"{summary.get('status')}: {summary.get('error')}")
        return took, summary

    def part(self, title, body):
        self.say(f"\n## {title}\n")
        started = time.time()
        try:
            body()
        except Exception as e:  # a part that fails says so; the others go on
            self.say(f"failed: {type(e).__name__}: {e}")
        self.say(f"\n({time.time() - started:.0f} s; {time.time() - self.started:.0f} s in all)")

    def doctor(self):
        out, _ = self.stylelab("doctor")
        self.say("```text\n" + (out.stdout + out.stderr).strip() + "\n```")

    def startup(self):
        size = 128 if self.a.quick else 512
        cache = os.path.join(self.tmp, "format-cache")
        shutil.rmtree(cache, ignore_errors=True)
        self.say("| run | memory format | process s | s before the first evaluation | s to the first step | wall_s |")
        self.say("|---|---|---|---|---|---|")
        for label, fmt in (("auto, cache empty", "auto"), ("auto, cache warm", "auto"), ("nchw", "nchw"),
                           ("channels_last", "channels_last")):
            exp = self.experiment(f"startup-{fmt}", size, 1, "fp32", memory_format=fmt)
            took, s = self.run(exp, env={"STYLELAB_CACHE_DIR": cache})
            self.say(f"| {label} | {s.get('memory_format')} | {took:.2f} | {s.get('seconds_to_first_evaluation')} | "
                     f"{s.get('seconds_to_first_step')} | {s.get('wall_s'):.2f} |")

    def classic(self):
        steps = 20 if self.a.quick else 500
        size = 128 if self.a.quick else 512
        precisions = "fp32,bf16" if self.a.device == "cpu" else "fp32,bf16,fp16"
        out, _ = self.stylelab("bench", "--end-to-end", "--json", "--sizes", size, "--run-steps", steps,
                               "--precisions", precisions, "--device", self.a.device, "--python", self.a.python)
        self.say("| precision | impl | process s | s to the first step | ms/step | steps | evals | final loss | "
                 "run step ÷ bench step | peak GPU MiB |")
        self.say("|---|---|---|---|---|---|---|---|---|---|")
        for line in out.stdout.splitlines():
            if not line.startswith("{"):
                continue
            r = json.loads(line)
            if "failed" in r:
                self.say(f"| {r['precision']} | {r['implementation']} | failed: {r['failed']} |")
                continue
            ratio = r.get("run_step_per_bench_step")
            self.say(f"| {r['precision']} | {r['implementation']} | {r['process_s']:.2f} | "
                     f"{r['seconds_to_first_step']:.2f} | {r['s_per_step'] * 1e3:.2f} | {r['steps']} | {r['evals']} | "
                     f"{r['final_loss']:.4e} | {'' if ratio is None else f'{ratio:.2f}'} | "
                     f"{r.get('peak_gpu_mib') or ''} |")
        if out.returncode != 0:
            self.say(f"bench exited {out.returncode}: {out.stderr.strip()[-500:]}")

    def memory(self):
        q = 8 if self.a.quick else 1
        runs = [
            ("2048 px fp32, 10 steps", 2048 // q, 10, "fp32"),
            ("512→1024→2048→4096 bf16, [200, 60, 20, 8]", [s // q for s in (512, 1024, 2048, 4096)],
             [200 // q, 60 // q, 20 // q, 8], "bf16"),
            ("4096 bf16, 1 step", 4096 // q, 1, "bf16"),
            ("1024→2048→4096→8192 bf16, [100, 30, 10, 3]", [s // q for s in (1024, 2048, 4096, 8192)],
             [100 // q, 30 // q, 10 // q, 3], "bf16"),
        ]
        key = "peak_rss_mib" if self.a.device == "cpu" else "peak_gpu_mib"
        self.say(f"| run | estimated MiB | measured MiB ({key}) | measured ÷ estimated | status | seconds |")
        self.say("|---|---|---|---|---|---|")
        for i, (label, size, steps, precision) in enumerate(runs):
            exp = self.experiment(f"memory-{i}", size, steps, precision)
            out, _ = self.stylelab("check", exp, "--json")
            try:
                estimate = json.loads(out.stdout)["estimated_peak_mib"]
            except (ValueError, KeyError):
                self.say(f"| {label} | check failed: {out.stderr.strip()[-300:]} | | | | |")
                continue
            try:
                took, s = self.run(exp)
                measured = s.get(key) or float("nan")
                self.say(f"| {label} | {estimate:.0f} | {measured:.0f} | {measured / estimate:.2f} | {s['status']} | "
                         f"{took:.0f} |")
            except RuntimeError as e:
                self.say(f"| {label} | {estimate:.0f} | | | failed: {e} | |")

    def tiles(self):
        """Print sizes past one pass's memory, tiled (issue 26): check's
        plan and estimate against the measured peak, per scale's tiling."""
        q = 8 if self.a.quick else 1
        runs = [
            ("1024→2048→4096→8192 bf16, [100, 30, 10, 3]", [s // q for s in (1024, 2048, 4096, 8192)],
             [100 // q, 30 // q, 10 // q, 3], 100),
            ("1024→4096→16384 bf16, [50, 5, 3], history 10", [s // q for s in (1024, 4096, 16384)],
             [50 // q, 5, 3], 10),
        ]
        key = "peak_rss_mib" if self.a.device == "cpu" else "peak_gpu_mib"
        self.say(f"| run | tiling per scale | one pass MiB | estimated MiB | measured MiB ({key}) | "
                 "measured ÷ estimated | peak RSS MiB | status | seconds |")
        self.say("|---|---|---|---|---|---|---|---|---|")
        for i, (label, size, steps, history) in enumerate(runs):
            exp = self.experiment(f"tiles-{i}", size, steps, "bf16", history=history)
            out, _ = self.stylelab("check", exp, "--json")
            try:
                memory = json.loads(out.stdout)["memory"]
            except (ValueError, KeyError):
                self.say(f"| {label} | check failed: {out.stderr.strip()[-300:]} | | | | | | | |")
                continue
            plan = "; ".join(
                f"{t['tiles']}×{t['tile']} px" if (t := sc.get("tiling")) else "one pass" for sc in memory["scales"])
            one_pass = max(sc["one_pass_mib"] for sc in memory["scales"])
            estimate = memory["estimated_peak_mib"]
            try:
                took, s = self.run(exp)
                measured = s.get(key) or float("nan")
                self.say(f"| {label} | {plan} | {one_pass:.0f} | {estimate:.0f} | {measured:.0f} | "
                         f"{measured / estimate:.2f} | {s.get('peak_rss_mib', 0):.0f} | {s['status']} | {took:.0f} |")
            except (RuntimeError, subprocess.TimeoutExpired) as e:
                self.say(f"| {label} | {plan} | {one_pass:.0f} | {estimate:.0f} | | | | failed: {e} | |")

    def quality(self):
        """Time to the reference's quality (issue 27), classic 512 px."""
        size, budget = (128, 50) if self.a.quick else (512, 500)
        out, _ = self.stylelab("bench", "--time-to-quality", "--sizes", size, "--budget", budget,
                               "--device", self.a.device, "--python", self.a.python, timeout=900)
        self.say("```text\n" + out.stdout.strip() + "\n```")
        if out.returncode != 0:
            self.say(f"bench exited {out.returncode}: {out.stderr.strip()[-500:]}")

    def bench(self):
        sizes = "64,128" if self.a.quick else "512,1024"
        args = ["bench", "--json", "--device", self.a.device, "--repeats", "1", "--evals", "20", "--steps", "20",
                "--sizes", sizes, "--precisions", "fp32,bf16", "--python", self.a.python]
        if self.a.device != "cpu":
            args.append("--cuda-graph")
        out, _ = self.stylelab(*args)
        self.say("| size | precision | impl | ms/eval | ms/step | evals/step | reads/step | peak MiB | "
                 "direction, 100 pairs (ms) | projected as a run's (ms) |")
        self.say("|---|---|---|---|---|---|---|---|---|---|")
        ms = lambda v: f"{v * 1e3:.1f}" if v is not None else "–"
        for line in out.stdout.splitlines():
            if not line.startswith("{"):
                continue
            r = json.loads(line)
            if "failed" in r:
                self.say(f"| {r['size']} | {r['precision']} | {r['implementation']} | failed: {r['failed']} |")
                continue
            self.say(f"| {r['size']} | {r['precision']} | {r['implementation']} | {r['s_per_eval'] * 1e3:.2f} | "
                     f"{r['s_per_step'] * 1e3:.2f} | {r['evals_per_step']:.2f} | {r['host_reads_per_step']:.2f} | "
                     f"{r['peak_mib']:.0f} | {ms(r.get('s_per_direction_full'))} | "
                     f"{ms(r.get('s_per_direction_full_as_run'))} |")
        if out.returncode != 0:
            self.say(f"bench exited {out.returncode}: {out.stderr.strip()[-500:]}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default_bin = os.path.join(ROOT, "target", "release", "stylelab")
    p.add_argument("--stylelab", default=default_bin if os.path.exists(default_bin) else "stylelab")
    p.add_argument("--python", default=sys.executable, help="a Python with torch, for the reference")
    p.add_argument("--device", default="cuda")
    p.add_argument("--quick", action="store_true", help="small sizes and few steps: to try the script itself")
    p.add_argument("--out", default="", help="keep the runs and report.md here")
    p.add_argument("--parts", default="doctor,startup,classic,memory,tiles,quality,bench")
    a = p.parse_args()
    a.stylelab = os.path.abspath(a.stylelab) if os.path.exists(a.stylelab) else a.stylelab
    c = Check(a)
    c.say(f"# stylelab GPU check ({time.strftime('%Y-%m-%d %H:%M')}, device {a.device}{', quick' if a.quick else ''})")
    parts = {
        "doctor": ("stylelab doctor", c.doctor),
        "startup": ("Start-up: a 1-step classic run", c.startup),
        "classic": ("The classic problem, the whole run against PyTorch's", c.classic),
        "memory": ("Memory: the estimate against the measured peak", c.memory),
        "tiles": ("Print sizes, tiled: the plan, the estimate and the measured peak", c.tiles),
        "quality": ("Time to the PyTorch reference's quality", c.quality),
        "bench": ("stylelab bench", c.bench),
    }
    for name in a.parts.split(","):
        title, body = parts[name]
        c.part(title, body)
    with open(os.path.join(c.tmp, "report.md"), "w") as f:
        f.write("\n".join(c.report) + "\n")
    print(f"\nreport: {os.path.join(c.tmp, 'report.md')}")


if __name__ == "__main__":
    main()
