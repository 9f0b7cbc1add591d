//! Views rendered from a live window, kept for the requests that ask for the same view of the
//! same window version with the same options: several browsers on one tenant, each polling
//! and holding a websocket, would otherwise render the same large view once each. A version
//! names one tenant's merged window (see [`crate::live`]), and the key holds the tenant too,
//! so no tenant is ever served another's render.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, OnceLock};

use stormscope_shared::tenancy::TenantId;

use crate::render::NodeSummary;

pub type Nodes = BTreeMap<String, NodeSummary>;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ViewKey {
    tenant: TenantId,
    version: u64,
    view: String,
    options: String,
}

impl ViewKey {
    /// `options` is what of the request's options changes the render
    /// ([`crate::render::render_key`]), so requests differing only in parameters that change
    /// nothing share one render.
    pub fn new(tenant: &TenantId, version: u64, view: &str, options: String) -> Self {
        ViewKey {
            tenant: tenant.clone(),
            version,
            view: view.to_owned(),
            options,
        }
    }
}

impl ViewKey {
    fn same_view(&self, other: &ViewKey) -> bool {
        self.tenant == other.tenant && self.view == other.view && self.options == other.options
    }
}

/// Rendered views.
pub type RenderedViews = Rendered<Nodes>;

/// The last `capacity` renders of one kind (views, or the topology list), and for views at
/// most `budget` bytes of them.
#[derive(Debug)]
pub struct Rendered<V> {
    /// What is kept, for the metric: `view` or `registry`.
    kind: &'static str,
    capacity: usize,
    /// The bytes the renders may hold and how to weigh one; `None` bounds them by count alone
    /// (topology lists, a few kilobytes each).
    budget: Option<(usize, Weigh<V>)>,
    /// Oldest first, with each finished render's bytes.
    entries: Mutex<VecDeque<(ViewKey, Slot<V>, usize)>>,
}

/// How many bytes a render holds.
type Weigh<V> = fn(&V) -> usize;

/// A render being made or made: requests for the same key while it is being made wait for it
/// rather than rendering it again (sockets on one view tick together).
type Slot<V> = Arc<OnceLock<Arc<V>>>;

impl<V> Rendered<V> {
    pub fn new(kind: &'static str, capacity: usize) -> Self {
        Rendered {
            kind,
            capacity,
            budget: None,
            entries: Mutex::new(VecDeque::new()),
        }
    }

    /// Bounds the renders kept to `bytes` as `weigh` counts them, besides their number.
    pub fn with_budget(mut self, bytes: usize, weigh: Weigh<V>) -> Self {
        self.budget = Some((bytes, weigh));
        self
    }

    /// The render under `key`, or `render()` kept under it. Without a key (history), renders.
    /// A caller asking for a key being rendered by another waits for that render: call it
    /// off the async workers.
    pub fn get_or_render(&self, key: Option<ViewKey>, render: impl FnOnce() -> V) -> Arc<V> {
        let Some(key) = key else {
            return Arc::new(render());
        };
        let slot = {
            let mut entries = self.lock();
            match entries.iter().find(|(k, _, _)| *k == key) {
                Some((_, slot, _)) => slot.clone(),
                None => {
                    // An older version of the same view is never asked for again: the window
                    // moved on.
                    entries.retain(|(k, _, _)| !k.same_view(&key));
                    let slot = Slot::default();
                    entries.push_back((key.clone(), slot.clone(), 0));
                    while entries.len() > self.capacity {
                        entries.pop_front();
                    }
                    slot
                }
            }
        };
        // Rendered without the lock: a large view takes a while, and other keys need not wait.
        let mut rendered = false;
        let nodes = slot
            .get_or_init(|| {
                rendered = true;
                Arc::new(render())
            })
            .clone();
        self.count(if rendered { "miss" } else { "hit" });
        if let Some((budget, weigh)) = self.budget {
            if rendered {
                self.settle(&key, weigh(&nodes), budget);
            } else {
                let total = self.lock().iter().map(|(_, _, b)| b).sum();
                crate::budget::Cache::Renders.record(total);
            }
        }
        nodes
    }

    /// Notes the bytes of the render just made under `key`, then drops other tenants' oldest
    /// finished renders while all hold more than `budget`. The tenant just rendered keeps its
    /// renders (one per view and options), even over the budget.
    fn settle(&self, key: &ViewKey, bytes: usize, budget: usize) {
        let mut entries = self.lock();
        if let Some(entry) = entries.iter_mut().find(|(k, _, _)| k == key) {
            entry.2 = bytes;
        }
        let mut total: usize = entries.iter().map(|(_, _, b)| b).sum();
        while total > budget {
            let Some(oldest) = entries
                .iter()
                .position(|(k, _, b)| *b > 0 && k.tenant != key.tenant)
            else {
                break;
            };
            total -= entries[oldest].2;
            entries.remove(oldest);
        }
        crate::budget::Cache::Renders.record(total);
    }

