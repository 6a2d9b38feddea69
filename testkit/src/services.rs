//! What the starters of private service processes share (PostgreSQL, Redis, mosquitto):
//! finding a Debian-installed binary, and the ids of the user a server must run as.

use std::path::PathBuf;

/// `name` on PATH or in one of `extra` (where Debian puts it); panics with how to install it.
pub(crate) fn binary(name: &str, extra: &[&str], package: &str) -> PathBuf {
    let candidates = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain(extra.iter().map(PathBuf::from));
    for dir in candidates {
        let b = dir.join(name);
        if b.is_file() {
            return b;
        }
    }
    panic!("{name} is not installed: run scripts/install-test-deps.sh (Debian's {package})")
}

/// The uid and gid of a user, from `/etc/passwd`.
pub(crate) fn user_ids(name: &str) -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        if fields.len() > 3 && fields[0] == name {
            Some((fields[2].parse().ok()?, fields[3].parse().ok()?))
        } else {
            None
        }
    })
}
