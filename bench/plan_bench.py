#!/usr/bin/env python3
"""Benchmark of `compartment plan --json` as a whole process.

Generates two projects: a chain of N instances linked by CollectionSelect
(each names the previous one) plus 100 resources each connected to its own
service, for N = 1,000 and N = 10,000 (the second also 10x the resources and
services). Reports the median wall time of several runs of each, the growth
factor, and the peak resident memory of the 10k run.

Targets (issue #3, 2-core machine): 1k <= 87 ms, growth 1k -> 10k <= 15x,
peak memory at 10k <= 150 MiB.

Usage: python3 bench/plan_bench.py [--binary target/release/compartment] [--runs 15]
(build first with `cargo build --release`).
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
    return statistics.median(times), min(times), len(out.stdout)


def peak_rss_mib(binary, root):
    """Peak RSS of one run, measured in a fresh child (ru_maxrss is per child tree)."""
    code = ("import resource,subprocess,sys;"
            "subprocess.run(sys.argv[1:],stdout=subprocess.DEVNULL,check=True);"
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", code, binary, "-f", os.path.join(root, "compartment.yml"), "plan", "--json"],
                         capture_output=True, text=True, check=True)
    return int(out.stdout.strip()) / 1024


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
        t1, m1, b1 = time_runs(binary, small, a.runs)
        t10, m10, b10 = time_runs(binary, large, max(3, a.runs // 3))
        rss = peak_rss_mib(binary, large)
        growth = t10 / t1
        print(f"1k chain + 100 resources/services : median {t1*1000:.1f} ms (min {m1*1000:.1f} ms, {b1} bytes of JSON)  target <= 87 ms  {'OK' if t1 <= 0.087 else 'MISSED'}")
        print(f"10k chain + 1000 resources/services: median {t10*1000:.1f} ms (min {m10*1000:.1f} ms, {b10} bytes of JSON)")
        print(f"growth 1k -> 10k                  : {growth:.1f}x  target <= 15x  {'OK' if growth <= 15 else 'MISSED'}")
        print(f"peak RSS at 10k                   : {rss:.1f} MiB  target <= 150 MiB  {'OK' if rss <= 150 else 'MISSED'}")
    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
