//! Changelog-like load on candidate embedded stores: 2M puts over 200k keys (100-byte values,
//! committed every 10k as a stream thread commits), then 200k point reads and 10k range scans
//! of 100 keys.
use std::collections::BTreeMap;
use std::time::Instant;

const KEYS: u64 = 200_000;
const PUTS: u64 = 2_000_000;
const BATCH: u64 = 10_000;
const GETS: u64 = 200_000;
const SCANS: u64 = 10_000;
const SCAN_LEN: usize = 100;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn key(i: u64) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(b"wordkey-");
    k[8..].copy_from_slice(&i.to_be_bytes());
    k
}

fn report(name: &str, what: &str, n: u64, t: Instant) {
    let s = t.elapsed().as_secs_f64();
    println!("{name:8} {what:6} {:>10.0} ops/s ({n} in {s:.2} s)", n as f64 / s);
}

trait Store {
    fn put_batch(&mut self, batch: &[([u8; 16], Vec<u8>)]);
    fn get(&self, k: &[u8]) -> Option<Vec<u8>>;
    fn scan(&self, from: &[u8], n: usize) -> usize;
}

struct Mem(BTreeMap<Vec<u8>, Vec<u8>>);
impl Store for Mem {
    fn put_batch(&mut self, batch: &[([u8; 16], Vec<u8>)]) {
        for (k, v) in batch {
            self.0.insert(k.to_vec(), v.clone());
        }
    }
    fn get(&self, k: &[u8]) -> Option<Vec<u8>> {
        self.0.get(k).cloned()
    }
    fn scan(&self, from: &[u8], n: usize) -> usize {
        self.0.range(from.to_vec()..).take(n).map(|(k, v)| k.len() + v.len()).sum()
    }
}

const TABLE: redb::TableDefinition<&[u8], &[u8]> = redb::TableDefinition::new("s");
struct Redb(redb::Database);
impl Store for Redb {
    fn put_batch(&mut self, batch: &[([u8; 16], Vec<u8>)]) {
        let mut tx = self.0.begin_write().unwrap();
        tx.set_durability(redb::Durability::None);
        {
            let mut t = tx.open_table(TABLE).unwrap();
            for (k, v) in batch {
                t.insert(&k[..], &v[..]).unwrap();
            }
        }
        tx.commit().unwrap();
    }
    fn get(&self, k: &[u8]) -> Option<Vec<u8>> {
        let tx = self.0.begin_read().unwrap();
        let t = tx.open_table(TABLE).unwrap();
        t.get(k).unwrap().map(|v| v.value().to_vec())
    }
    fn scan(&self, from: &[u8], n: usize) -> usize {
        let tx = self.0.begin_read().unwrap();
        let t = tx.open_table(TABLE).unwrap();
        t.range(from..).unwrap().take(n).map(|e| { let (k, v) = e.unwrap(); k.value().len() + v.value().len() }).sum()
    }
}

struct Fjall(fjall::Keyspace, fjall::PartitionHandle);
impl Store for Fjall {
    fn put_batch(&mut self, batch: &[([u8; 16], Vec<u8>)]) {
        let mut b = self.0.batch();
        for (k, v) in batch {
            b.insert(&self.1, &k[..], &v[..]);
        }
        b.commit().unwrap();
    }
    fn get(&self, k: &[u8]) -> Option<Vec<u8>> {
        self.1.get(k).unwrap().map(|v| v.to_vec())
    }
    fn scan(&self, from: &[u8], n: usize) -> usize {
        self.1.range(from.to_vec()..).take(n).map(|e| { let (k, v) = e.unwrap(); k.len() + v.len() }).sum()
    }
}

/// RocksDB as a stream thread would use it: writes in a batch without the WAL (the
/// changelog is the store's record, as Kafka Streams' RocksDB stores write no WAL either).
struct Rocks(rocksdb::DB);
impl Store for Rocks {
    fn put_batch(&mut self, batch: &[([u8; 16], Vec<u8>)]) {
        let mut b = rocksdb::WriteBatch::default();
        for (k, v) in batch {
            b.put(k, v);
        }
        let mut opts = rocksdb::WriteOptions::default();
        opts.disable_wal(true);
        self.0.write_opt(b, &opts).unwrap();
    }
    fn get(&self, k: &[u8]) -> Option<Vec<u8>> {
        self.0.get(k).unwrap()
    }
    fn scan(&self, from: &[u8], n: usize) -> usize {
        self.0
            .iterator(rocksdb::IteratorMode::From(from, rocksdb::Direction::Forward))
            .take(n)
            .map(|e| {
                let (k, v) = e.unwrap();
                k.len() + v.len()
            })
            .sum()
    }
}

fn run(name: &str, s: &mut dyn Store) {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let value = vec![7u8; 100];
    let t = Instant::now();
    let mut batch = Vec::with_capacity(BATCH as usize);
    for _ in 0..PUTS {
        batch.push((key(rng.next() % KEYS), value.clone()));
        if batch.len() as u64 == BATCH {
            s.put_batch(&batch);
            batch.clear();
        }
    }
    report(name, "put", PUTS, t);
    let t = Instant::now();
    let mut found = 0;
    for _ in 0..GETS {
        found += usize::from(s.get(&key(rng.next() % KEYS)).is_some());
    }
    report(name, "get", GETS, t);
    assert!(found > 0);
    let t = Instant::now();
    let mut bytes = 0;
    for _ in 0..SCANS {
        bytes += s.scan(&key(rng.next() % KEYS), SCAN_LEN);
    }
    report(name, "scan100", SCANS, t);
    assert!(bytes > 0);
}

fn main() {
    let dir = tempfile_dir();
    run("memory", &mut Mem(BTreeMap::new()));
    let db = redb::Database::create(dir.join("redb")).unwrap();
    run("redb", &mut Redb(db));
    let ks = fjall::Config::new(dir.join("fjall")).open().unwrap();
    let p = ks.open_partition("s", Default::default()).unwrap();
    run("fjall", &mut Fjall(ks, p));
    let mut opts = rocksdb::Options::default();
    opts.create_if_missing(true);
    let rocks = rocksdb::DB::open(&opts, dir.join("rocksdb")).unwrap();
    run("rocksdb", &mut Rocks(rocks));
    let _ = std::fs::remove_dir_all(&dir);
}

fn tempfile_dir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("storebench-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}
