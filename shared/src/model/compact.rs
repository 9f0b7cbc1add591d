//! The small maps and sets every node carries (its latest values, metrics, sets, parents and
//! edges), kept as vectors sorted by key. A node's maps hold a handful of entries each, and the
//! standard B-tree allocates room for eleven however few it holds: a merged window of 100
//! probes spent more than half its heap on B-tree nodes. Lookups are binary searches, and
//! iteration is in key order, as a B-tree's is, so encodings and merges see the same order.
//!
//! Written here rather than taken from a crate: the model needs a map and a set with the
//! standard collections' interface (entries, borrowed-key lookups, serde as a map and as a
//! sequence), and the sorted-vector crates offer one or the other but not both.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Up to this many entries a lookup compares keys for equality one by one: unequal lengths
/// settle most comparisons at once, where a binary search orders strings byte by byte.
const LINEAR_LOOKUP: usize = 8;

/// The index of the entry `is` picks among sorted `entries`: a scan for a few entries, else
/// `search` (a binary search).
fn lookup<T>(
    entries: &[T],
    is: impl Fn(&T) -> bool,
    search: impl FnOnce() -> Option<usize>,
) -> Option<usize> {
    if entries.len() <= LINEAR_LOOKUP {
        entries.iter().position(is)
    } else {
        search()
    }
}

/// A binary search of sorted `entries` by `order` (the entry's order against the one sought),
/// which first tries the end: decoded maps arrive sorted, as Scope writes them, so each entry
/// goes after the last.
fn sorted_position<T>(entries: &[T], order: impl Fn(&T) -> Ordering) -> Result<usize, usize> {
    match entries.last().map(&order) {
        None | Some(Ordering::Less) => Err(entries.len()),
        Some(Ordering::Equal) => Ok(entries.len() - 1),
        Some(Ordering::Greater) => entries.binary_search_by(order),
    }
}

/// A map sorted by key, in one allocation.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct VecMap<K, V>(Vec<(K, V)>);

pub type Iter<'a, K, V> = std::iter::Map<std::slice::Iter<'a, (K, V)>, fn(&(K, V)) -> (&K, &V)>;
pub type IterMut<'a, K, V> =
    std::iter::Map<std::slice::IterMut<'a, (K, V)>, fn(&mut (K, V)) -> (&K, &mut V)>;

impl<K, V> Default for VecMap<K, V> {
    fn default() -> Self {
        VecMap(Vec::new())
    }
}

impl<K: Ord, V> VecMap<K, V> {
    pub const fn new() -> Self {
        VecMap(Vec::new())
    }

    pub fn with_capacity(capacity: usize) -> Self {
        VecMap(Vec::with_capacity(capacity))
    }

    /// Makes room for `additional` more entries.
    pub fn reserve(&mut self, additional: usize) {
        self.0.reserve_exact(additional);
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn clear(&mut self) {
        self.0.clear();
    }

    /// The entries the map has room for without allocating (for memory estimates).
    pub fn capacity(&self) -> usize {
        self.0.capacity()
    }

    /// Where `key` is, or would go: see [`sorted_position`].
    fn find<Q: ?Sized + Ord>(&self, key: &Q) -> Result<usize, usize>
    where
        K: Borrow<Q>,
    {
        sorted_position(&self.0, |(k, _)| k.borrow().cmp(key))
    }

    /// Where `key` is: see [`lookup`].
    fn position<Q: ?Sized + Ord>(&self, key: &Q) -> Option<usize>
    where
        K: Borrow<Q>,
    {
        lookup(&self.0, |(k, _)| k.borrow() == key, || self.find(key).ok())
    }

    pub fn get<Q: ?Sized + Ord>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
    {
        self.position(key).map(|i| &self.0[i].1)
    }

    pub fn get_mut<Q: ?Sized + Ord>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
    {
        self.position(key).map(|i| &mut self.0[i].1)
    }

    pub fn contains_key<Q: ?Sized + Ord>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
    {
        self.position(key).is_some()
    }

    /// Sets `key` to `value`, returning the value it replaced.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        match self.find(&key) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, value)),
            Err(i) => {
                self.0.insert(i, (key, value));
                None
            }
        }
    }

    pub fn remove<Q: ?Sized + Ord>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
    {
        self.find(key).ok().map(|i| self.0.remove(i).1)
    }

    pub fn entry(&mut self, key: K) -> Entry<'_, K, V> {
        let at = self.find(&key);
        Entry { map: self, at, key }
    }

    pub fn iter(&self) -> Iter<'_, K, V> {
        self.0.iter().map(|(k, v)| (k, v))
    }

    pub fn iter_mut(&mut self) -> IterMut<'_, K, V> {
        self.0.iter_mut().map(|(k, v)| (&*k, v))
    }

    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &K> + ExactSizeIterator {
        self.0.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl DoubleEndedIterator<Item = &V> + ExactSizeIterator {
        self.0.iter().map(|(_, v)| v)
    }

    pub fn values_mut(&mut self) -> impl DoubleEndedIterator<Item = &mut V> + ExactSizeIterator {
        self.0.iter_mut().map(|(_, v)| v)
    }

    pub fn retain(&mut self, mut keep: impl FnMut(&K, &mut V) -> bool) {
        self.0.retain_mut(|(k, v)| keep(k, v));
    }

    pub fn first_key_value(&self) -> Option<(&K, &V)> {
        self.0.first().map(|(k, v)| (k, v))
    }

    pub fn last_key_value(&self) -> Option<(&K, &V)> {
        self.0.last().map(|(k, v)| (k, v))
    }

    /// Sorts `entries` by key; of entries with one key, the last stays, as inserting them in
    /// turn would leave it.
    fn from_unsorted(mut entries: Vec<(K, V)>) -> Self {
        entries.reverse();
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        entries.dedup_by(|later, earlier| later.0 == earlier.0);
        VecMap(entries)
    }
}

