//! The execution order of the drafted changes, from `graph`: desired
//! dependencies first; deletes run in reverse of the recorded ones.

use super::{CycleError, Input};
use crate::graph::Graph;
use crate::plan::{Action, Change, Kind};
use crate::state::State;
use std::collections::{BTreeMap, BTreeSet};

/// Every change of `changes` (sorted by address, as a map of them by
/// address yields them) in a valid execution order, each with its direct
/// dependencies in the graph.
pub(crate) fn order(
    input: &Input,
    mut changes: Vec<Change>,
    desired_deps: &BTreeMap<String, Vec<String>>,
) -> Result<Vec<Change>, CycleError> {
    let mut graph = Graph::new();
    for ch in &changes {
        graph.add_node(&ch.address);
    }
    // The graph's nodes are the changes: asking it (hashed) is asking
    // whether a change is planned.
    for (address, deps) in desired_deps {
        for d in deps {
            if graph.contains(d) {
                graph.add_dependency(address, d);
            }
        }
    }
    add_delete_order(input, &changes, &mut graph);
    let order = graph.topological_indices().map_err(CycleError)?;
    // Every node is a change, added in the order of `changes`: node `i` is
    // the `i`-th change. Put in order in place, by node number (a removal
    // by address per node and a second vector of changes were a tenth of
    // planning 10,000 nodes and 4.6 MB at its peak, docs/benchmarks.md).
    assert_eq!(order.len(), changes.len(), "every node is a change");
    permute(&mut changes, &order);
    for (ch, &i) in changes.iter_mut().zip(&order) {
        ch.depends_on = graph.dependencies_at(i);
    }
    Ok(changes)
}

/// Reorders `items` so that position `k` holds what was at `order[k]`
/// (`order` is a permutation), with swaps.
fn permute<T>(items: &mut [T], order: &[usize]) {
    // `at[i]`: where the item first at `i` is now; `first[j]`: which item
    // is now at `j`.
    let mut at: Vec<usize> = (0..items.len()).collect();
    let mut first = at.clone();
    for (k, &want) in order.iter().enumerate() {
        let from = at[want];
        items.swap(k, from);
        let moved = first[k];
        at[moved] = from;
        first[from] = moved;
        at[want] = k;
        first[k] = want;
    }
}

/// Deletes run in reverse: a deleted object waits for the deletion of
/// everything that depended on it (and for the change of anything that
/// stops depending on it); a deleted instance waits for its owning
/// service, which receives the delete hook.
fn add_delete_order(input: &Input, changes: &[Change], graph: &mut Graph) {
    let empty = State::default();
    let global_state = input.global.unwrap_or(&empty);
    let planned = |a: &str| graph_index(changes, a).map(|i| &changes[i]);
    let deleted = |a: &str| planned(a).is_some_and(|d| d.action == Action::Delete);
    for ch in changes {
        let address = &ch.address;
        let deps = recorded(input.state, global_state, address);
        if ch.action == Action::Delete {
            for dep in &deps {
                if deleted(dep) {
                    graph.add_dependency(dep, address);
                } else if ch.kind == Kind::Instance
                    && dep.starts_with("service.")
                    && planned(dep).is_some()
                {
                    // The delete hook goes to the owning service: once it
                    // is up to date, never while it is being replaced.
                    graph.add_dependency(address, dep);
                }
            }
        } else {
            // Whatever stops depending on a deleted object changes first.
            for dep in &deps {
                if deleted(dep) {
                    graph.add_dependency(dep, address);
                }
            }
        }
    }
}

/// Where the change to `address` is in `changes` (sorted by address).
fn graph_index(changes: &[Change], address: &str) -> Option<usize> {
    changes
        .binary_search_by(|c| c.address.as_str().cmp(address))
        .ok()
}

/// The dependencies recorded in the state for `address`.
fn recorded(st: &State, global_state: &State, address: &str) -> BTreeSet<String> {
    let (kind, name) = address.split_once('.').unwrap_or(("", ""));
    match kind {
        "resource" => st.resources.get(name).map(|r| r.applied.depends_on.clone()),
        "service" => st.services.get(name).map(|s| s.applied.depends_on.clone()),
        _ => st
            .instances
            .get(name)
            .or_else(|| global_state.instances.get(name))
            .map(|i| i.depends_on.clone()),
    }
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[test]
    fn permute_puts_each_item_where_the_order_says() {
        let orders: [&[usize]; 4] = [&[0, 1, 2, 3], &[3, 2, 1, 0], &[1, 2, 3, 0], &[2, 0, 3, 1]];
        for order in orders {
            let mut items = vec!["a", "b", "c", "d"];
            super::permute(&mut items, order);
            let want: Vec<&str> = order.iter().map(|&i| ["a", "b", "c", "d"][i]).collect();
            assert_eq!(items, want, "{order:?}");
        }
    }
}
