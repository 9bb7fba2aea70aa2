//! A two-node Docker Swarm on this machine (DESIGN §9): two network
//! namespaces on a bridge of their own, a `dockerd` in each (its own
//! mount namespace, data and `/etc/docker`), `swarm init` on the first and
//! `swarm join` on the second, and Debian's `docker-registry` on the
//! bridge address, which both nodes list under `insecure-registries`. The
//! nodes' container addresses are not routable from here, as on real
//! hosts. Everything made (swarm, daemons, namespaces, bridge, firewall
//! rules, registry, data) goes when it is dropped.

use crate::host::{must, sh};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// One node: a namespace with its dockerd.
pub struct Node {
    pub name: String,
    /// `10.234.N.1x`.
    pub ip: String,
    /// `tcp://10.234.N.1x:2375`.
    pub address: String,
    daemon: Child,
    root: std::path::PathBuf,
}

impl Node {
    /// `docker -H <node> ARGS…`: success and output.
    pub fn docker(&self, args: &[&str]) -> (bool, String) {
        let mut all = vec!["docker", "-H", &self.address];
        all.extend_from_slice(args);
        sh(&all)
    }

    /// [`Node::docker`], asserting success.
    pub fn docker_ok(&self, args: &[&str]) -> String {
        let (ok, out) = self.docker(args);
        assert!(ok, "docker -H {} {}: {out}", self.address, args.join(" "));
        out
    }
}

pub struct Swarm {
    pub nodes: Vec<Node>,
    /// The registry, `10.234.N.1:5000`.
    pub registry: String,
    bridge: String,
    registry_process: Child,
    registry_dir: tempfile::TempDir,
}

impl Swarm {
    /// A manager and a worker with the given test images loaded (a public
    /// registry would serve them; none can be pulled here).
    pub fn start(images: &[&str]) -> Swarm {
        let k = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let n = (std::process::id() * 11 + k * 17) % 200 + 20;
        let bridge = format!("csb{n}");
        let gateway = format!("10.234.{n}.1");
        let _ = sh(&["ip", "link", "del", &bridge]);
        must(&["ip", "link", "add", &bridge, "type", "bridge"]);
        must(&[
            "ip",
            "addr",
            "add",
            &format!("{gateway}/24"),
            "dev",
            &bridge,
        ]);
        must(&["ip", "link", "set", &bridge, "up"]);
        for dir in ["-i", "-o"] {
            must(&["iptables", "-I", "FORWARD", dir, &bridge, "-j", "ACCEPT"]);
        }
        let registry_dir = tempfile::tempdir().unwrap();
        let registry = format!("{gateway}:5000");
        let registry_process = start_registry(&registry_dir, &registry);
        let mut swarm = Swarm {
            nodes: Vec::new(),
            registry,
            bridge,
            registry_process,
            registry_dir,
        };
        for i in 1..=2 {
            let node = start_node(n, i, &swarm.bridge, &gateway, &swarm.registry);
            swarm.nodes.push(node);
        }
        for node in &swarm.nodes {
            wait_ready(node);
            for image in images {
                let cmd = format!("docker save {image} | docker -H {} load", node.address);
                must(&["sh", "-c", &cmd]);
            }
        }
        swarm.join();
        swarm
    }