/// A place in a [`VecMap`] for one key, found or to be filled.
pub struct Entry<'a, K, V> {
    map: &'a mut VecMap<K, V>,
    at: Result<usize, usize>,
    key: K,
}

impl<'a, K: Ord, V> Entry<'a, K, V> {
    pub fn or_insert_with(self, value: impl FnOnce() -> V) -> &'a mut V {
        let i = match self.at {
            Ok(i) => i,
            Err(i) => {
                self.map.0.insert(i, (self.key, value()));
                i
            }
        };
        &mut self.map.0[i].1
    }

    pub fn or_insert(self, value: V) -> &'a mut V {
        self.or_insert_with(|| value)
    }

    pub fn or_default(self) -> &'a mut V
    where
        V: Default,
    {
        self.or_insert_with(V::default)
    }
}

/// `map[key]`, as the standard maps have it: panics when the key is missing.
impl<K: Ord + Borrow<Q>, Q: ?Sized + Ord, V> std::ops::Index<&Q> for VecMap<K, V> {
    type Output = V;

    fn index(&self, key: &Q) -> &V {
        self.get(key).expect("no entry found for key")
    }
}

impl<K: Ord, V> FromIterator<(K, V)> for VecMap<K, V> {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(entries: I) -> Self {
        VecMap::from_unsorted(entries.into_iter().collect())
    }
}

impl<K: Ord, V, const N: usize> From<[(K, V); N]> for VecMap<K, V> {
    fn from(entries: [(K, V); N]) -> Self {
        entries.into_iter().collect()
    }
}

impl<K: Ord, V> Extend<(K, V)> for VecMap<K, V> {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, entries: I) {
        for (k, v) in entries {
            self.insert(k, v);
        }
    }
}

impl<K, V> IntoIterator for VecMap<K, V> {
    type Item = (K, V);
    type IntoIter = std::vec::IntoIter<(K, V)>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a, K: Ord, V> IntoIterator for &'a VecMap<K, V> {
    type Item = (&'a K, &'a V);
    type IntoIter = Iter<'a, K, V>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<'a, K: Ord, V> IntoIterator for &'a mut VecMap<K, V> {
    type Item = (&'a K, &'a mut V);
    type IntoIter = IterMut<'a, K, V>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter_mut()
    }
}

impl<K: fmt::Debug, V: fmt::Debug> fmt::Debug for VecMap<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(k, v)| (k, v)))
            .finish()
    }
}

impl<K: Serialize, V: Serialize> Serialize for VecMap<K, V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de, K: Ord + Deserialize<'de>, V: Deserialize<'de>> Deserialize<'de> for VecMap<K, V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MapVisitor<K, V>(PhantomData<(K, V)>);
        impl<'de, K: Ord + Deserialize<'de>, V: Deserialize<'de>> Visitor<'de> for MapVisitor<K, V> {
            type Value = VecMap<K, V>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::with_capacity(access.size_hint().unwrap_or(0).min(4096));
                while let Some(entry) = access.next_entry()? {
                    entries.push(entry);
                }
                Ok(VecMap::from_unsorted(entries))
            }
        }
        deserializer.deserialize_map(MapVisitor(PhantomData))
    }
}

