//! Test hosts on this machine (DESIGN §9): a network namespace joined to
//! the host by a veth pair, with its own dockerd listening on its address,
//! so its containers' addresses are not routable from here — as on a real
//! remote host. Everything made (namespace, link, daemon, its data) goes
//! when the host is dropped.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Distinct per host of this run (tests run in parallel) and per run.
static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

pub struct TestHost {
    /// The network namespace.
    pub name: String,
    /// `tcp://10.231.N.2:2375`.
    pub address: String,
    /// Its address, `10.231.N.2`.
    pub ip: String,
    /// Its dockerd (none for a [`TestHost::bare`] host).
    daemon: Option<Child>,
    /// Its directory: the daemon's data, config and Unix socket.
    pub root: std::path::PathBuf,
    /// What the docker CLI needs to talk to it (TLS flags).
    cli: Vec<String>,
}

pub fn sh(args: &[&str]) -> (bool, String) {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .expect("runs");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

pub fn must(args: &[&str]) {
    let (ok, out) = sh(args);
    assert!(ok, "{}: {out}", args.join(" "));
}

/// A new network namespace `cthN` joined to this machine by a veth pair
/// (10.231.N.1 here, 10.231.N.2 there): its name, N and its address.
fn namespace() -> (String, u32, String) {
    let k = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let n = (std::process::id() * 7 + k * 13) % 200 + 20;
    let name = format!("cth{n}");
    let (outer, inner) = (format!("{name}-o"), format!("{name}-i"));
    let (host_ip, ns_ip) = (format!("10.231.{n}.1"), format!("10.231.{n}.2"));
    let _ = sh(&["ip", "netns", "del", &name]);
    let _ = sh(&["ip", "link", "del", &outer]);
    must(&["ip", "netns", "add", &name]);
    must(&[
        "ip", "link", "add", &outer, "type", "veth", "peer", "name", &inner,
    ]);
    must(&["ip", "link", "set", &inner, "netns", &name]);
    must(&["ip", "addr", "add", &format!("{host_ip}/24"), "dev", &outer]);
    must(&["ip", "link", "set", &outer, "up"]);
    let inside = format!("ip addr add {ns_ip}/24 dev {inner}; ip link set {inner} up; ip link set lo up; ip route add default via {host_ip}");
    must(&["ip", "netns", "exec", &name, "sh", "-c", &inside]);
    (name, n, ns_ip)
}

/// Waits up to 90 s for a dockerd started by [`dockerd`] to answer
/// (`answers`); panics with `what` and its log under `root` otherwise.
pub fn wait_for_dockerd(what: &str, root: &std::path::Path, answers: impl Fn() -> bool) {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(90) {
        if answers() {
            return;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    let log = std::fs::read_to_string(root.join("dockerd.log")).unwrap_or_default();
    panic!("{what} did not answer within 90 s:\n{log}");
}

/// `dockerd` in network namespace `netns`, in a mount namespace of its
/// own with its own `/etc/docker` (dockerd 20.10 derives the engine ID from
/// `/etc/docker/key.json`, and a second host must not share the first
/// one's identity), configured by `root/daemon.json`, its socket, pid and
/// log under `root`, listening as `listen` adds (`-H tcp://…`, TLS flags).
/// Once its socket is there, it is also `/var/run/docker.sock` in that
/// mount namespace, as on a real host (a container that mounts the
/// engine's socket reaches this engine, not the machine's).
pub fn dockerd(netns: &str, root: &std::path::Path, listen: &str) -> Child {
    let etc = root.join("etc");
    std::fs::create_dir_all(&etc).unwrap();
    let script = format!(
        "mount --bind {etc} /etc/docker && \
         (for i in $(seq 900); do [ -S {sock} ] && exec mount --bind {sock} /var/run/docker.sock; sleep 0.1; done) & \
         exec dockerd --config-file {config} --exec-root {exec} --pidfile {pid} -H unix://{sock} {listen}",
        etc = etc.display(),
        config = root.join("daemon.json").display(),
        exec = root.join("exec").display(),
        pid = root.join("dockerd.pid").display(),
        sock = root.join("docker.sock").display(),
    );
    Command::new("nsenter")
        .arg(format!("--net=/var/run/netns/{netns}"))
        .args([
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            &script,
        ])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(root.join("dockerd.log")).unwrap())
        .spawn()
        .expect("dockerd starts")
}

impl TestHost {
    /// A new host with the given test images loaded (none can be pulled).
    pub fn start(images: &[&str]) -> TestHost {
        TestHost::start_with(images, false)
    }

    /// [`TestHost::start`]; with `tls`, the engine listens on 2376 with
    /// `--tlsverify`, its CA and the client's `cert.pem`/`key.pem` in
    /// [`TestHost::tls_dir`].
    pub fn start_with(images: &[&str], tls: bool) -> TestHost {
        let (name, n, ns_ip) = namespace();
        let root = std::path::PathBuf::from(format!("/var/lib/compartment-test-{name}"));
        std::fs::create_dir_all(&root).unwrap();
        let (_, driver) = sh(&["docker", "info", "-f", "{{.Driver}}"]);
        let config = root.join("daemon.json");
        // Its networks come from a range nothing on this machine routes, so
        // a connection to one of its containers cannot land on a local one.
        let json = format!(
            r#"{{"data-root": "{}", "storage-driver": "{}", "bip": "10.233.{n}.1/24", "default-address-pools": [{{"base": "10.232.0.0/16", "size": 24}}]}}"#,
            root.join("data").display(),
            driver.trim()
        );
        std::fs::write(&config, json).unwrap();
        let tls_dir = root.join("tls");
        let (address, tls_flags, cli) = match tls {
            false => (format!("tcp://{ns_ip}:2375"), String::new(), Vec::new()),
            true => {
                std::fs::create_dir_all(&tls_dir).unwrap();
                make_certs(&tls_dir, &ns_ip);
                let d = &tls_dir;
                let f = |n: &str| d.join(n).display().to_string();
                let daemon = format!(
                    " --tlsverify --tlscacert {} --tlscert {} --tlskey {}",
                    f("ca.pem"),
                    f("server-cert.pem"),
                    f("server-key.pem")
                );
                let cli = [
                    "--tlsverify",
                    "--tlscacert",
                    &f("ca.pem"),
                    "--tlscert",
                    &f("cert.pem"),
                    "--tlskey",
                    &f("key.pem"),
                ]
                .map(String::from)
                .to_vec();
                (format!("tcp://{ns_ip}:2376"), daemon, cli)
            }
        };
        let daemon = dockerd(&name, &root, &format!("-H {address}{tls_flags}"));
        let host = TestHost {
            name,
            address,
            ip: ns_ip,
            daemon: Some(daemon),
            root,
            cli,
        };
        host.wait_ready();
        for image in images {
            host.load(image);
        }
        host
    }

    /// A host with no engine: only its network namespace and address, for
    /// servers started in it (`sshd`).
    pub fn bare() -> TestHost {
        let (name, _, ip) = namespace();
        TestHost {
            name,
            address: String::new(),
            ip,
            daemon: None,
            root: std::path::PathBuf::new(),
            cli: Vec::new(),
        }
    }

    fn docker(&self, args: &[&str]) -> (bool, String) {
        let mut all = vec!["docker"];
        all.extend(self.cli.iter().map(String::as_str));
        all.extend_from_slice(&["-H", &self.address]);
        all.extend_from_slice(args);
        sh(&all)
    }

    fn wait_ready(&self) {
        wait_for_dockerd("the test host's dockerd", &self.root, || {
            self.docker(&["info", "-f", "{{.ID}}"]).0
        });
    }

    fn load(&self, image: &str) {
        let cmd = format!(
            "docker save {image} | docker {} -H {} load",
            self.cli.join(" "),
            self.address
        );
        let (ok, out) = sh(&["sh", "-c", &cmd]);
        assert!(ok, "loading {image}: {out}");
    }

    /// The CA and the client certificate and key of a TLS host.
    pub fn tls_dir(&self) -> std::path::PathBuf {
        self.root.join("tls")
    }

    /// `docker -H <host> ARGS…`, asserting success; its output.
    pub fn docker_ok(&self, args: &[&str]) -> String {
        let (ok, out) = self.docker(args);
        assert!(ok, "docker -H {} {}: {out}", self.address, args.join(" "));
        out
    }
}

/// A process started inside a test host's network namespace, killed when
/// dropped.
pub struct InHost(Child);

impl Drop for InHost {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl TestHost {
    /// Debian's `sshd` on the host's address, letting in the key `key.pub`
    /// (root, forwarding Unix sockets, serving SFTP); host key and config
    /// under `dir`.
    pub fn sshd(&self, dir: &std::path::Path) -> InHost {
        must(&["mkdir", "-p", "/run/sshd"]);
        let host_key = dir.join("host_key");
        must(&[
            "ssh-keygen",
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-f",
            host_key.to_str().unwrap(),
        ]);
        let config = dir.join("sshd_config");
        std::fs::write(
            &config,
            format!(
                "ListenAddress {ip}\nHostKey {hk}\nPidFile {dir}/sshd.pid\nAuthorizedKeysFile {dir}/key.pub\nPermitRootLogin prohibit-password\nStrictModes no\nAllowStreamLocalForwarding yes\nUsePAM no\nSubsystem sftp internal-sftp\n",
                ip = self.ip,
                hk = host_key.display(),
                dir = dir.display()
            ),
        )
        .unwrap();
        let child = Command::new("nsenter")
            .arg(format!("--net=/var/run/netns/{}", self.name))
            .args(["/usr/sbin/sshd", "-D", "-e", "-f", config.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("sshd.log")).unwrap())
            .spawn()
            .expect("sshd starts");
        let started = Instant::now();
        let addr: std::net::SocketAddr = format!("{}:22", self.ip).parse().unwrap();
        while std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(300)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "sshd did not listen"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        InHost(child)
    }
}

/// A CA, a server certificate for `ip` and a client certificate, made with
/// openssl in `dir` (as `docs.docker.com/engine/security/protect-access`).
pub fn make_certs(dir: &std::path::Path, ip: &str) {
    let script = format!(
        "set -e; cd {dir}
openssl genrsa -out ca-key.pem 2048 2>/dev/null
openssl req -new -x509 -days 2 -key ca-key.pem -subj /CN=compartment-test-ca -out ca.pem
openssl genrsa -out server-key.pem 2048 2>/dev/null
openssl req -new -key server-key.pem -subj /CN={ip} -out server.csr
printf 'subjectAltName=IP:{ip}\\nextendedKeyUsage=serverAuth\\n' > server.ext
openssl x509 -req -days 2 -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -out server-cert.pem -extfile server.ext 2>/dev/null
openssl genrsa -out key.pem 2048 2>/dev/null
openssl req -new -key key.pem -subj /CN=client -out client.csr
printf 'extendedKeyUsage=clientAuth\\n' > client.ext
openssl x509 -req -days 2 -in client.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -out cert.pem -extfile client.ext 2>/dev/null",
        dir = dir.display()
    );
    must(&["sh", "-c", &script]);
}

impl Drop for TestHost {
    fn drop(&mut self) {
        if let Some(daemon) = &mut self.daemon {
            let (_, ids) = {
                let mut all = vec!["docker"];
                all.extend(self.cli.iter().map(String::as_str));
                all.extend_from_slice(&["-H", &self.address, "ps", "-aq"]);
                sh(&all)
            };
            for id in ids.split_whitespace() {
                let mut all = vec!["docker"];
                all.extend(self.cli.iter().map(String::as_str));
                all.extend_from_slice(&["-H", &self.address, "rm", "-f", "-v", id]);
                let _ = sh(&all);
            }
            let _ = daemon.kill();
            let _ = daemon.wait();
        }
        let _ = sh(&["ip", "netns", "del", &self.name]);
        let _ = sh(&["ip", "link", "del", &format!("{}-o", self.name)]);
        if self.daemon.is_some() {
            let _ = sh(&[
                "umount",
                "-R",
                &self.root.join("data").display().to_string(),
            ]);
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }
}
