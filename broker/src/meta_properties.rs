//! Kafka's `meta.properties`: which cluster and node a data directory belongs to, written when
//! the directory is formatted (`tributary storage format`, as `kafka-storage format`) and checked
//! at every start, so that a broker never serves a directory of another node or cluster.
//!
//! A single-node broker (broker and controller in one process, no other voters) formats its
//! directory itself on first start; a member of a multi-node cluster needs it formatted with the
//! cluster's id first, as Kafka does.

use std::collections::BTreeMap;
use std::path::Path;

use uuid::Uuid;

/// The file's name inside the data directory.
pub const FILE_NAME: &str = "meta.properties";

/// What `meta.properties` records (version 1, as Kafka writes it in KRaft mode).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaProperties {
    /// The cluster's id: a UUID in Kafka's base64url form (22 characters).
    pub cluster_id: String,
    /// The node the directory belongs to.
    pub node_id: i32,
    /// This directory's own id (KIP-858), a UUID in the same form.
    pub directory_id: String,
}

/// A problem with a data directory's `meta.properties`, said so that the user can act.
#[derive(Debug, thiserror::Error)]
pub enum MetaError {
    /// The file is missing where it is required.
    #[error("no {FILE_NAME} in {dir}: format the directory first (tributary storage format -t CLUSTER_ID -c server.properties)")]
    NotFormatted {
        /// The data directory.
        dir: String,
    },
    /// The file is there already (formatting would change an existing directory).
    #[error("log directory {dir} is already formatted (cluster {cluster_id}, node {node_id}); use --ignore-formatted to leave it as it is")]
    AlreadyFormatted {
        /// The data directory.
        dir: String,
        /// Its cluster.
        cluster_id: String,
        /// Its node.
        node_id: i32,
    },
    /// The file names another node or cluster, or cannot be read.
    #[error("{dir}: {reason}")]
    Invalid {
        /// The data directory.
        dir: String,
        /// What is wrong.
        reason: String,
    },
}

/// A new random id in Kafka's form (`Uuid.randomUuid().toString()`: URL-safe base64 of the 16
/// bytes, without padding), as `kafka-storage random-uuid` prints it.
pub fn random_uuid() -> String {
    // as Kafka's Uuid.randomUuid: never one that starts with '-', which a command line would
    // take for an option (`-t -Hx...`)
    loop {
        let id = encode_uuid(Uuid::new_v4().as_bytes());
        if !id.starts_with('-') {
            return id;
        }
    }
}

fn encode_uuid(bytes: &[u8; 16]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(22);
    let mut acc = 0u32;
    let mut bits = 0;
    for &b in bytes {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 6 {
            bits -= 6;
            out.push(ALPHABET[((acc >> bits) & 63) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((acc << (6 - bits)) & 63) as usize] as char);
    }
    out
}

/// Decodes an id of Kafka's form back to its 16 bytes (`None` when it is not one).
pub fn decode_uuid(id: &str) -> Option<Uuid> {
    validate_cluster_id(id).ok()?;
    let value = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'-' => 62,
            _ => 63,
        }
    };
    let mut out = [0u8; 16];
    let (mut acc, mut bits, mut n) = (0u32, 0, 0);
    for c in id.bytes() {
        acc = (acc << 6) | value(c);
        bits += 6;
        if bits >= 8 && n < 16 {
            bits -= 8;
            out[n] = (acc >> bits) as u8;
            n += 1;
        }
    }
    Some(Uuid::from_bytes(out))
}

/// Checks a cluster id as Kafka's `Uuid.fromString` does: 22 characters of URL-safe base64 that
/// decode to 16 bytes.
pub fn validate_cluster_id(id: &str) -> Result<(), String> {
    let ok = id.len() == 22
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        // the last character carries only 2 bits: the other 4 must be zero
        && id
            .bytes()
            .last()
            .is_some_and(|b| b"AQgw".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "Cluster ID string {id} does not appear to be a valid UUID: expected 22 characters of URL-safe base64 (tributary storage random-uuid makes one)"
        ))
    }
}