/// A set sorted and without duplicates, in one allocation.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VecSet<T>(Vec<T>);

impl<T> Default for VecSet<T> {
    fn default() -> Self {
        VecSet(Vec::new())
    }
}

impl<T: Ord> VecSet<T> {
    pub const fn new() -> Self {
        VecSet(Vec::new())
    }

    pub fn with_capacity(capacity: usize) -> Self {
        VecSet(Vec::with_capacity(capacity))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn clear(&mut self) {
        self.0.clear();
    }

    /// The number of values the vector has room for (for memory estimates).
    pub fn capacity(&self) -> usize {
        self.0.capacity()
    }

    /// Where `value` is, or would go: see [`sorted_position`].
    fn find<Q: ?Sized + Ord>(&self, value: &Q) -> Result<usize, usize>
    where
        T: Borrow<Q>,
    {
        sorted_position(&self.0, |v| v.borrow().cmp(value))
    }

    pub fn contains<Q: ?Sized + Ord>(&self, value: &Q) -> bool
    where
        T: Borrow<Q>,
    {
        lookup(&self.0, |v| v.borrow() == value, || self.find(value).ok()).is_some()
    }

    /// Adds `value`; false if it was there already.
    pub fn insert(&mut self, value: T) -> bool {
        match self.find(&value) {
            Ok(_) => false,
            Err(i) => {
                self.0.insert(i, value);
                true
            }
        }
    }

    pub fn remove<Q: ?Sized + Ord>(&mut self, value: &Q) -> bool
    where
        T: Borrow<Q>,
    {
        match self.find(value) {
            Ok(i) => {
                self.0.remove(i);
                true
            }
            Err(_) => false,
        }
    }

    pub fn iter(&self) -> std::slice::Iter<'_, T> {
        self.0.iter()
    }

    pub fn retain(&mut self, keep: impl FnMut(&T) -> bool) {
        self.0.retain(keep);
    }

    pub fn first(&self) -> Option<&T> {
        self.0.first()
    }

    pub fn last(&self) -> Option<&T> {
        self.0.last()
    }

    pub fn is_subset(&self, other: &VecSet<T>) -> bool {
        self.0.iter().all(|v| other.contains(v))
    }

    fn from_unsorted(mut values: Vec<T>) -> Self {
        values.sort();
        values.dedup();
        VecSet(values)
    }
}

impl<T: Ord> FromIterator<T> for VecSet<T> {
    fn from_iter<I: IntoIterator<Item = T>>(values: I) -> Self {
        VecSet::from_unsorted(values.into_iter().collect())
    }
}

impl<T: Ord, const N: usize> From<[T; N]> for VecSet<T> {
    fn from(values: [T; N]) -> Self {
        values.into_iter().collect()
    }
}

impl<T: Ord> Extend<T> for VecSet<T> {
    fn extend<I: IntoIterator<Item = T>>(&mut self, values: I) {
        let values = values.into_iter();
        let (lower, _) = values.size_hint();
        if lower > 8 {
            // Many at once: append, then sort and de-duplicate once.
            self.0.extend(values);
            self.0.sort();
            self.0.dedup();
        } else {
            for value in values {
                self.insert(value);
            }
        }
    }
}

impl<T> IntoIterator for VecSet<T> {
    type Item = T;
    type IntoIter = std::vec::IntoIter<T>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a, T> IntoIterator for &'a VecSet<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl<T: fmt::Debug> fmt::Debug for VecSet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.iter()).finish()
    }
}

impl<T: Serialize> Serialize for VecSet<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for v in &self.0 {
            seq.serialize_element(v)?;
        }
        seq.end()
    }
}

