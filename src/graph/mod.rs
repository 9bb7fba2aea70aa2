//! A dependency graph over addresses (`resource.db`, `instance.downtown`).
//! Pure: it knows nothing of Docker, descriptors or state. Built on
//! `petgraph`; orders are deterministic (ties broken by address).

pub mod walk;

use hashbrown::HashTable;
use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};
use rustc_hash::FxBuildHasher;
use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap};
use std::hash::BuildHasher;

/// Nodes are addresses; an edge `a → b` means "a depends on b" (b first).
#[derive(Clone, Debug, Default)]
pub struct Graph {
    graph: DiGraph<String, ()>,
    /// Address → node: node numbers hashed by the address each node holds,
    /// so an address is stored once (a map keyed by a copy of each was
    /// 0.3-0.9 MiB more at the peak of planning 10,000 nodes and an
    /// allocation per node, docs/benchmarks.md).
    /// Hashed, not ordered: addresses share long prefixes (`instance.link…`),
    /// and ordered lookups comparing them were 9 % of planning a 10,000-node
    /// project; `nodes()` sorts instead.
    index: HashTable<NodeIndex>,
}

/// An address's hash in `Graph::index` (the same for finding and for
/// moving nodes when the table grows).
fn hash(address: &str) -> u64 {
    FxBuildHasher.hash_one(address)
}

impl Graph {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add_node(&mut self, address: &str) -> NodeIndex {
        if let Some(i) = self.find(address) {
            return i;
        }
        let i = self.graph.add_node(address.to_string());
        let graph = &self.graph;
        self.index
            .insert_unique(hash(address), i, |&n| hash(&graph[n]));
        i
    }

    fn find(&self, address: &str) -> Option<NodeIndex> {
        self.index
            .find(hash(address), |&n| self.graph[n] == address)
            .copied()
    }

    /// `from` depends on `to`.
    pub fn add_dependency(&mut self, from: &str, to: &str) {
        let a = self.add_node(from);
        let b = self.add_node(to);
        if !self.graph.contains_edge(a, b) {
            self.graph.add_edge(a, b, ());
        }
    }

    pub fn contains(&self, address: &str) -> bool {
        self.find(address).is_some()
    }

    pub fn len(&self) -> usize {
        self.graph.node_count()
    }

    pub fn is_empty(&self) -> bool {
        self.graph.node_count() == 0
    }

    /// Every address, sorted.
    pub fn nodes(&self) -> impl Iterator<Item = &str> {
        let mut nodes: Vec<&str> = self.graph.node_weights().map(String::as_str).collect();
        nodes.sort_unstable();
        nodes.into_iter()
    }

    /// Direct dependencies of a node, sorted.
    pub fn dependencies(&self, address: &str) -> Vec<String> {
        let Some(i) = self.find(address) else {
            return Vec::new();
        };
        let mut deps: Vec<String> = self
            .graph
            .neighbors(i)
            .map(|n| self.graph[n].clone())
            .collect();
        deps.sort();
        deps
    }

    /// Direct dependencies of node number `i` (see
    /// [`Graph::topological_indices`]), sorted.
    pub fn dependencies_at(&self, i: usize) -> Vec<String> {
        let mut deps: Vec<String> = self
            .graph
            .neighbors(NodeIndex::new(i))
            .map(|n| self.graph[n].clone())
            .collect();
        deps.sort();
        deps
    }

    /// Direct dependents of a node, sorted.
    pub fn dependents(&self, address: &str) -> Vec<String> {
        let Some(i) = self.find(address) else {
            return Vec::new();
        };
        let mut deps: Vec<String> = self
            .graph
            .neighbors_directed(i, petgraph::Direction::Incoming)
            .map(|n| self.graph[n].clone())
            .collect();
        deps.sort();
        deps
    }

    /// Every cycle, each as its sorted member addresses (self-loops too).
    pub fn cycles(&self) -> Vec<Vec<String>> {
        let mut out = Vec::new();
        for scc in tarjan_scc(&self.graph) {
            let is_cycle = scc.len() > 1 || scc.iter().any(|&n| self.graph.contains_edge(n, n));
            if is_cycle {
                let mut members: Vec<String> = scc.iter().map(|&n| self.graph[n].clone()).collect();
                members.sort();
                out.push(members);
            }
        }
        out.sort();
        out
    }

