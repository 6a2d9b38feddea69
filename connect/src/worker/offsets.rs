//! Source offsets: where each source partition of each connector has got to. Keys and values
//! are stored as Kafka Connect stores them: the key is the JSON array `["NAME", PARTITION]`, the
//! value the offset's JSON (both schemaless JsonConverter bytes). Standalone workers keep them
//! in `offset.storage.file.filename`, in Kafka's format (a Java-serialized
//! `HashMap<byte[], byte[]>`), so a Kafka Connect standalone worker's file can be read.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use futures::future::BoxFuture;

use crate::connector::ConnectError;
use crate::converter::{Converter, JsonConverter};
use crate::data::Value;

/// Where source offsets are kept.
pub trait OffsetStore: Send + Sync {
    /// The committed offset of one source partition of a connector.
    fn get(&self, connector: &str, partition: &Value) -> Option<Value>;
    /// Stores offsets (an offset of `Value::Null` removes the partition), durably.
    fn put_all<'a>(
        &'a self,
        connector: &'a str,
        offsets: &'a [(Value, Value)],
    ) -> BoxFuture<'a, Result<(), ConnectError>>;
    /// Every partition and offset of a connector.
    fn connector_offsets(&self, connector: &str) -> Vec<(Value, Value)>;
}

fn converter() -> JsonConverter {
    JsonConverter::default().with_schemas(false)
}

/// The stored key of a connector's source partition: `["NAME",PARTITION]`.
pub fn offset_key(connector: &str, partition: &Value) -> Vec<u8> {
    let key = Value::Array(vec![
        Value::String(connector.to_string()),
        partition.clone(),
    ]);
    converter()
        .to_bytes("", None, &key)
        .ok()
        .flatten()
        .unwrap_or_default()
}

fn decode(bytes: &[u8]) -> Option<Value> {
    converter()
        .to_connect_data("", Some(bytes))
        .ok()
        .map(|d| d.value)
}

/// The connector and partition of a stored key.
pub fn parse_offset_key(key: &[u8]) -> Option<(String, Value)> {
    match decode(key)? {
        Value::Array(mut parts) if parts.len() == 2 => {
            let partition = parts.pop()?;
            let name = parts.pop()?.as_str()?.to_string();
            Some((name, partition))
        }
        _ => None,
    }
}

/// Offsets in memory, saved to a file after every change when it has one.
pub struct FileOffsetStore {
    path: Option<PathBuf>,
    data: Mutex<BTreeMap<Vec<u8>, Vec<u8>>>,
}

impl FileOffsetStore {
    /// Offsets kept only in memory.
    pub fn in_memory() -> FileOffsetStore {
        FileOffsetStore {
            path: None,
            data: Mutex::new(BTreeMap::new()),
        }
    }

    /// Offsets kept in `path`, loaded from it when it exists.
    pub fn open(path: &Path) -> Result<FileOffsetStore, ConnectError> {
        let data = match std::fs::read(path) {
            Ok(bytes) if bytes.is_empty() => BTreeMap::new(),
            Ok(bytes) => java_map::read(&bytes)
                .map_err(|e| {
                    ConnectError::Fatal(format!(
                        "Could not read the offsets file {}: {e}",
                        path.display()
                    ))
                })?
                .into_iter()
                .filter_map(|(k, v)| Some((k, v?)))
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => {
                return Err(ConnectError::Fatal(format!(
                    "Could not read the offsets file {}: {e}",
                    path.display()
                )))
            }
        };
        Ok(FileOffsetStore {
            path: Some(path.to_path_buf()),
            data: Mutex::new(data),
        })
    }

    fn save(&self, data: &BTreeMap<Vec<u8>, Vec<u8>>) -> Result<(), ConnectError> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        let bytes = java_map::write(data.iter().map(|(k, v)| (k.as_slice(), Some(v.as_slice()))));
        let tmp = path.with_extension("tmp");
        let write = || -> std::io::Result<()> {
            use std::io::Write;
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
            std::fs::rename(&tmp, path)
        };
        write().map_err(|e| {
            ConnectError::Retriable(format!(
                "Could not write the offsets file {}: {e}",
                path.display()
            ))
        })
    }
}

