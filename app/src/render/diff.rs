//! What the topology websocket sends each tick (Scope's `TopoDiff`, scope-compat.md §4.4): the
//! changes from the previous render of a view to the current one.

use std::collections::BTreeMap;

use serde::Serialize;

use super::NodeSummary;

fn is_false(b: &bool) -> bool {
    !*b
}

/// `{"add","update","remove","reset"?}`. An empty list is `null`, as Go writes a nil slice and
/// the UI expects. Summaries are borrowed from the renders compared: the first message of a
/// large view holds every node, and copying them only to serialise them would double its cost.
#[derive(Debug, Default, PartialEq, Serialize)]
pub struct Diff<'a> {
    pub add: Option<Vec<&'a NodeSummary>>,
    pub update: Option<Vec<&'a NodeSummary>>,
    pub remove: Option<Vec<&'a str>>,
    /// The UI drops every node it holds before applying a reset.
    #[serde(skip_serializing_if = "is_false")]
    pub reset: bool,
}

/// The diff from `previous` to `current`; without a previous render, a reset adding every
/// node. Each list is in id order (the maps' order): Scope's follows Go's map order, which the
/// UI does not depend on, and a fixed order makes messages comparable.
pub fn diff<'a>(
    previous: Option<&'a BTreeMap<String, NodeSummary>>,
    current: &'a BTreeMap<String, NodeSummary>,
) -> Diff<'a> {
    let Some(previous) = previous else {
        return Diff {
            add: non_empty(current.values().collect()),
            reset: true,
            ..Diff::default()
        };
    };
    let mut add = Vec::new();
    let mut update = Vec::new();
    for (id, node) in current {
        match previous.get(id) {
            None => add.push(node),
            Some(before) if before != node => update.push(node),
            Some(_) => {}
        }
    }
    let remove = previous
        .keys()
        .filter(|id| !current.contains_key(*id))
        .map(String::as_str)
        .collect();
    Diff {
        add: non_empty(add),
        update: non_empty(update),
        remove: non_empty(remove),
        reset: false,
    }
}

fn non_empty<T>(items: Vec<T>) -> Option<Vec<T>> {
    (!items.is_empty()).then_some(items)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::SummaryHead;

    fn node(id: &str, label: &str) -> NodeSummary {
        NodeSummary::from(SummaryHead {
            id: id.into(),
            label: label.into(),
            ..SummaryHead::default()
        })
    }

    fn nodes(list: &[(&str, &str)]) -> BTreeMap<String, NodeSummary> {
        list.iter()
            .map(|(id, label)| (id.to_string(), node(id, label)))
            .collect()
    }

    fn json(diff: &Diff) -> serde_json::Value {
        serde_json::to_value(diff).unwrap()
    }

    #[test]
    fn without_a_previous_render_it_is_a_reset_adding_every_node_in_id_order() {
        let current = nodes(&[("b", "B"), ("a", "A")]);
        let d = diff(None, &current);
        assert_eq!(
            json(&d),
            serde_json::json!({
                "add": [{"id": "a", "label": "A", "labelMinor": "", "rank": ""},
                        {"id": "b", "label": "B", "labelMinor": "", "rank": ""}],
                "update": null,
                "remove": null,
                "reset": true,
            })
        );
    }

    #[test]
    fn a_reset_of_an_empty_view_still_says_reset() {
        let empty = BTreeMap::new();
        assert_eq!(
            json(&diff(None, &empty)),
            serde_json::json!({"add": null, "update": null, "remove": null, "reset": true})
        );
    }

    #[test]
    fn adds_updates_and_removes_by_id() {
        let previous = nodes(&[("a", "A"), ("b", "B"), ("c", "C"), ("d", "D")]);
        let current = nodes(&[
            ("e", "E"),
            ("d", "D"),
            ("b", "B2"),
            ("a0", "A0"),
            ("c", "C2"),
        ]);
        let d = diff(Some(&previous), &current);
        let ids = |list: &Option<Vec<&NodeSummary>>| -> Vec<String> {
            list.iter().flatten().map(|n| n.id.clone()).collect()
        };
        assert_eq!(ids(&d.add), ["a0", "e"]);
        assert_eq!(ids(&d.update), ["b", "c"]);
        assert_eq!(d.update.as_ref().unwrap()[0].label, "B2", "the new summary");
        assert_eq!(d.remove, Some(vec!["a"]));
        assert!(!d.reset);
        assert!(
            json(&d).get("reset").is_none(),
            "reset is left out, not false"
        );
    }

    #[test]
    fn any_field_changing_is_an_update() {
        let previous = nodes(&[("a", "A")]);
        let mut current = previous.clone();
        current.get_mut("a").unwrap().adjacency.insert("b".into());
        assert_eq!(diff(Some(&previous), &current).update.unwrap().len(), 1);
    }

    #[test]
    fn an_unchanged_view_is_an_empty_diff_of_nulls() {
        let previous = nodes(&[("a", "A"), ("b", "B")]);
        assert_eq!(
            json(&diff(Some(&previous), &previous)),
            serde_json::json!({"add": null, "update": null, "remove": null})
        );
    }

    #[test]
    fn applying_the_diffs_rebuilds_each_render() {
        let renders = [
            nodes(&[("a", "A"), ("b", "B")]),
            nodes(&[("b", "B"), ("c", "C")]),
            nodes(&[("b", "B3"), ("c", "C")]),
            nodes(&[]),
            nodes(&[("z", "Z")]),
        ];
        let mut held: BTreeMap<String, NodeSummary> = BTreeMap::new();
        let mut previous = None;
        for current in &renders {
            let d = diff(previous, current);
            if d.reset {
                held.clear();
            }
            for id in d.remove.iter().flatten() {
                held.remove(*id);
            }
            for n in d.add.iter().chain(&d.update).flatten() {
                held.insert(n.id.clone(), (*n).clone());
            }
            assert_eq!(&held, current);
            previous = Some(current);
        }
    }
}
