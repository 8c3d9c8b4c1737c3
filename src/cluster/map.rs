//! The slot map: the nodes of the cluster and which one owns each slot,
//! checked (every slot at most one owner, well-formed ids and addresses)
//! when it is built, and the views of it the CLUSTER commands reply with.

use std::net::IpAddr;

use super::config::{is_node_id, SlotRange};
use super::slot::{SlotSet, SLOTS};

/// Most nodes a map may name (an owner is stored in 16 bits).
pub const MAX_NODES: usize = 16384;

/// `owners` entry of a slot no node owns.
const NO_OWNER: u16 = u16::MAX;

/// A map as written (config file, CLUSTER SETMAP), before it is checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MapSpec {
    pub epoch: u64,
    pub nodes: Vec<NodeSpec>,
}

/// One node of a [`MapSpec`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSpec {
    pub id: String,
    pub ip: String,
    pub port: u16,
    pub slots: Vec<SlotRange>,
}

impl MapSpec {
    /// Check the map and work out each slot's owner (an index into
    /// `nodes`); the error says what is wrong, naming the node or slot.
    pub fn check(&self) -> Result<Box<[u16]>, String> {
        if self.nodes.len() > MAX_NODES {
            return Err(format!("{} nodes, more than the {MAX_NODES} a map may have", self.nodes.len()));
        }
        let mut owners = vec![NO_OWNER; SLOTS].into_boxed_slice();
        for (index, node) in self.nodes.iter().enumerate() {
            self.check_node(index, node)?;
            for range in &node.slots {
                if !range.is_valid() {
                    return Err(format!("node {}: invalid slot range {range} (slots are 0 to 16383)", node.id));
                }
                for slot in range.start..=range.end {
                    let owner = &mut owners[slot as usize];
                    if usize::from(*owner) == index {
                        return Err(format!("slot {slot} is listed twice for node {}", node.id));
                    }
                    if *owner != NO_OWNER {
                        let other = &self.nodes[usize::from(*owner)].id;
                        return Err(format!("slot {slot} is assigned to both {other} and {}", node.id));
                    }
                    *owner = index as u16;
                }
            }
        }
        Ok(owners)
    }

    /// A node's id and address, and that no earlier node has the same.
    fn check_node(&self, index: usize, node: &NodeSpec) -> Result<(), String> {
        if !is_node_id(&node.id) {
            return Err(format!("node id '{}' is not 40 lowercase hexadecimal characters", node.id));
        }
        if node.ip.parse::<IpAddr>().is_err() {
            return Err(format!("node {}: ip '{}' is not an IP address", node.id, node.ip));
        }
        if node.port == 0 {
            return Err(format!("node {}: port 0 is not a port", node.id));
        }
        let earlier = &self.nodes[..index];
        if earlier.iter().any(|other| other.id == node.id) {
            return Err(format!("node id {} appears twice", node.id));
        }
        if earlier.iter().any(|other| other.ip == node.ip && other.port == node.port) {
            return Err(format!("{}:{} is the address of two nodes", node.ip, node.port));
        }
        Ok(())
    }
}

/// A node of the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub id: String,
    /// The IP address clients reach it at ("" for this node when it
    /// cannot tell: clients then use the address they connected to).
    pub ip: String,
    pub port: u16,
}

impl Node {
    /// The shard id CLUSTER MYSHARDID and SHARDS report: with one node
    /// per shard (no replicas), derived from the node id, so every node
    /// computes the same one.
    pub fn shard_id(&self) -> String {
        sha1_smol::Sha1::from(format!("shard:{}", self.id)).digest().to_string()
    }
}

/// A checked slot map, as one node sees it: which node is this one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotMap {
    epoch: u64,
    nodes: Vec<Node>,
    /// Each slot's owner, an index into `nodes` ([`NO_OWNER`]: none).
    owners: Box<[u16]>,
    myself: usize,
}

impl SlotMap {
    /// The map of `spec`, seen from node `me` (which is added, owning no
    /// slots, if the map does not name it: a node the map leaves out
    /// still answers, with redirections).
    pub fn build(spec: &MapSpec, me: &Node) -> Result<SlotMap, String> {
        let owners = spec.check()?;
        let mut nodes: Vec<Node> =
            spec.nodes.iter().map(|n| Node { id: n.id.clone(), ip: n.ip.clone(), port: n.port }).collect();
        let myself = match nodes.iter().position(|node| node.id == me.id) {
            Some(index) => index,
            None => {
                nodes.push(me.clone());
                nodes.len() - 1
            }
        };
        Ok(SlotMap { epoch: spec.epoch, nodes, owners, myself })
    }

    /// A single-node cluster in which `me` owns every slot.
    pub fn emulated(me: Node, epoch: u64) -> SlotMap {
        SlotMap { epoch, nodes: vec![me], owners: vec![0; SLOTS].into_boxed_slice(), myself: 0 }
    }

    /// A map in which `me`, the only node known, owns nothing.
    pub fn without_slots(me: Node, epoch: u64) -> SlotMap {
        SlotMap { epoch, nodes: vec![me], owners: vec![NO_OWNER; SLOTS].into_boxed_slice(), myself: 0 }
    }

    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    pub fn myself(&self) -> &Node {
        &self.nodes[self.myself]
    }