impl OffsetStore for FileOffsetStore {
    fn get(&self, connector: &str, partition: &Value) -> Option<Value> {
        offset_in(&*self.data.lock().ok()?, connector, partition)
    }

    fn put_all<'a>(
        &'a self,
        connector: &'a str,
        offsets: &'a [(Value, Value)],
    ) -> BoxFuture<'a, Result<(), ConnectError>> {
        Box::pin(async move {
            let mut data = self
                .data
                .lock()
                .map_err(|_| ConnectError::Fatal("the offset store lock is poisoned".into()))?;
            for (key, value) in encode_offsets(connector, offsets)? {
                match value {
                    Some(v) => data.insert(key, v),
                    None => data.remove(&key),
                };
            }
            self.save(&data)
        })
    }

    fn connector_offsets(&self, connector: &str) -> Vec<(Value, Value)> {
        match self.data.lock() {
            Ok(data) => offsets_of(&data, connector),
            Err(_) => Vec::new(),
        }
    }
}

/// A stored key and value (`None`: remove the partition).
pub(crate) type StoredOffset = (Vec<u8>, Option<Vec<u8>>);

/// The stored keys and values of a connector's offsets.
pub(crate) fn encode_offsets(
    connector: &str,
    offsets: &[(Value, Value)],
) -> Result<Vec<StoredOffset>, ConnectError> {
    offsets
        .iter()
        .map(|(partition, offset)| {
            let key = offset_key(connector, partition);
            let value = if offset.is_null() {
                None
            } else {
                converter().to_bytes("", None, offset)?
            };
            Ok((key, value))
        })
        .collect()
}

/// A connector's partitions and offsets among stored ones.
pub(crate) fn offsets_of(
    data: &BTreeMap<Vec<u8>, Vec<u8>>,
    connector: &str,
) -> Vec<(Value, Value)> {
    data.iter()
        .filter_map(|(k, v)| {
            let (name, partition) = parse_offset_key(k)?;
            (name == connector).then(|| Some((partition, decode(v)?)))?
        })
        .collect()
}

/// The stored offset of a connector's partition.
pub(crate) fn offset_in(
    data: &BTreeMap<Vec<u8>, Vec<u8>>,
    connector: &str,
    partition: &Value,
) -> Option<Value> {
    decode(data.get(&offset_key(connector, partition))?)
}

/// Java serialization of a `java.util.HashMap<byte[], byte[]>` (what Kafka's
/// `FileOffsetBackingStore` writes with an `ObjectOutputStream`).
pub mod java_map {
    const MAGIC: [u8; 4] = [0xac, 0xed, 0x00, 0x05];
    const TC_NULL: u8 = 0x70;
    const TC_REFERENCE: u8 = 0x71;
    const TC_CLASSDESC: u8 = 0x72;
    const TC_OBJECT: u8 = 0x73;
    const TC_ARRAY: u8 = 0x75;
    const TC_BLOCKDATA: u8 = 0x77;
    const TC_ENDBLOCKDATA: u8 = 0x78;
    const BASE_HANDLE: u32 = 0x7e_0000;
    const HASHMAP_UID: [u8; 8] = [0x05, 0x07, 0xda, 0xc1, 0xc3, 0x16, 0x60, 0xd1];
    const BYTE_ARRAY_UID: [u8; 8] = [0xac, 0xf3, 0x17, 0xf8, 0x06, 0x08, 0x54, 0xe0];

    fn utf(out: &mut Vec<u8>, s: &str) {
        out.extend_from_slice(&(s.len() as u16).to_be_bytes());
        out.extend_from_slice(s.as_bytes());
    }