impl<'de, T: Ord + Deserialize<'de>> Deserialize<'de> for VecSet<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SeqVisitor<T>(PhantomData<T>);
        impl<'de, T: Ord + Deserialize<'de>> Visitor<'de> for SeqVisitor<T> {
            type Value = VecSet<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a sequence")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
                let mut values = Vec::with_capacity(access.size_hint().unwrap_or(0).min(4096));
                while let Some(value) = access.next_element()? {
                    values.push(value);
                }
                Ok(VecSet::from_unsorted(values))
            }
        }
        deserializer.deserialize_seq(SeqVisitor(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;

    #[test]
    fn a_map_behaves_as_a_btree_map() {
        let ops = [("b", 1), ("a", 2), ("c", 3), ("a", 4), ("d", 5), ("b", 6)];
        let mut ours = VecMap::new();
        let mut theirs = BTreeMap::new();
        for (k, v) in ops {
            assert_eq!(ours.insert(k.to_owned(), v), theirs.insert(k.to_owned(), v));
        }
        *ours.entry("e".to_owned()).or_default() += 7;
        *theirs.entry("e".to_owned()).or_default() += 7;
        *ours.entry("a".to_owned()).or_insert(0) += 1;
        *theirs.entry("a".to_owned()).or_insert(0) += 1;
        assert_eq!(ours.remove("c"), theirs.remove("c"));
        ours.retain(|k, _| k != "d");
        theirs.retain(|k, _| k != "d");
        assert!(ours.iter().eq(theirs.iter()));
        assert_eq!(ours.get("a"), theirs.get("a"));
        let collected: VecMap<&str, i32> = ops.into_iter().collect();
        let expected: BTreeMap<&str, i32> = ops.into_iter().collect();
        assert!(
            collected.iter().eq(expected.iter()),
            "the last of one key stays"
        );
        let json = serde_json::to_string(&ours).unwrap();
        assert_eq!(json, serde_json::to_string(&theirs).unwrap());
        assert_eq!(
            serde_json::from_str::<VecMap<String, i32>>(&json).unwrap(),
            ours
        );
    }

    #[test]
    fn a_set_behaves_as_a_btree_set() {
        let values = ["q", "a", "z", "a", "m"];
        let mut ours = VecSet::new();
        let mut theirs = BTreeSet::new();
        for v in values {
            assert_eq!(ours.insert(v.to_owned()), theirs.insert(v.to_owned()));
        }
        ours.extend((0..20).map(|i| format!("x{i}")));
        theirs.extend((0..20).map(|i| format!("x{i}")));
        assert_eq!(ours.remove("m"), theirs.remove("m"));
        assert!(ours.iter().eq(theirs.iter()));
        assert!(ours.contains("q") && !ours.contains("m"));
        let json = serde_json::to_string(&ours).unwrap();
        assert_eq!(json, serde_json::to_string(&theirs).unwrap());
        assert_eq!(serde_json::from_str::<VecSet<String>>(&json).unwrap(), ours);
    }

    /// Maps and sets below and above the size where lookups turn from a scan to a binary
    /// search, filled in order (as decoded) and out of order, agree with the standard ones.
    #[test]
    fn lookups_and_inserts_agree_at_every_size_and_order() {
        let mut rng = fastrand::Rng::with_seed(11);
        for size in [
            0,
            1,
            2,
            LINEAR_LOOKUP - 1,
            LINEAR_LOOKUP,
            LINEAR_LOOKUP + 1,
            40,
        ] {
            for sorted in [true, false] {
                let mut keys: Vec<String> = (0..size).map(|i| format!("k{i:03}")).collect();
                if !sorted {
                    rng.shuffle(&mut keys);
                }
                let mut ours = VecMap::new();
                let mut theirs = BTreeMap::new();
                let mut our_set = VecSet::new();
                let mut their_set = BTreeSet::new();
                for (v, k) in keys.iter().enumerate() {
                    assert_eq!(ours.insert(k.clone(), v), theirs.insert(k.clone(), v));
                    assert_eq!(our_set.insert(k.clone()), their_set.insert(k.clone()));
                }
                // Inserting a key again replaces its value, wherever it is.
                for k in keys.iter().rev().take(3) {
                    assert_eq!(ours.insert(k.clone(), 99), theirs.insert(k.clone(), 99));
                    assert_eq!(our_set.insert(k.clone()), their_set.insert(k.clone()));
                }
                assert!(ours.iter().eq(theirs.iter()), "size {size} sorted {sorted}");
                assert!(our_set.iter().eq(their_set.iter()));
                for probe in (0..size + 2).map(|i| format!("k{i:03}")).chain([
                    "a".into(),
                    "z".into(),
                    "k0".into(),
                ]) {
                    assert_eq!(
                        ours.get(probe.as_str()),
                        theirs.get(probe.as_str()),
                        "{probe}"
                    );
                    assert_eq!(
                        ours.contains_key(probe.as_str()),
                        theirs.contains_key(probe.as_str())
                    );
                    assert_eq!(
                        our_set.contains(probe.as_str()),
                        their_set.contains(probe.as_str())
                    );
                    if let Some(v) = ours.get_mut(probe.as_str()) {
                        *v += 1;
                        *theirs.get_mut(probe.as_str()).unwrap() += 1;
                    }
                }
                assert!(ours.iter().eq(theirs.iter()));
            }
        }
    }
}
