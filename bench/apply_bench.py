#!/usr/bin/env python3
"""Benchmark of `compartment apply` against a real Docker engine.

1. 20 independent resources with TCP readiness (busybox `nc` listeners):
   wall time of `compartment apply --yes` against `docker-compose up -d` of
   the same 20 containers followed by a TCP readiness wait for each (Debian's
   docker-compose 1.29 has no `up --wait`), measured in the same run,
   alternating, several rounds. Goal: compartment <= 0.8x compose.
2. A no-op `compartment apply --yes` of 50 resources. Goal: <= 1 s.

Needs the test images (scripts/build-test-images.sh) and a release build.
Usage: python3 bench/apply_bench.py [--binary target/release/compartment] [--rounds 3]
"""
import argparse, json, os, shutil, socket, statistics, subprocess, sys, tempfile, time

IMAGE = "compartment-test/busybox:1"
CMD = ["nc", "-ll", "-p", "7000", "-e", "/bin/cat"]


def sh(*args, **kw):
    return subprocess.run(args, check=True, capture_output=True, text=True, **kw)


def project(root, n):
    os.makedirs(root, exist_ok=True)
    lines = ["name: bench", "resources:"]
    for i in range(n):
        lines += [f"  r{i}:", f"    image: {IMAGE}", f"    command: {json.dumps(CMD)}", "    ports: [7000]",
                  "    readiness: {type: tcp, port: 7000, timeoutMs: 30000}"]
    with open(os.path.join(root, "compartment.yml"), "w") as f:
        f.write("\n".join(lines) + "\n")


def compose_file(root, n):
    lines = ["version: '2.4'", "services:"]
    for i in range(n):
        lines += [f"  r{i}:", f"    image: {IMAGE}", f"    command: {json.dumps(CMD)}", "    expose: ['7000']"]
    path = os.path.join(root, "docker-compose.yml")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def wait_tcp(ip, port, timeout=30):
    end = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((ip, port), timeout=1):
                return
        except OSError:
            if time.monotonic() > end:
                raise
            time.sleep(0.05)


def cleanup(label_project):
    ids = sh("docker", "ps", "-aq", "--filter", f"label=io.compartment.project={label_project}").stdout.split()
    if ids:
        sh("docker", "rm", "-f", "-v", *ids)
    for v in sh("docker", "volume", "ls", "-q", "--filter", f"label=io.compartment.project={label_project}").stdout.split():
        sh("docker", "volume", "rm", "-f", v)
    for net in sh("docker", "network", "ls", "-q", "--filter", f"label=io.compartment.project={label_project}").stdout.split():
        sh("docker", "network", "rm", net)


def run_compartment(binary, root, name, env):
    t = time.perf_counter()
    r = subprocess.run([binary, "--project", name, "apply", "--yes"], cwd=root, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - t
    if r.returncode != 0:
        sys.exit(f"compartment apply failed:\n{r.stdout[-3000:]}\n{r.stderr[-2000:]}")
    return elapsed


def run_compose(root, name, n):
    path = compose_file(root, n)
    t = time.perf_counter()
    sh("docker-compose", "-f", path, "-p", name, "up", "-d")
    ups = time.perf_counter() - t
    # One list and one inspect for all containers, then wait for each port.
    ids = sh("docker", "ps", "-q", "--filter", f"label=com.docker.compose.project={name}").stdout.split()
    ips = sh("docker", "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", *ids).stdout.split()
    assert len(ips) == n, ips
    for ip in ips:
        wait_tcp(ip, 7000)
    elapsed = time.perf_counter() - t
    print(f"  compose: up -d took {ups:.2f} s, readiness wait {elapsed - ups:.2f} s", file=sys.stderr)
    sh("docker-compose", "-f", path, "-p", name, "down", "-v")
    return elapsed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default="target/release/compartment")
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    binary = os.path.abspath(a.binary)
    tmp = tempfile.mkdtemp(prefix="compartment-apply-bench-")
    env = dict(os.environ, COMPARTMENT_SECRET_KEY="bench-key", XDG_CONFIG_HOME=os.path.join(tmp, "config"))
    ours, theirs = [], []
    try:
        for r in range(a.rounds):
            name = f"bench{os.getpid()}r{r}"
            root = os.path.join(tmp, name)
            project(root, 20)
            try:
                ours.append(run_compartment(binary, root, name, env))
            finally:
                cleanup(name)
            theirs.append(run_compose(root, f"cbench{os.getpid()}r{r}", 20))
        o, t = statistics.median(ours), statistics.median(theirs)
        print(f"20 resources, compartment apply --yes        : median {o:.2f} s  {[round(x, 2) for x in ours]}")
        print(f"20 containers, docker-compose up -d + TCP wait: median {t:.2f} s  {[round(x, 2) for x in theirs]}")
        print(f"ratio compartment / compose                  : {o / t:.2f}x  goal <= 0.8x  {'OK' if o / t <= 0.8 else 'MISSED'}")
        name = f"bench{os.getpid()}noop"
        root = os.path.join(tmp, name)
        project(root, 50)
        try:
            run_compartment(binary, root, name, env)
            noop = [run_compartment(binary, root, name, env) for _ in range(5)]
        finally:
            cleanup(name)
        n = statistics.median(noop)
        print(f"no-op apply of 50 resources                  : median {n:.3f} s  {[round(x, 3) for x in noop]}  goal <= 1 s  {'OK' if n <= 1 else 'MISSED'}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