impl MetaProperties {
    /// Reads `dir`'s file; `Ok(None)` when there is none.
    pub fn read(dir: &Path) -> Result<Option<MetaProperties>, MetaError> {
        let invalid = |reason: String| MetaError::Invalid {
            dir: dir.display().to_string(),
            reason,
        };
        let text = match std::fs::read_to_string(dir.join(FILE_NAME)) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(invalid(format!("cannot read {FILE_NAME}: {e}"))),
        };
        let props = crate::config::parse_properties(&text)
            .map_err(|e| invalid(format!("{FILE_NAME}: {e}")))?;
        let get = |k: &str| {
            props
                .get(k)
                .cloned()
                .ok_or_else(|| invalid(format!("{FILE_NAME} has no {k}")))
        };
        let node_id = get("node.id")?
            .trim()
            .parse::<i32>()
            .map_err(|_| invalid(format!("{FILE_NAME}: node.id is not a number")))?;
        Ok(Some(MetaProperties {
            cluster_id: get("cluster.id")?,
            node_id,
            // written by Tributary before directory ids: given one now
            directory_id: props.get("directory.id").cloned().unwrap_or_default(),
        }))
    }

    /// Writes `dir`'s file (atomically), creating the directory.
    pub fn write(&self, dir: &Path) -> Result<(), MetaError> {
        let invalid = |reason: String| MetaError::Invalid {
            dir: dir.display().to_string(),
            reason,
        };
        std::fs::create_dir_all(dir).map_err(|e| invalid(format!("cannot create it: {e}")))?;
        let mut props = BTreeMap::new();
        props.insert("cluster.id", self.cluster_id.clone());
        props.insert("directory.id", self.directory_id.clone());
        props.insert("node.id", self.node_id.to_string());
        props.insert("version", "1".to_string());
        let mut text = String::from("#\n#Written by Tributary\n");
        for (k, v) in props {
            text.push_str(&format!("{k}={v}\n"));
        }
        crate::log::write_atomically(&dir.join(FILE_NAME), text.as_bytes())
            .map_err(|e| invalid(format!("cannot write {FILE_NAME}: {e}")))
    }

    /// Checks that the directory belongs to `node_id` (and, when known, `cluster_id`).
    pub fn check(
        &self,
        dir: &Path,
        node_id: i32,
        cluster_id: Option<&str>,
    ) -> Result<(), MetaError> {
        let invalid = |reason: String| MetaError::Invalid {
            dir: dir.display().to_string(),
            reason,
        };
        if self.node_id != node_id {
            return Err(invalid(format!(
                "it belongs to node.id={}, but this broker has node.id={node_id}; start it with node.id={} or use another log.dirs",
                self.node_id, self.node_id
            )));
        }
        if let Some(id) = cluster_id.filter(|id| *id != self.cluster_id) {
            return Err(invalid(format!(
                "it belongs to cluster {}, but the metadata log says {id}",
                self.cluster_id
            )));
        }
        Ok(())
    }
}

/// `tributary storage format`: writes `meta.properties` for `cluster_id` and `node_id` into
/// `dir`. An already formatted directory is an error, or left as it is with `ignore_formatted`
/// (`Ok(false)`).
pub fn format(
    dir: &Path,
    cluster_id: &str,
    node_id: i32,
    ignore_formatted: bool,
) -> Result<bool, MetaError> {
    validate_cluster_id(cluster_id).map_err(|reason| MetaError::Invalid {
        dir: dir.display().to_string(),
        reason,
    })?;
    if let Some(existing) = MetaProperties::read(dir)? {
        if ignore_formatted {
            return Ok(false);
        }
        return Err(MetaError::AlreadyFormatted {
            dir: dir.display().to_string(),
            cluster_id: existing.cluster_id,
            node_id: existing.node_id,
        });
    }
    MetaProperties {
        cluster_id: cluster_id.to_string(),
        node_id,
        directory_id: random_uuid(),
    }
    .write(dir)?;
    Ok(true)
}

#[cfg(test)]
mod tests {

    #[test]
    fn random_ids_never_start_like_an_option() {
        for _ in 0..10_000 {
            let id = random_uuid();
            assert!(!id.starts_with('-'), "{id}");
            assert_eq!(id.len(), 22);
        }
    }

    use super::*;

    #[test]
    fn ids_look_like_kafkas() {
        for _ in 0..100 {
            let id = random_uuid();
            assert_eq!(id.len(), 22);
            assert_eq!(validate_cluster_id(&id), Ok(()), "{id}");
        }
        // Kafka's Uuid.toString of these bytes
        assert_eq!(encode_uuid(&[0; 16]), "AAAAAAAAAAAAAAAAAAAAAA");
        assert_eq!(encode_uuid(&[255; 16]), "_____________________w");
        for bad in [
            "",
            "abc",
            "AAAAAAAAAAAAAAAAAAAAA/",
            "AAAAAAAAAAAAAAAAAAAAAB",
            "AAAAAAAAAAAAAAAAAAAAAAA",
        ] {
            assert!(validate_cluster_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn format_read_check_and_refuse_reformatting() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        assert!(MetaProperties::read(&data).unwrap().is_none());
        let id = random_uuid();
        assert!(format(&data, &id, 3, false).unwrap());
        let m = MetaProperties::read(&data).unwrap().unwrap();
        assert_eq!((m.cluster_id.as_str(), m.node_id), (id.as_str(), 3));
        assert_eq!(m.directory_id.len(), 22);
        assert!(m.check(&data, 3, Some(&id)).is_ok());
        assert!(m
            .check(&data, 4, None)
            .unwrap_err()
            .to_string()
            .contains("node.id=3"));
        assert!(m.check(&data, 3, Some("other")).is_err());
        assert!(matches!(
            format(&data, &random_uuid(), 3, false),
            Err(MetaError::AlreadyFormatted { .. })
        ));
        assert!(
            !format(&data, &random_uuid(), 3, true).unwrap(),
            "left as it is"
        );
        assert_eq!(MetaProperties::read(&data).unwrap().unwrap().cluster_id, id);
        assert!(format(&dir.path().join("x"), "not-an-id", 1, false).is_err());
    }
}