    pub fn is_myself(&self, node: usize) -> bool {
        node == self.myself
    }

    /// The index of the node owning `slot`, if any.
    pub fn owner(&self, slot: u16) -> Option<usize> {
        let owner = self.owners[usize::from(slot)];
        (owner != NO_OWNER).then_some(usize::from(owner))
    }

    /// Whether this node owns `slot`.
    pub fn owns(&self, slot: u16) -> bool {
        usize::from(self.owners[usize::from(slot)]) == self.myself
    }

    /// The slots this node owns.
    pub fn my_slots(&self) -> SlotSet {
        let mut set = SlotSet::default();
        (0..SLOTS as u16).filter(|&slot| self.owns(slot)).for_each(|slot| set.insert(slot));
        set
    }

    /// Slots some node owns.
    pub fn assigned(&self) -> usize {
        self.owners.iter().filter(|&&owner| owner != NO_OWNER).count()
    }

    /// Nodes that own at least one slot (Redis's `cluster_size`).
    pub fn size(&self) -> usize {
        (0..self.nodes.len()).filter(|&node| self.owners.iter().any(|&o| usize::from(o) == node)).count()
    }

    /// Runs of consecutive slots with one owner, in slot order:
    /// (first, last, owner). Unowned slots are left out.
    pub fn runs(&self) -> Vec<(u16, u16, usize)> {
        let mut runs: Vec<(u16, u16, usize)> = Vec::new();
        for slot in 0..SLOTS as u16 {
            let Some(owner) = self.owner(slot) else { continue };
            match runs.last_mut() {
                Some((_, last, run_owner)) if *run_owner == owner && *last + 1 == slot => *last = slot,
                _ => runs.push((slot, slot, owner)),
            }
        }
        runs
    }

    /// The slot ranges each node owns, in order, by node index.
    pub fn ranges_by_node(&self) -> Vec<Vec<(u16, u16)>> {
        let mut ranges = vec![Vec::new(); self.nodes.len()];
        for (first, last, owner) in self.runs() {
            ranges[owner].push((first, last));
        }
        ranges
    }

    /// The same map with this node's port set (an emulated cluster
    /// started on port 0 learns it once the listener is bound).
    pub fn with_my_port(&self, port: u16) -> SlotMap {
        let mut map = self.clone();
        map.nodes[map.myself].port = port;
        map
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(c: char) -> String {
        std::iter::repeat_n(c, 40).collect()
    }

    fn node(c: char, port: u16, slots: &[(u64, u64)]) -> NodeSpec {
        let slots = slots.iter().map(|&(start, end)| SlotRange { start, end }).collect();
        NodeSpec { id: id(c), ip: "127.0.0.1".into(), port, slots }
    }

    fn me(c: char) -> Node {
        Node { id: id(c), ip: "127.0.0.1".into(), port: 1 }
    }

    #[test]
    fn owners_and_runs() {
        let spec = MapSpec { epoch: 5, nodes: vec![node('a', 1, &[(0, 9), (20, 29)]), node('b', 2, &[(10, 19)])] };
        let map = SlotMap::build(&spec, &me('b')).unwrap();
        assert_eq!(map.epoch(), 5);
        assert_eq!(map.owner(5), Some(0));
        assert_eq!(map.owner(30), None);
        assert!(map.owns(15) && !map.owns(5));
        assert_eq!(map.runs(), vec![(0, 9, 0), (10, 19, 1), (20, 29, 0)]);
        assert_eq!(map.ranges_by_node(), vec![vec![(0, 9), (20, 29)], vec![(10, 19)]]);
        assert_eq!(map.assigned(), 30);
        assert_eq!(map.size(), 2);
        assert_eq!(map.my_slots().len(), 10);
        assert_eq!(map.myself().port, 2);
    }

    #[test]
    fn a_node_left_out_of_the_map_owns_nothing() {
        let spec = MapSpec { epoch: 1, nodes: vec![node('a', 1, &[(0, 16383)])] };
        let map = SlotMap::build(&spec, &me('c')).unwrap();
        assert_eq!(map.nodes().len(), 2);
        assert_eq!(map.myself().id, id('c'));
        assert!(map.my_slots().is_empty());
        assert_eq!(map.size(), 1);
    }

    #[test]
    fn emulated_owns_everything() {
        let map = SlotMap::emulated(me('a'), 0);
        assert_eq!(map.runs(), vec![(0, 16383, 0)]);
        assert_eq!(map.assigned(), SLOTS);
        assert_eq!(map.with_my_port(7000).myself().port, 7000);
        let none = SlotMap::without_slots(me('a'), 3);
        assert!(none.runs().is_empty() && none.my_slots().is_empty());
        assert_eq!((none.epoch(), none.size()), (3, 0));
    }

    #[test]
    fn shard_ids_are_stable_hex() {
        let shard = me('a').shard_id();
        assert!(is_node_id(&shard));
        assert_eq!(shard, me('a').shard_id());
        assert_ne!(shard, me('b').shard_id());
    }
}