    fn count(&self, result: &'static str) {
        metrics::counter!(
            "stormscope_app_rendered_views_total",
            "kind" => self.kind,
            "result" => result
        )
        .increment(1);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<(ViewKey, Slot<V>, usize)>> {
        self.entries.lock().expect("rendered views lock")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: &str) -> Nodes {
        [(
            id.to_owned(),
            NodeSummary::from(crate::render::SummaryHead {
                id: id.to_owned(),
                ..Default::default()
            }),
        )]
        .into()
    }

    #[test]
    fn the_same_view_of_the_same_version_renders_once() {
        let views = RenderedViews::new("view", 4);
        let a = TenantId::new("a").unwrap();
        let mut renders = 0;
        let key = |query: &str| {
            crate::render::render_key(
                &Default::default(),
                &["containers"],
                &crate::render::Options::from_query(query),
            )
        };
        for query in [
            "t=5s&system=all",
            "system=all&timestamp=x",
            "system=all&junk=1",
        ] {
            views.get_or_render(Some(ViewKey::new(&a, 1, "containers", key(query))), || {
                renders += 1;
                node("x")
            });
        }
        assert_eq!(
            renders, 1,
            "t, timestamp and unknown parameters do not change the render"
        );
        // Another version, view, option set, or no parameter at all: each renders anew.
        for (version, view, query) in [
            (2, "containers", "system=all"),
            (1, "hosts", "system=all"),
            (1, "containers", "system=application"),
            (1, "containers", ""),
        ] {
            views.get_or_render(Some(ViewKey::new(&a, version, view, key(query))), || {
                renders += 1;
                node("y")
            });
        }
        assert_eq!(renders, 5);
    }

    #[test]
    fn concurrent_requests_for_one_key_render_once() {
        let views = Arc::new(RenderedViews::new("view", 4));
        let a = TenantId::new("a").unwrap();
        let renders = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (views, a, renders) = (views.clone(), a.clone(), renders.clone());
                std::thread::spawn(move || {
                    views.get_or_render(Some(ViewKey::new(&a, 1, "hosts", String::new())), || {
                        renders.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        std::thread::sleep(std::time::Duration::from_millis(100));
                        node("h")
                    })
                })
            })
            .collect();
        for t in threads {
            assert!(t.join().unwrap().contains_key("h"));
        }
        assert_eq!(renders.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[test]
    fn tenants_never_share_a_render() {
        let views = RenderedViews::new("view", 4);
        let a = TenantId::new("a").unwrap();
        let b = TenantId::new("b").unwrap();
        views.get_or_render(Some(ViewKey::new(&a, 7, "hosts", String::new())), || {
            node("a-host")
        });
        let theirs = views.get_or_render(Some(ViewKey::new(&b, 7, "hosts", String::new())), || {
            node("b-host")
        });
        assert!(theirs.contains_key("b-host") && !theirs.contains_key("a-host"));
    }

    #[test]
    fn history_is_never_cached_and_old_renders_are_dropped() {
        let views = RenderedViews::new("view", 2);
        let a = TenantId::new("a").unwrap();
        let mut renders = 0;
        for _ in 0..2 {
            views.get_or_render(None, || {
                renders += 1;
                node("h")
            });
        }
        assert_eq!(renders, 2);
        for version in [1, 2, 3, 1] {
            views.get_or_render(
                Some(ViewKey::new(&a, version, "hosts", String::new())),
                || {
                    renders += 1;
                    node("v")
                },
            );
        }
        assert_eq!(renders, 6, "version 1 was dropped when 3 came");
    }

    #[test]
    fn renders_beyond_their_byte_budget_go_oldest_first_but_the_latest_tenants_stay() {
        let one = crate::size::view(&node("v"));
        let views = RenderedViews::new("view", 32).with_budget(2 * one, crate::size::view);
        for tenant in ["t0", "t1", "t2"] {
            let tenant = TenantId::new(tenant).unwrap();
            views.get_or_render(
                Some(ViewKey::new(&tenant, 1, "hosts", String::new())),
                || node("v"),
            );
        }
        let kept: Vec<String> = views
            .lock()
            .iter()
            .map(|(k, _, _)| k.tenant.as_str().to_owned())
            .collect();
        assert_eq!(kept, ["t1", "t2"], "two fit the budget; the oldest went");
        let tiny = RenderedViews::new("view", 32).with_budget(1, crate::size::view);
        let a = TenantId::new("a").unwrap();
        for view in ["hosts", "processes"] {
            let got = tiny.get_or_render(Some(ViewKey::new(&a, 1, view, String::new())), || {
                node(view)
            });
            assert!(got.contains_key(view));
        }
        assert_eq!(
            tiny.lock().len(),
            2,
            "the latest tenant's renders stay over budget"
        );
    }

    #[test]
    fn a_newer_version_replaces_the_older_render_of_the_same_view() {
        let views = RenderedViews::new("view", 8);
        let a = TenantId::new("a").unwrap();
        for version in 1..=5 {
            views.get_or_render(
                Some(ViewKey::new(&a, version, "hosts", String::new())),
                || node("v"),
            );
            views.get_or_render(
                Some(ViewKey::new(&a, version, "processes", String::new())),
                || node("p"),
            );
        }
        assert_eq!(views.lock().len(), 2, "one render per view, the newest");
        let mut rendered = false;
        views.get_or_render(Some(ViewKey::new(&a, 5, "hosts", String::new())), || {
            rendered = true;
            node("v")
        });
        assert!(!rendered);
    }
}
