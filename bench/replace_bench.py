#!/usr/bin/env python3
"""Benchmark of a service replace under a steady request loop (issue #10).

A project with one service (busybox httpd, which as PID 1 ignores SIGTERM,
the worst case for a stop) is applied, then replaced N times (its page
changes, so its build context does) while two request loops run on the
environment network, never on the host:

- "any-address": a client that tries each address the service's name
  resolves to, as curl, Go, Python and Java clients do;
- "first-address": busybox wget, which connects to the first address only.

For each loop it reports requests made and requests failed during the
replaces (target: 0), and the median wall time of one replacing apply. For
comparison it runs the same loops while `docker-compose up -d` recreates the
same service (stop-then-start), the behaviour compartment had before.

The loops are bounded: they run only while the benchmark runs and each
makes one request at a time. Needs the test images
(scripts/build-test-images.sh) and a release build.
Usage: python3 bench/replace_bench.py [--binary target/release/compartment] [--replaces 5]
"""
import argparse, os, shutil, statistics, subprocess, sys, tempfile, time

IMAGE = "compartment-test/busybox:1"

ANY_ADDRESS = r"""
while [ ! -f /tmp/stop ]; do
  line=fail
  for ip in $(nslookup "$HOST" 2>/dev/null | sed -n 's/^Address: *\([0-9.]*\)$/\1/p'); do
    if wget -qO- "http://$ip:8080/" >/dev/null 2>&1; then line=ok; break; fi
  done
  echo $line >> /tmp/log
done
touch /tmp/done; sleep 3600
"""

FIRST_ADDRESS = r"""
while [ ! -f /tmp/stop ]; do
  if wget -qO- "http://$HOST:8080/" >/dev/null 2>&1; then echo ok; else echo fail; fi >> /tmp/log
done
touch /tmp/done; sleep 3600
"""


def sh(*args, **kw):
    return subprocess.run(args, check=True, capture_output=True, text=True, **kw)


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def project(root, release):
    write(os.path.join(root, "compartment.yml"),
          "name: replace\nservices:\n  web:\n    path: web\n    ingress: {port: 8080}\n    stopGracePeriod: 2s\n")
    write(os.path.join(root, "web", "Dockerfile"),
          f"FROM {IMAGE}\nCOPY index.html /www/index.html\nCMD [\"httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/www\"]\n")
    write(os.path.join(root, "web", "index.html"), f"release {release}\n")


def start_loops(network, host, label):
    names = []
    for kind, script in (("any", ANY_ADDRESS), ("first", FIRST_ADDRESS)):
        name = f"{label}-{kind}"
        sh("docker", "run", "-d", "--name", name, "--label", f"io.compartment.project={label}",
           "--network", network, "-e", f"HOST={host}", IMAGE, "sh", "-c", script)
        names.append(name)
    return names


def stop_loops(names):
    results = {}
    for name in names:
        subprocess.run(["docker", "exec", name, "touch", "/tmp/stop"], capture_output=True)
    for name in names:
        for _ in range(100):
            if subprocess.run(["docker", "exec", name, "test", "-f", "/tmp/done"]).returncode == 0:
                break
            time.sleep(0.1)
        log = subprocess.run(["docker", "exec", name, "cat", "/tmp/log"], capture_output=True, text=True).stdout.split()
        results[name.rsplit("-", 1)[1]] = (len(log), log.count("fail"))
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)
    return results


def cleanup(label):
    for what, ls, rm in (("ps", ["ps", "-aq"], ["rm", "-f", "-v"]), ("volume", ["volume", "ls", "-q"], ["volume", "rm", "-f"]),
                         ("network", ["network", "ls", "-q"], ["network", "rm"]), ("image", ["images", "-q"], ["rmi", "-f"])):
        ids = sh("docker", *ls, "--filter", f"label=io.compartment.project={label}").stdout.split()
        if ids:
            subprocess.run(["docker", *rm, *sorted(set(ids))], capture_output=True)


def bench_compartment(binary, tmp, replaces):
    name = f"rb{os.getpid()}"
    root = os.path.join(tmp, name)
    env = dict(os.environ, COMPARTMENT_SECRET_KEY="bench-key", XDG_CONFIG_HOME=os.path.join(tmp, "config"))
    project(root, 0)
    apply = [binary, "--project", name, "apply", "--yes"]
    try:
        sh(*apply, cwd=root, env=env)
        loops = start_loops(f"cmpt-{name}-production", f"web.production.{name}.service.internal", name)
        time.sleep(1)
        took = []
        for i in range(1, replaces + 1):
            write(os.path.join(root, "web", "index.html"), f"release {i}\n")
            t = time.perf_counter()
            sh(*apply, cwd=root, env=env)
            took.append(time.perf_counter() - t)
            time.sleep(0.5)
        return stop_loops(loops), took
    finally:
        cleanup(name)


def bench_compose(tmp, replaces):
    name = f"rbc{os.getpid()}"
    root = os.path.join(tmp, name)
    project(root, 0)
    write(os.path.join(root, "docker-compose.yml"),
          f"version: '2.4'\nservices:\n  web:\n    build: web\n    image: {name}-web\n    stop_grace_period: 2s\n"
          f"    labels: {{io.compartment.project: {name}}}\n    networks: {{default: {{aliases: [web.internal]}}}}\n"
          f"networks:\n  default:\n    labels: {{io.compartment.project: {name}}}\n")
    compose = ["docker-compose", "-p", name, "-f", os.path.join(root, "docker-compose.yml")]
    try:
        sh(*compose, "up", "-d", "--build", cwd=root)
        loops = start_loops(f"{name}_default", "web.internal", name)
        time.sleep(1)
        took = []
        for i in range(1, replaces + 1):
            write(os.path.join(root, "web", "index.html"), f"release {i}\n")
            t = time.perf_counter()
            sh(*compose, "up", "-d", "--build", cwd=root)
            took.append(time.perf_counter() - t)
            time.sleep(0.5)
        return stop_loops(loops), took
    finally:
        subprocess.run([*compose, "down", "-v", "--rmi", "local"], capture_output=True, cwd=root)
        cleanup(name)


def report(what, results, took):
    for kind in ("any", "first"):
        total, failed = results[kind]
        label = {"any": "any-address client  ", "first": "first-address client"}[kind]
        print(f"{what:<28} {label}: {failed:>4} of {total:>5} requests failed")
    print(f"{what:<28} one replacing apply : median {statistics.median(took):.2f} s  {[round(x, 2) for x in took]}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default="target/release/compartment")
    ap.add_argument("--replaces", type=int, default=5)
    a = ap.parse_args()
    binary = os.path.abspath(a.binary)
    tmp = tempfile.mkdtemp(prefix="compartment-replace-bench-")
    try:
        results, took = bench_compartment(binary, tmp, a.replaces)
        report("compartment (start-first)", results, took)
        total, failed = results["any"]
        print(f"target: 0 failed requests for the any-address client: {'OK' if failed == 0 else 'MISSED'}")
        if shutil.which("docker-compose"):
            results, took = bench_compose(tmp, a.replaces)
            report("docker-compose (stop-first)", results, took)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
