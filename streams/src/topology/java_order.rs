//! The orders Java's collections give, which Kafka Streams' `TopologyDescription` prints
//! through: a `HashMap`'s iteration order over strings, and a red-black `TreeSet` whose
//! comparator looks at values that change after insertion (so its order is not a plain sort).
//! Reproducing them is what makes `describe()` print the same text as Kafka Streams.

use std::cmp::Ordering;

/// Java's `String.hashCode` (over UTF-16 code units, wrapping).
fn java_hash(s: &str) -> u32 {
    s.encode_utf16()
        .fold(0u32, |h, c| h.wrapping_mul(31).wrapping_add(u32::from(c)))
}

/// The order a `java.util.HashMap` (or `HashSet`) iterates `keys` inserted one by one in the
/// given order: by bucket, then by insertion within a bucket. `presized` is for a set built
/// from a whole collection at once (`new HashSet<>(list)`), which sizes its table up front.
pub(crate) fn hash_order<'a>(keys: &[&'a str], presized: bool) -> Vec<&'a str> {
    let n = keys.len();
    let mut capacity: usize = if presized {
        // tableSizeFor(max(n / 0.75 + 1, 16))
        let want = ((n as f64 / 0.75) as usize + 1).max(16);
        want.next_power_of_two()
    } else {
        16
    };
    while n > capacity * 3 / 4 {
        capacity *= 2;
    }
    let bucket = |k: &str| {
        let h = java_hash(k);
        ((h ^ (h >> 16)) as usize) & (capacity - 1)
    };
    let mut order: Vec<(usize, usize, &str)> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| (bucket(k), i, *k))
        .collect();
    order.sort();
    order.into_iter().map(|(_, _, k)| k).collect()
}

