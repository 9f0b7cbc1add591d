//! Consistent hashing of keys onto memcached servers.
//!
//! Hand-written because it is ~40 lines over the `murmur3` crate we already use and no maintained
//! crate would add more than a dependency.

/// Points per server: enough for an even spread (about ±10% at 3 servers), few enough that the
/// ring of a large cluster still fits in cache.
const POINTS_PER_SERVER: usize = 160;

/// A sorted ring of virtual points, each owned by a server index.
///
/// A point depends only on its server's address, never on the other servers, so adding or removing
/// one server moves only the keys that land on its points: about 1/N of them.
#[derive(Debug, Clone)]
pub(crate) struct Ring {
    /// `(hash, server index)`, sorted by hash.
    points: Vec<(u32, usize)>,
}

impl Ring {
    pub(crate) fn new(servers: &[String]) -> Self {
        let mut points: Vec<(u32, &str, usize)> = servers
            .iter()
            .enumerate()
            .flat_map(|(index, server)| {
                (0..POINTS_PER_SERVER).map(move |point| {
                    (
                        hash(format!("{server}-{point}").as_bytes()),
                        server.as_str(),
                        index,
                    )
                })
            })
            .collect();
        // Ties broken by address rather than index, so that removing a server does not reorder
        // the tied points of the servers that stay.
        points.sort_unstable_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        Ring {
            points: points
                .into_iter()
                .map(|(hash, _, index)| (hash, index))
                .collect(),
        }
    }

    /// The index of the server owning `key`, or `None` for an empty ring.
    pub(crate) fn server_for(&self, key: &[u8]) -> Option<usize> {
        let first = self.points.first()?;
        let hash = hash(key);
        let at = self.points.partition_point(|&(point, _)| point < hash);
        Some(self.points.get(at).unwrap_or(first).1)
    }
}

fn hash(bytes: &[u8]) -> u32 {
    murmur3::murmur3_32(&mut &bytes[..], 0).expect("reading from a slice cannot fail")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn servers(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| (*s).to_owned()).collect()
    }

    fn keys() -> impl Iterator<Item = String> {
        (0..30_000).map(|i| format!("reports/tenant-{}/2024-01-01/10/{i}", i % 7))
    }

    #[test]
    fn spreads_keys_evenly() {
        let ring = Ring::new(&servers(&[
            "10.0.0.1:11211",
            "10.0.0.2:11211",
            "10.0.0.3:11211",
        ]));
        let mut counts = [0usize; 3];
        for key in keys() {
            counts[ring.server_for(key.as_bytes()).unwrap()] += 1;
        }
        for count in counts {
            // An even share is 10,000.
            assert!(
                (8_000..12_000).contains(&count),
                "uneven spread: {counts:?}"
            );
        }
    }

    #[test]
    fn removing_a_server_moves_only_its_keys() {
        let all = servers(&["10.0.0.1:11211", "10.0.0.2:11211", "10.0.0.3:11211"]);
        let before = Ring::new(&all);
        // Remove the middle one, so that the indices of the others shift too.
        let remaining = servers(&["10.0.0.1:11211", "10.0.0.3:11211"]);
        let after = Ring::new(&remaining);
        let mut moved = 0;
        for key in keys() {
            let old = &all[before.server_for(key.as_bytes()).unwrap()];
            let new = &remaining[after.server_for(key.as_bytes()).unwrap()];
            if old == "10.0.0.2:11211" {
                moved += 1;
            } else {
                assert_eq!(old, new, "{key} moved although its server stayed");
            }
        }
        assert!(moved > 7_000, "the removed server held only {moved} keys");
    }

    #[test]
    fn empty_ring_has_no_owner() {
        assert_eq!(Ring::new(&[]).server_for(b"key"), None);
    }

    #[test]
    fn one_server_owns_everything() {
        let ring = Ring::new(&servers(&["a:1"]));
        assert!(keys().all(|key| ring.server_for(key.as_bytes()) == Some(0)));
    }
}