    /// Dependencies first; among ready nodes, by address. `Err` with the
    /// cycles when there are any.
    pub fn topological_order(&self) -> Result<Vec<String>, Vec<Vec<String>>> {
        Ok(self
            .topological_indices()?
            .into_iter()
            .map(|i| self.graph[NodeIndex::new(i)].clone())
            .collect())
    }

    /// [`Graph::topological_order`] as node numbers: nodes are numbered
    /// from 0 in the order they were first added.
    pub fn topological_indices(&self) -> Result<Vec<usize>, Vec<Vec<String>>> {
        let n = self.graph.node_count();
        let mut remaining: Vec<usize> = vec![0; n];
        for i in self.graph.node_indices() {
            remaining[i.index()] = self.graph.neighbors(i).count();
        }
        let mut ready: BinaryHeap<Reverse<(&str, usize)>> = self
            .graph
            .node_indices()
            .filter(|i| remaining[i.index()] == 0)
            .map(|i| Reverse((self.graph[i].as_str(), i.index())))
            .collect();
        let mut order = Vec::with_capacity(n);
        while let Some(Reverse((_, i))) = ready.pop() {
            order.push(i);
            for dependent in self
                .graph
                .neighbors_directed(NodeIndex::new(i), petgraph::Direction::Incoming)
            {
                let r = &mut remaining[dependent.index()];
                *r -= 1;
                if *r == 0 {
                    ready.push(Reverse((self.graph[dependent].as_str(), dependent.index())));
                }
            }
        }
        if order.len() == n {
            Ok(order)
        } else {
            Err(self.cycles())
        }
    }

    /// A node and everything it depends on, transitively.
    pub fn with_dependencies(&self, address: &str) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![address.to_string()];
        while let Some(a) = stack.pop() {
            if seen.insert(a.clone()) {
                stack.extend(self.dependencies(&a));
            }
        }
        seen
    }

    /// Graphviz DOT, sorted.
    pub fn to_dot(&self) -> String {
        let mut out = String::from("digraph compartment {\n  rankdir=LR;\n");
        for a in self.nodes() {
            out.push_str(&format!("  \"{a}\";\n"));
        }
        for a in self.nodes() {
            for d in self.dependencies(a) {
                out.push_str(&format!("  \"{d}\" -> \"{a}\";\n"));
            }
        }
        out.push_str("}\n");
        out
    }

    /// Mermaid flowchart, sorted.
    pub fn to_mermaid(&self) -> String {
        let id = |a: &str| a.replace(['.', '-', '/'], "_");
        let mut out = String::from("flowchart LR\n");
        for a in self.nodes() {
            out.push_str(&format!("  {}[\"{a}\"]\n", id(a)));
        }
        for a in self.nodes() {
            for d in self.dependencies(a) {
                out.push_str(&format!("  {} --> {}\n", id(&d), id(a)));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_dependencies_first_and_finds_cycles() {
        let mut g = Graph::new();
        g.add_dependency("service.api", "resource.db");
        g.add_dependency("instance.a", "service.api");
        g.add_node("resource.cache");
        assert_eq!(
            g.topological_order().unwrap(),
            vec!["resource.cache", "resource.db", "service.api", "instance.a"]
        );
        g.add_dependency("instance.b", "instance.c");
        g.add_dependency("instance.c", "instance.b");
        assert_eq!(
            g.topological_order().unwrap_err(),
            vec![vec!["instance.b".to_string(), "instance.c".to_string()]]
        );
    }

    #[test]
    fn long_chains_are_linear() {
        let mut g = Graph::new();
        for i in 1..10_000 {
            g.add_dependency(&format!("instance.i{i}"), &format!("instance.i{}", i - 1));
        }
        // Each address found again as the index grew: one node apiece.
        assert_eq!(g.len(), 10_000);
        assert!(g.contains("instance.i5000") && !g.contains("instance.i10000"));
        let order = g.topological_order().unwrap();
        assert_eq!(order.len(), 10_000);
        assert_eq!(order.first().unwrap(), "instance.i0");
        assert_eq!(order.last().unwrap(), "instance.i9999");
    }
}