/// Java's `String.compareTo` (UTF-16 code units).
pub(crate) fn java_cmp(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Color {
    Red,
    Black,
}

#[derive(Clone)]
struct Entry {
    key: usize,
    left: Option<usize>,
    right: Option<usize>,
    parent: Option<usize>,
    color: Color,
}

/// `java.util.TreeSet` of keys (ids), with the comparator given at each insertion: a port of
/// `TreeMap.put` and its red-black rebalancing, so that the tree's shape, and with it the
/// in-order iteration when the comparator's answers drift, is Java's.
#[derive(Clone, Default)]
pub(crate) struct TreeSet {
    entries: Vec<Entry>,
    root: Option<usize>,
}

impl TreeSet {
    /// The keys in order.
    pub fn iter(&self) -> Vec<usize> {
        let mut out = Vec::with_capacity(self.entries.len());
        let mut stack = Vec::new();
        let mut node = self.root;
        while node.is_some() || !stack.is_empty() {
            while let Some(n) = node {
                stack.push(n);
                node = self.entries[n].left;
            }
            if let Some(n) = stack.pop() {
                out.push(self.entries[n].key);
                node = self.entries[n].right;
            }
        }
        out
    }

    /// Adds `key` unless the comparator finds an equal one.
    pub fn add(&mut self, key: usize, cmp: &dyn Fn(usize, usize) -> Ordering) {
        let Some(mut t) = self.root else {
            self.entries.push(Entry {
                key,
                left: None,
                right: None,
                parent: None,
                color: Color::Black,
            });
            self.root = Some(self.entries.len() - 1);
            return;
        };
        let (parent, went_left) = loop {
            match cmp(key, self.entries[t].key) {
                Ordering::Less => match self.entries[t].left {
                    Some(l) => t = l,
                    None => break (t, true),
                },
                Ordering::Greater => match self.entries[t].right {
                    Some(r) => t = r,
                    None => break (t, false),
                },
                Ordering::Equal => return,
            }
        };
        self.entries.push(Entry {
            key,
            left: None,
            right: None,
            parent: Some(parent),
            color: Color::Black,
        });
        let e = self.entries.len() - 1;
        if went_left {
            self.entries[parent].left = Some(e);
        } else {
            self.entries[parent].right = Some(e);
        }
        self.fix_after_insertion(e);
    }

    fn color(&self, p: Option<usize>) -> Color {
        p.map_or(Color::Black, |p| self.entries[p].color)
    }
    fn parent(&self, p: Option<usize>) -> Option<usize> {
        p.and_then(|p| self.entries[p].parent)
    }
    fn left(&self, p: Option<usize>) -> Option<usize> {
        p.and_then(|p| self.entries[p].left)
    }
    fn right(&self, p: Option<usize>) -> Option<usize> {
        p.and_then(|p| self.entries[p].right)
    }
    fn set_color(&mut self, p: Option<usize>, c: Color) {
        if let Some(p) = p {
            self.entries[p].color = c;
        }
    }

    fn rotate_left(&mut self, p: Option<usize>) {
        let Some(p) = p else { return };
        let Some(r) = self.entries[p].right else {
            return;
        };
        self.entries[p].right = self.entries[r].left;
        if let Some(rl) = self.entries[r].left {
            self.entries[rl].parent = Some(p);
        }
        self.entries[r].parent = self.entries[p].parent;
        match self.entries[p].parent {
            None => self.root = Some(r),
            Some(pp) if self.entries[pp].left == Some(p) => self.entries[pp].left = Some(r),
            Some(pp) => self.entries[pp].right = Some(r),
        }
        self.entries[r].left = Some(p);
        self.entries[p].parent = Some(r);
    }

    fn rotate_right(&mut self, p: Option<usize>) {
        let Some(p) = p else { return };
        let Some(l) = self.entries[p].left else {
            return;
        };
        self.entries[p].left = self.entries[l].right;
        if let Some(lr) = self.entries[l].right {
            self.entries[lr].parent = Some(p);
        }
        self.entries[l].parent = self.entries[p].parent;
        match self.entries[p].parent {
            None => self.root = Some(l),
            Some(pp) if self.entries[pp].right == Some(p) => self.entries[pp].right = Some(l),
            Some(pp) => self.entries[pp].left = Some(l),
        }
        self.entries[l].right = Some(p);
        self.entries[p].parent = Some(l);
    }

    fn fix_after_insertion(&mut self, x: usize) {
        let mut x = Some(x);
        self.set_color(x, Color::Red);
        while x.is_some() && x != self.root && self.color(self.parent(x)) == Color::Red {
            let px = self.parent(x);
            let gpx = self.parent(px);
            if px == self.left(gpx) {
                let y = self.right(gpx);
                if self.color(y) == Color::Red {
                    self.set_color(px, Color::Black);
                    self.set_color(y, Color::Black);
                    self.set_color(gpx, Color::Red);
                    x = gpx;
                } else {
                    if x == self.right(px) {
                        x = px;
                        self.rotate_left(x);
                    }
                    let px = self.parent(x);
                    let gpx = self.parent(px);
                    self.set_color(px, Color::Black);
                    self.set_color(gpx, Color::Red);
                    self.rotate_right(gpx);
                }
            } else {
                let y = self.left(gpx);
                if self.color(y) == Color::Red {
                    self.set_color(px, Color::Black);
                    self.set_color(y, Color::Black);
                    self.set_color(gpx, Color::Red);
                    x = gpx;
                } else {
                    if x == self.left(px) {
                        x = px;
                        self.rotate_right(x);
                    }
                    let px = self.parent(x);
                    let gpx = self.parent(px);
                    self.set_color(px, Color::Black);
                    self.set_color(gpx, Color::Red);
                    self.rotate_left(gpx);
                }
            }
        }
        let root = self.root;
        self.set_color(root, Color::Black);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_hashes_are_javas() {
        assert_eq!(java_hash(""), 0);
        assert_eq!(java_hash("a"), 97);
        // "hello".hashCode() == 99162322
        assert_eq!(java_hash("hello"), 99_162_322);
    }

    #[test]
    fn a_hash_set_of_topics_iterates_as_javas_does() {
        // new HashSet<>(List.of("topic-b", "topic-a", "topic-c")) prints [topic-a, topic-b, topic-c]
        assert_eq!(
            hash_order(&["topic-b", "topic-a", "topic-c"], true),
            ["topic-a", "topic-b", "topic-c"]
        );
    }

    #[test]
    fn a_tree_set_with_a_fixed_order_iterates_sorted() {
        let mut t = TreeSet::default();
        for k in [5, 3, 8, 1, 4, 7, 9, 2, 6, 0] {
            t.add(k, &|a, b| a.cmp(&b));
        }
        t.add(4, &|a, b| a.cmp(&b));
        assert_eq!(t.iter(), (0..10).collect::<Vec<_>>());
    }
}
