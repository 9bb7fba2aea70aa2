#!/usr/bin/env python3
"""Benchmark of `compartment plan --json` as a whole process.

Generates two projects: a chain of N instances linked by CollectionSelect
(each names the previous one) plus 100 resources each connected to its own
service, for N = 1,000 and N = 10,000 (the second also 10x the resources and
services). Reports the median wall time of several runs of each, the growth
factor, and the peak resident memory of the 10k run.

Targets (issue #14, 2-core machine): 1k <= 10 ms, 10k <= 100 ms, growth
1k -> 10k <= 10x, peak memory at 10k <= 48 MiB, and the apply executor's walk
of 1,000 nodes <= 50 ms and linear (`examples/walk_bench.rs`, run when
built; "linear" is taken as growth <= 12x for 10x the nodes: of the no-op
walk's instructions, counted by callgrind where valgrind is installed, and of
the spawned walk's wall time). The anchor,
quoted from issue #14 (Terraform is not installed here): Terraform 1.11
plans the equivalent 1,000-deep chain in 8.7 s.

Usage: python3 bench/plan_bench.py [--binary target/release/compartment] [--runs 15]
(build first with `cargo build --release --example walk_bench`).
"""
import argparse, os, resource, shutil, statistics, subprocess, sys, tempfile, time


def generate(root, chain, resources):
    os.makedirs(root, exist_ok=True)
    lines = ["name: bench", "services:"]
    lines += ["  owner:", "    path: services/owner"]
    for i in range(resources):
        lines += [f"  svc{i}:", f"    path: services/svc{i}", "    connections:", f"      res{i}:", "        env:", "          URL: url"]
    lines.append("resources:")
    for i in range(resources):
        lines += [f"  res{i}:", "    image: compartment-test/busybox:1", "    env:", "      MODE: bench",
                  "    ports: [6379]", "    readiness: {type: tcp, port: 6379, timeoutMs: 5000}",
                  "    outputs:", "      url:", "        sensitive: false", "        value: tcp://${resource.host}:6379"]
    lines.append("instances:")
    for i in range(chain):
        lines += [f"  link{i}:", "    type: owner/link", "    values:", f"      name: Link {i}"]
        if i:
            lines.append(f"      prev: link{i - 1}")
    with open(os.path.join(root, "compartment.yml"), "w") as f:
        f.write("\n".join(lines) + "\n")
    for s in ["owner"] + [f"svc{i}" for i in range(resources)]:
        d = os.path.join(root, "services", s)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "Dockerfile"), "w") as f:
            f.write("FROM compartment-test/busybox:1\n")
    os.makedirs(os.path.join(root, "services/owner/platz"), exist_ok=True)
    with open(os.path.join(root, "services/owner/platz/resources.yaml"), "w") as f:
        f.write("""- apiVersion: platz.io/v1beta1
  kind: ResourceType
  key: link
  spec:
    name_singular: Link
    name_plural: Links
    fontawesome_icon: link
    values_ui:
      inputs:
        - id: name
          type: text
          label: Name
          required: true
        - id: prev
          type: CollectionSelect
          label: Previous
          collection: link
      outputs:
        values:
          - path: [name]
            value: {FieldValue: {input: name}}
          - path: [prev_name]
            value: {FieldProperty: {input: prev, property: name}}
""")


def time_runs(binary, root, runs):
    cmd = [binary, "-f", os.path.join(root, "compartment.yml"), "plan", "--json"]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"plan failed in {root}:\n{out.stderr[:2000]}")
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - t)
    return statistics.median(times), min(times), max(times), len(out.stdout)


def peak_rss_mib(binary, root, runs=5):
    """Peak RSS of `runs` runs, each measured in a fresh child (ru_maxrss is
    per child tree): (median, min, max). One run's peak moves by several MiB
    with when the threads that free the descriptor's tree and index finish
    (docs/benchmarks.md, eighth round); the target is judged on the max."""
    code = ("import resource,subprocess,sys;"
            "subprocess.run(sys.argv[1:],stdout=subprocess.DEVNULL,check=True);"
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    peaks = []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", code, binary, "-f", os.path.join(root, "compartment.yml"), "plan", "--json"],
                             capture_output=True, text=True, check=True)
        peaks.append(int(out.stdout.strip()) / 1024)
    return statistics.median(peaks), min(peaks), max(peaks)


TERRAFORM_1K = 8.7  # seconds, Terraform 1.11 on the equivalent 1,000-deep chain (quoted from issue #14)