    /// The serialized map.
    pub fn write<'a>(entries: impl Iterator<Item = (&'a [u8], Option<&'a [u8]>)>) -> Vec<u8> {
        let entries: Vec<_> = entries.collect();
        let mut capacity = 16usize;
        while entries.len() > capacity * 3 / 4 {
            capacity *= 2;
        }
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&[TC_OBJECT, TC_CLASSDESC]);
        utf(&mut out, "java.util.HashMap");
        out.extend_from_slice(&HASHMAP_UID);
        out.push(0x03); // SC_WRITE_METHOD | SC_SERIALIZABLE
        out.extend_from_slice(&2u16.to_be_bytes());
        out.push(b'F');
        utf(&mut out, "loadFactor");
        out.push(b'I');
        utf(&mut out, "threshold");
        out.extend_from_slice(&[TC_ENDBLOCKDATA, TC_NULL]);
        // handles: 0 the class, 1 the map; the byte[] class and the arrays follow
        out.extend_from_slice(&0.75f32.to_be_bytes());
        out.extend_from_slice(&((capacity * 3 / 4) as i32).to_be_bytes());
        out.extend_from_slice(&[TC_BLOCKDATA, 8]);
        out.extend_from_slice(&(capacity as i32).to_be_bytes());
        out.extend_from_slice(&(entries.len() as i32).to_be_bytes());
        let mut array_class_written = false;
        let mut array = |out: &mut Vec<u8>, bytes: Option<&[u8]>| match bytes {
            None => out.push(TC_NULL),
            Some(b) => {
                out.push(TC_ARRAY);
                if array_class_written {
                    out.push(TC_REFERENCE);
                    out.extend_from_slice(&(BASE_HANDLE + 2).to_be_bytes());
                } else {
                    out.push(TC_CLASSDESC);
                    utf(out, "[B");
                    out.extend_from_slice(&BYTE_ARRAY_UID);
                    out.push(0x02);
                    out.extend_from_slice(&0u16.to_be_bytes());
                    out.extend_from_slice(&[TC_ENDBLOCKDATA, TC_NULL]);
                    array_class_written = true;
                }
                out.extend_from_slice(&(b.len() as i32).to_be_bytes());
                out.extend_from_slice(b);
            }
        };
        for (k, v) in entries {
            array(&mut out, Some(k));
            array(&mut out, v);
        }
        out.push(TC_ENDBLOCKDATA);
        out
    }

    struct Reader<'a> {
        b: &'a [u8],
        pos: usize,
    }

    impl Reader<'_> {
        fn take(&mut self, n: usize) -> Result<&[u8], String> {
            let s = self
                .b
                .get(self.pos..self.pos + n)
                .ok_or("the file ends too soon")?;
            self.pos += n;
            Ok(s)
        }
        fn u8(&mut self) -> Result<u8, String> {
            Ok(self.take(1)?[0])
        }
        fn u16(&mut self) -> Result<u16, String> {
            let s = self.take(2)?;
            Ok(u16::from_be_bytes([s[0], s[1]]))
        }
        fn i32(&mut self) -> Result<i32, String> {
            let s = self.take(4)?;
            Ok(i32::from_be_bytes([s[0], s[1], s[2], s[3]]))
        }
        fn utf(&mut self) -> Result<String, String> {
            let n = self.u16()? as usize;
            Ok(String::from_utf8_lossy(self.take(n)?).into_owned())
        }
        /// A class descriptor (new or a reference); returns its name when new.
        fn class_desc(&mut self) -> Result<Option<String>, String> {
            match self.u8()? {
                TC_REFERENCE => {
                    self.take(4)?;
                    Ok(None)
                }
                TC_CLASSDESC => {
                    let name = self.utf()?;
                    self.take(8)?; // serialVersionUID
                    self.u8()?; // flags
                    let fields = self.u16()?;
                    for _ in 0..fields {
                        let code = self.u8()?;
                        self.utf()?;
                        if code == b'L' || code == b'[' {
                            // the field's class name, as a string object
                            match self.u8()? {
                                0x74 => {
                                    self.utf()?;
                                }
                                TC_REFERENCE => {
                                    self.take(4)?;
                                }
                                other => {
                                    return Err(format!("unexpected field type tag {other:#x}"))
                                }
                            }
                        }
                    }
                    if self.u8()? != TC_ENDBLOCKDATA {
                        return Err("class annotations are not supported".into());
                    }
                    if self.u8()? != TC_NULL {
                        return Err("a superclass is not expected".into());
                    }
                    Ok(Some(name))
                }
                other => Err(format!("expected a class descriptor, found tag {other:#x}")),
            }
        }
        fn byte_array(&mut self) -> Result<Option<Vec<u8>>, String> {
            match self.u8()? {
                TC_NULL => Ok(None),
                TC_ARRAY => {
                    if let Some(name) = self.class_desc()? {
                        if name != "[B" {
                            return Err(format!("expected a byte[], found {name}"));
                        }
                    }
                    let n = usize::try_from(self.i32()?).map_err(|_| "a negative array length")?;
                    Ok(Some(self.take(n)?.to_vec()))
                }
                other => Err(format!("expected a byte[], found tag {other:#x}")),
            }
        }
    }

    /// A map entry: a key and a value that may be null.
    pub type Entry = (Vec<u8>, Option<Vec<u8>>);

    /// The entries of a serialized map (a null value stays `None`).
    pub fn read(bytes: &[u8]) -> Result<Vec<Entry>, String> {
        let mut r = Reader { b: bytes, pos: 0 };
        if r.take(4)? != MAGIC {
            return Err("not a Java serialization stream".into());
        }
        if r.u8()? != TC_OBJECT {
            return Err("expected an object".into());
        }
        match r.class_desc()? {
            Some(name) if name == "java.util.HashMap" => {}
            other => return Err(format!("expected a java.util.HashMap, found {other:?}")),
        }
        r.take(8)?; // loadFactor, threshold
        if r.u8()? != TC_BLOCKDATA || r.u8()? != 8 {
            return Err("expected the map's bucket count and size".into());
        }
        r.i32()?;
        let size = usize::try_from(r.i32()?).map_err(|_| "a negative map size")?;
        let mut out = Vec::with_capacity(size.min(1 << 16));
        for _ in 0..size {
            let k = r.byte_array()?.ok_or("a null key")?;
            let v = r.byte_array()?;
            out.push((k, v));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::FutureExt;

    #[test]
    fn java_serialized_map_round_trips() {
        let entries = vec![
            (b"k1".to_vec(), Some(b"v1".to_vec())),
            (b"key2".to_vec(), None),
        ];
        let bytes = java_map::write(entries.iter().map(|(k, v)| (k.as_slice(), v.as_deref())));
        assert_eq!(&bytes[..4], &[0xac, 0xed, 0, 5]);
        assert_eq!(java_map::read(&bytes).unwrap(), entries);
        assert!(java_map::read(&bytes[..bytes.len() - 8]).is_err());
        assert!(java_map::read(b"garbage").is_err());
    }

    #[test]
    fn offsets_survive_a_restart_of_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("connect.offsets");
        let partition = Value::Map(vec![(
            Value::String("filename".into()),
            Value::String("/tmp/in".into()),
        )]);
        let offset = Value::Map(vec![(Value::String("position".into()), Value::Int64(42))]);
        let store = FileOffsetStore::open(&path).unwrap();
        store
            .put_all("src", &[(partition.clone(), offset.clone())])
            .now_or_never()
            .unwrap()
            .unwrap();
        assert_eq!(
            offset_key("src", &partition),
            br#"["src",{"filename":"/tmp/in"}]"#.to_vec()
        );
        let again = FileOffsetStore::open(&path).unwrap();
        assert_eq!(again.get("src", &partition), Some(offset.clone()));
        assert_eq!(
            again.connector_offsets("src"),
            vec![(partition.clone(), offset)]
        );
        assert_eq!(again.get("other", &partition), None);
        again
            .put_all("src", &[(partition.clone(), Value::Null)])
            .now_or_never()
            .unwrap()
            .unwrap();
        assert_eq!(
            FileOffsetStore::open(&path).unwrap().get("src", &partition),
            None
        );
    }
}