    fn join(&self) {
        let (manager, worker) = (&self.nodes[0], &self.nodes[1]);
        // Overlay subnets from a range nothing here routes.
        manager.docker_ok(&[
            "swarm",
            "init",
            "--advertise-addr",
            &manager.ip,
            "--default-addr-pool",
            "10.241.0.0/16",
        ]);
        let token = manager.docker_ok(&["swarm", "join-token", "-q", "worker"]);
        worker.docker_ok(&[
            "swarm",
            "join",
            "--advertise-addr",
            &worker.ip,
            "--token",
            token.trim(),
            &format!("{}:2377", manager.ip),
        ]);
        let started = Instant::now();
        loop {
            let ready = manager.docker_ok(&["node", "ls", "--format", "{{.Status}}"]);
            if ready.lines().filter(|l| *l == "Ready").count() == 2 {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the worker did not join: {ready}"
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    pub fn manager(&self) -> &Node {
        &self.nodes[0]
    }
}

fn start_registry(dir: &tempfile::TempDir, addr: &str) -> Child {
    let config = dir.path().join("config.yml");
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {addr}\n",
            dir.path().join("data").display()
        ),
    )
    .unwrap();
    let child = Command::new("docker-registry")
        .args(["serve", config.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("registry.log")).unwrap())
        .spawn()
        .expect("docker-registry starts (Debian's docker-registry package)");
    let started = Instant::now();
    let sock: std::net::SocketAddr = addr.parse().unwrap();
    while std::net::TcpStream::connect_timeout(&sock, Duration::from_millis(200)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the registry did not listen"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    child
}

fn start_node(n: u32, i: u32, bridge: &str, gateway: &str, registry: &str) -> Node {
    let name = format!("csn{n}-{i}");
    let (outer, inner) = (format!("{name}o"), format!("{name}i"));
    let ip = format!("10.234.{n}.{}", 10 + i);
    let _ = sh(&["ip", "netns", "del", &name]);
    let _ = sh(&["ip", "link", "del", &outer]);
    must(&["ip", "netns", "add", &name]);
    must(&[
        "ip", "link", "add", &outer, "type", "veth", "peer", "name", &inner,
    ]);
    must(&["ip", "link", "set", &inner, "netns", &name]);
    must(&["ip", "link", "set", &outer, "master", bridge]);
    must(&["ip", "link", "set", &outer, "up"]);
    let inside = format!("ip addr add {ip}/24 dev {inner}; ip link set {inner} up; ip link set lo up; ip route add default via {gateway}");
    must(&["ip", "netns", "exec", &name, "sh", "-c", &inside]);
    let root = std::path::PathBuf::from(format!("/var/lib/compartment-test-{name}"));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    let (_, driver) = sh(&["docker", "info", "-f", "{{.Driver}}"]);
    let config = root.join("daemon.json");
    // Address ranges nothing on this machine routes; the overlay networks'
    // pool differs from the bridge's.
    std::fs::write(
        &config,
        format!(
            r#"{{"data-root": "{}", "storage-driver": "{}", "bip": "10.{b}.{n}.1/24", "default-address-pools": [{{"base": "10.240.0.0/16", "size": 24}}], "insecure-registries": ["{registry}"]}}"#,
            root.join("data").display(),
            driver.trim(),
            b = 236 + i,
        ),
    )
    .unwrap();
    let address = format!("tcp://{ip}:2375");
    let daemon = crate::host::dockerd(&name, &root, &format!("-H {address}"));
    Node {
        name,
        ip,
        address,
        daemon,
        root,
    }
}

fn wait_ready(node: &Node) {
    crate::host::wait_for_dockerd(&format!("node {}", node.name), &node.root, || {
        node.docker(&["info", "-f", "{{.ID}}"]).0
    });
}

impl Drop for Swarm {
    fn drop(&mut self) {
        for node in self.nodes.iter_mut().rev() {
            let _ = node.docker(&["swarm", "leave", "--force"]);
            let (_, ids) = node.docker(&["ps", "-aq"]);
            for id in ids.split_whitespace() {
                let _ = node.docker(&["rm", "-f", "-v", id]);
            }
            let _ = node.daemon.kill();
            let _ = node.daemon.wait();
            let _ = sh(&["ip", "netns", "del", &node.name]);
            let _ = sh(&["ip", "link", "del", &format!("{}o", node.name)]);
            let _ = sh(&[
                "umount",
                "-R",
                &node.root.join("data").display().to_string(),
            ]);
            let _ = std::fs::remove_dir_all(&node.root);
        }
        let _ = self.registry_process.kill();
        let _ = self.registry_process.wait();
        for dir in ["-i", "-o"] {
            let _ = sh(&[
                "iptables",
                "-D",
                "FORWARD",
                dir,
                &self.bridge,
                "-j",
                "ACCEPT",
            ]);
        }
        let _ = sh(&["ip", "link", "del", &self.bridge]);
        let _ = &self.registry_dir;
    }
}
