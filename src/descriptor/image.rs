//! Docker image references, checked where they are written: the grammar of
//! the distribution project's `reference` package (what `docker pull`
//! accepts): `[host[:port]/]path[:tag][@algorithm:hex]`, path components in
//! lowercase letters and digits joined by `.`, `_`, `__` or dashes. A
//! reference the engine would refuse is reported with its place in
//! compartment.yml instead of failing the apply. (Small enough to write
//! out: the crates that parse references bring a registry client along.)

/// Why `reference` is not an image reference, if it is not.
pub fn check(reference: &str) -> Result<(), &'static str> {
    if reference.is_empty() {
        return Err("it is empty");
    }
    if reference.len() > 255 {
        return Err("it is longer than 255 characters");
    }
    let (rest, digest) = match reference.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (reference, None),
    };
    if let Some(d) = digest {
        digest_ok(d)?;
    }
    // A tag is after the last `:` that follows the last `/`.
    let slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match rest[slash..].rfind(':') {
        Some(i) => (&rest[..slash + i], Some(&rest[slash + i + 1..])),
        None => (rest, None),
    };
    if let Some(t) = tag {
        tag_ok(t)?;
    }
    name_ok(name)
}

fn tag_ok(tag: &str) -> Result<(), &'static str> {
    let mut chars = tag.chars();
    let first = chars.next().ok_or("its tag is empty")?;
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    match word(first) && tag.len() <= 128 && chars.all(|c| word(c) || c == '.' || c == '-') {
        true => Ok(()),
        false => Err("its tag may hold letters, digits, `_`, `.` and `-` (at most 128, not starting with `.` or `-`)"),
    }
}

fn digest_ok(digest: &str) -> Result<(), &'static str> {
    let (algorithm, hex) = digest
        .split_once(':')
        .ok_or("its digest is not algorithm:hex")?;
    let alg_ok = !algorithm.is_empty()
        && algorithm
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+._-".contains(c));
    match alg_ok && hex.len() >= 32 && hex.chars().all(|c| c.is_ascii_hexdigit()) {
        true => Ok(()),
        false => Err("its digest is not algorithm:hex (e.g. sha256: and 64 hex digits)"),
    }
}

/// Whether `registry` is where built images can be pushed:
/// `host[:port][/prefix]`, the host a domain name, an address or
/// `localhost` (what `docker push` reads as a registry, not as a name on
/// Docker Hub).
pub fn check_registry(registry: &str) -> Result<(), &'static str> {
    if registry.contains("://") {
        return Err("a registry is host[:port][/prefix], without a scheme");
    }
    let first = registry.split('/').next().unwrap_or_default();
    if !(first.contains('.') || first.contains(':') || first == "localhost") {
        return Err("its host needs a `.` or a `:port` (or is localhost), or docker would read it as a name on Docker Hub");
    }
    if registry.ends_with('/') {
        return Err("it ends with `/`");
    }
    check(&format!("{registry}/image:tag")).map_err(|_| {
        "it is not host[:port][/prefix] with a host name or address and a lowercase prefix"
    })
}

fn name_ok(name: &str) -> Result<(), &'static str> {
    let mut parts: Vec<&str> = name.split('/').collect();
    let first = parts[0];
    let is_domain = parts.len() > 1
        && (first.contains('.')
            || first.contains(':')
            || first == "localhost"
            || first.chars().any(|c| c.is_ascii_uppercase()));
    if is_domain {
        domain_ok(first)?;
        parts.remove(0);
    }
    for part in parts {
        component_ok(part)?;
    }
    Ok(())
}

fn domain_ok(domain: &str) -> Result<(), &'static str> {
    let (host, port) = match domain.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (domain, None),
    };
    if port.is_some_and(|p| p.is_empty() || !p.chars().all(|c| c.is_ascii_digit())) {
        return Err("its registry port is not a number");
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    match host.split('.').all(label_ok) {
        true => Ok(()),
        false => Err("its registry host is not a host name"),
    }
}

/// A path component: lowercase letters and digits, joined by one `.`, one
/// or two `_`, or any number of `-`.
fn component_ok(part: &str) -> Result<(), &'static str> {
    const WHY: &str = "its name may hold only lowercase letters, digits and single separators (`.`, `_`, `__`, `-`) between them, in components joined by `/`";
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    let bytes: Vec<char> = part.chars().collect();
    if bytes.is_empty() || !alnum(bytes[0]) || !alnum(*bytes.last().unwrap()) {
        return Err(WHY);
    }
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let sep: String = bytes[start..i].iter().collect();
        let ok = sep == "." || sep == "_" || sep == "__" || sep.chars().all(|c| c == '-');
        if !ok {
            return Err(WHY);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{check, check_registry};

    #[test]
    fn registries_are_hosts_with_an_optional_prefix() {
        for ok in [
            "10.231.5.1:5000",
            "registry.example.com",
            "registry.example.com:5000/team/apps",
            "localhost:5000",
        ] {
            assert_eq!(check_registry(ok), Ok(()), "{ok}");
        }
        for bad in [
            "https://registry.example.com",
            "registry",
            "team/apps",
            "registry.example.com/",
            "registry.example.com:port",
            "registry.example.com/Team",
        ] {
            assert!(check_registry(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn what_docker_pull_accepts_passes() {
        for r in [
            "postgres",
            "postgres:16-alpine",
            "valkey/valkey:8",
            "compartment-test/busybox:1",
            "registry.example.com:5000/team/app_x__y:v1.2",
            "localhost/app",
            "ghcr.io/o/r@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "a--b/c.d:latest",
        ] {
            assert_eq!(check(r), Ok(()), "{r}");
        }
    }

    #[test]
    fn what_docker_pull_refuses_fails_with_the_reason() {
        for (r, why) in [
            ("IMAGE", "its name may hold only"),
            ("Postgres:16", "its name may hold only"),
            ("postgres:", "its tag is empty"),
            ("postgres:-x", "its tag may hold"),
            ("a..b", "its name may hold only"),
            ("app/", "its name may hold only"),
            ("x@sha256:12", "its digest"),
            ("host:port/app", "its registry port"),
            ("", "it is empty"),
        ] {
            let e = check(r).expect_err(r);
            assert!(e.starts_with(why), "{r}: {e}");
        }
    }
}