def walk_instructions(path, nodes):
    """Instructions of one no-op walk of `nodes` nodes (`walk_bench once`,
    counted by callgrind in `walk_once` only), or None without valgrind."""
    if not shutil.which("valgrind"):
        return None
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(["valgrind", "--tool=callgrind", "--toggle-collect=*walk_once*",
                              f"--callgrind-out-file={tmp}/callgrind.out", path, "once", str(nodes)],
                             capture_output=True, text=True, check=True)
    for line in out.stderr.splitlines():
        if "Collected :" in line:
            return int(line.split(":")[1])
    sys.exit(f"callgrind printed no count:\n{out.stderr[-2000:]}")


def walk_bench(path):
    """The executor's walk (examples/walk_bench.rs). Linear is judged by the
    instructions of the no-op walk (callgrind, where valgrind is installed):
    its wall time also grows with the cache misses of a plan larger than
    the L2 cache (docs/benchmarks.md, eighth round); the spawned walk, whose
    time is the runtime's thread wake-ups, by its wall time."""
    if not os.path.exists(path):
        print(f"{'apply walk, 1,000 no-op nodes':<44} {'not built':<34} {'<= 50 ms':<10} (cargo build --release --example walk_bench)")
        return
    out = subprocess.run([path], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        # walk SHAPE: 1,000 nodes median T1 ms; 10,000 nodes median T10 ms; growth Gx
        shape = line.split(":")[0].split()[1]
        t1 = float(line.split("median ")[1].split(" ms")[0])
        t10 = float(line.split("median ")[2].split(" ms")[0])
        g = t10 / t1
        i1 = walk_instructions(path, 1000) if shape == "no-op" else None
        i10 = walk_instructions(path, 10000) if i1 else None
        linear = f"linear: 10x; instructions {i1 / 1e6:.2f} M -> {i10 / 1e6:.2f} M, {i10 / i1:.1f}x" if i1 else "linear: 10x"
        growth = i10 / i1 if i1 else g
        print(f"{'apply walk (executor only), 1,000 ' + shape:<44} {f'median {t1:.2f} ms, 10k {t10:.2f} ms ({g:.1f}x)':<34} {'<= 50 ms':<10} {'OK' if t1 <= 50 and growth <= 12 else 'MISSED'}  ({linear})")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default="target/release/compartment")
    ap.add_argument("--runs", type=int, default=15)
    a = ap.parse_args()
    binary = os.path.abspath(a.binary)
    tmp = tempfile.mkdtemp(prefix="compartment-bench-")
    try:
        small, large = os.path.join(tmp, "1k"), os.path.join(tmp, "10k")
        generate(small, 1000, 100)
        generate(large, 10000, 1000)
        # The fresh files written out first: the kernel writing back the
        # 10k project's 1,000 new directories during the 1k runs cost them
        # about 1 ms each (docs/benchmarks.md, seventh round).
        os.sync()
        t1, lo1, hi1, b1 = time_runs(binary, small, a.runs)
        t10, lo10, hi10, b10 = time_runs(binary, large, max(3, a.runs // 3))
        rss, rss_lo, rss_hi = peak_rss_mib(binary, large)
        growth = t10 / t1
        ok = lambda good: "OK" if good else "MISSED"
        print(f"{'figure':<44} {'measured':<34} {'target':<10}")
        print(f"{'plan, 1k chain + 100 resources/services':<44} {f'median {t1*1000:.1f} ms ({lo1*1000:.1f}-{hi1*1000:.1f})':<34} {'<= 10 ms':<10} {ok(t1 <= 0.010)}  ({b1} bytes of JSON; Terraform 1.11, 8.7 s as quoted in #14: {TERRAFORM_1K / t1:.0f}x faster)")
        print(f"{'plan, 10k chain + 1,000':<44} {f'median {t10*1000:.1f} ms ({lo10*1000:.1f}-{hi10*1000:.1f})':<34} {'<= 100 ms':<10} {ok(t10 <= 0.100)}  ({b10} bytes of JSON)")
        print(f"{'growth 1k -> 10k':<44} {f'{growth:.1f}x':<34} {'<= 10x':<10} {ok(growth <= 10)}")
        print(f"{'peak memory at 10k':<44} {f'median {rss:.1f} MiB ({rss_lo:.1f}-{rss_hi:.1f})':<34} {'<= 48 MiB':<10} {ok(rss_hi <= 48)}  (5 runs, judged on the highest)")
        walk_bench(os.path.join(os.path.dirname(binary), "examples", "walk_bench"))
    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
