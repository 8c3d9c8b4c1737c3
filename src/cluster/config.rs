//! The `[cluster]` section of the config file: whether cluster mode is on,
//! this node's id and announced address, and the slot map (which node owns
//! which slot ranges), the same file on every node.
//!
//! ```toml
//! [cluster]
//! enabled = true
//! epoch = 1
//! [[cluster.nodes]]
//! id = "e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca"
//! ip = "10.0.0.1"
//! port = 6379
//! slots = ["0-8191"]
//! ```
//!
//! This module owns the schema and turns it into the validated pieces the
//! running cluster needs ([`ClusterConfig::map_spec`],
//! [`ClusterConfig::resolve_id`]); `crate::config` merges it with flags and
//! environment like every other section.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

use super::map::{MapSpec, NodeSpec};
use super::slot::SLOTS;

/// The `[cluster]` section.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterConfig {
    /// Serve the Redis Cluster protocol: route keys by hash slot, answer
    /// MOVED for slots of other nodes, and the CLUSTER commands.
    pub enabled: bool,
    /// This node's id: 40 lowercase hexadecimal characters. Unset: the
    /// entry of `nodes` whose address is this node's announced one, or,
    /// with no `nodes`, a random id (logged at startup).
    pub node_id: Option<String>,
    /// The IP address this node is reached at, when not `server.bind`
    /// (which cannot be announced when it is 0.0.0.0 or ::).
    pub announce_ip: Option<String>,
    /// The port this node is reached at; 0: `server.port`.
    pub announce_port: u16,
    /// The map's configuration epoch: a map replacing it at run time
    /// (CLUSTER SETMAP, SIGHUP) must carry a larger one.
    pub epoch: u64,
    /// The slot map. Empty: this node alone owns all 16384 slots (a
    /// single-node "emulated" cluster).
    pub nodes: Vec<NodeConfig>,
}

/// One `[[cluster.nodes]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    pub id: String,
    pub ip: String,
    pub port: u16,
    /// Slot ranges: `"0-5460"`, or single slots as `"5461"` or `5461`.
    #[serde(default)]
    pub slots: Vec<SlotRange>,
}

/// An inclusive range of slots, `start` <= `end` < 16384 once validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotRange {
    pub start: u64,
    pub end: u64,
}

impl SlotRange {
    /// `"a-b"` or `"a"`.
    pub fn parse(text: &str) -> Option<SlotRange> {
        let number = |s: &str| s.trim().parse::<u64>().ok();
        match text.split_once('-') {
            Some((start, end)) => Some(SlotRange { start: number(start)?, end: number(end)? }),
            None => number(text).map(|slot| SlotRange { start: slot, end: slot }),
        }
    }

    /// Whether the range lies within the slots, in order.
    pub fn is_valid(&self) -> bool {
        self.start <= self.end && self.end < SLOTS as u64
    }
}

impl fmt::Display for SlotRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.start, self.end)
    }
}

impl<'de> Deserialize<'de> for SlotRange {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(SlotRangeVisitor)
    }
}

struct SlotRangeVisitor;

impl Visitor<'_> for SlotRangeVisitor {
    type Value = SlotRange;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a slot (integer) or a slot range such as \"0-5460\"")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<SlotRange, E> {
        Ok(SlotRange { start: v, end: v })
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<SlotRange, E> {
        u64::try_from(v).map(|v| SlotRange { start: v, end: v }).map_err(|_| E::custom(format!("invalid slot {v}")))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<SlotRange, E> {
        SlotRange::parse(v).ok_or_else(|| E::custom(format!("invalid slot range '{v}' (expected \"start-end\")")))
    }
}

/// Whether `id` is a node id as Redis writes them: 40 lowercase hex digits.
pub fn is_node_id(id: &str) -> bool {
    id.len() == 40 && id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The address this node announces, from `announce_ip`/`announce_port` or
/// the listener's: an unspecified bind address (0.0.0.0, ::) announces
/// the empty string, as a Redis node that was never met does (clients
/// then use the address they connected to).
pub fn announced(config: &ClusterConfig, bind: &str, port: u16) -> (String, u16) {
    let ip = config.announce_ip.clone().unwrap_or_else(|| {
        let unspecified = bind.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_unspecified());
        if unspecified {
            String::new()
        } else {
            bind.to_string()
        }
    });
    let port = if config.announce_port != 0 { config.announce_port } else { port };
    (ip, port)
}

impl ClusterConfig {
    /// The slot map the file describes (not yet checked: see
    /// `SlotMap::build`).
    pub fn map_spec(&self) -> MapSpec {
        let nodes = self
            .nodes
            .iter()
            .map(|node| NodeSpec {
                id: node.id.clone(),
                ip: node.ip.clone(),
                port: node.port,
                slots: node.slots.clone(),
            })
            .collect();
        MapSpec { epoch: self.epoch, nodes }
    }

    /// Check the section: ids and addresses well-formed, every slot owned
    /// by at most one node, and this node identifiable. Errors name the key.
    pub fn validate(&self, bind: &str, port: u16) -> Result<(), (&'static str, String)> {
        if let Some(id) = &self.node_id {
            if !is_node_id(id) {
                return Err(("cluster.node_id", format!("'{id}' is not 40 lowercase hexadecimal characters")));
            }
        }
        if let Some(ip) = &self.announce_ip {
            if ip.parse::<std::net::IpAddr>().is_err() {
                return Err(("cluster.announce_ip", format!("'{ip}' is not an IP address")));
            }
        }
        self.map_spec().check().map_err(|message| ("cluster.nodes", message))?;
        if self.enabled {
            self.resolve_id(bind, port)?;
        }
        Ok(())
    }

    /// This node's id: `node_id`, else the id of the map entry at this
    /// node's announced address; None when neither is set and the map is
    /// empty (the caller generates one).
    pub fn resolve_id(&self, bind: &str, port: u16) -> Result<Option<String>, (&'static str, String)> {
        if let Some(id) = &self.node_id {
            return Ok(Some(id.clone()));
        }
        if self.nodes.is_empty() {
            return Ok(None);
        }
        let (ip, port) = announced(self, bind, port);
        match self.nodes.iter().find(|node| node.ip == ip && node.port == port) {
            Some(node) => Ok(Some(node.id.clone())),
            None => Err((
                "cluster.node_id",
                format!(
                    "not set, and no entry of cluster.nodes has this node's address {ip}:{port} (set \
                     cluster.node_id, or cluster.announce_ip and cluster.announce_port)"
                ),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    fn parse(text: &str) -> ClusterConfig {
        #[derive(Deserialize)]
        struct File {
            cluster: ClusterConfig,
        }
        toml::from_str::<File>(text).unwrap_or_else(|e| panic!("{text}: {e}")).cluster
    }

    fn two_nodes(a_slots: &str, b_slots: &str) -> ClusterConfig {
        parse(&format!(
            "[cluster]\nenabled = true\nepoch = 3\n\
             [[cluster.nodes]]\nid = \"{A}\"\nip = \"127.0.0.1\"\nport = 7001\nslots = [{a_slots}]\n\
             [[cluster.nodes]]\nid = \"{B}\"\nip = \"127.0.0.1\"\nport = 7002\nslots = [{b_slots}]\n"
        ))
    }

    #[test]
    fn slot_ranges_parse_from_strings_and_integers() {
        let config = two_nodes("\"0-100\", 200, \"300\"", "\"101-199\"");
        assert_eq!(config.epoch, 3);
        let slots = &config.nodes[0].slots;
        assert_eq!(
            slots,
            &[SlotRange { start: 0, end: 100 }, SlotRange { start: 200, end: 200 }, SlotRange { start: 300, end: 300 }]
        );
        assert!(config.validate("127.0.0.1", 7001).is_ok());
    }

    #[test]
    fn bad_maps_are_refused_with_the_reason() {
        let err = |config: ClusterConfig| config.validate("127.0.0.1", 7001).unwrap_err();
        let (key, message) = err(two_nodes("\"0-100\"", "\"100-200\""));
        assert_eq!(key, "cluster.nodes");
        assert!(message.contains("slot 100") && message.contains(A) && message.contains(B), "{message}");
        let (_, message) = err(two_nodes("\"0-10\", 5", "20"));
        assert!(message.contains("slot 5 is listed twice"), "{message}");
        let (_, message) = err(two_nodes("\"0-16384\"", "1"));
        assert!(message.contains("0-16384"), "{message}");
        let (_, message) = err(two_nodes("\"5-3\"", "1"));
        assert!(message.contains("5-3"), "{message}");
        let mut config = two_nodes("1", "2");
        config.nodes[1].id = A.into();
        assert!(err(config).1.contains("twice"));
        let mut config = two_nodes("1", "2");
        config.nodes[1].id = "ABC".into();
        assert!(err(config).1.contains("'ABC'"));
        let mut config = two_nodes("1", "2");
        config.nodes[1].port = 7001;
        assert!(err(config).1.contains("127.0.0.1:7001"));
        let mut config = two_nodes("1", "2");
        config.nodes[1].ip = "here".into();
        assert!(err(config).1.contains("'here'"));
        let mut config = two_nodes("1", "2");
        config.node_id = Some("xyz".into());
        assert_eq!(err(config).0, "cluster.node_id");
        let mut config = two_nodes("1", "2");
        config.announce_ip = Some("nowhere".into());
        assert_eq!(err(config).0, "cluster.announce_ip");
    }

    #[test]
    fn this_node_is_found_by_id_or_address() {
        let config = two_nodes("1", "2");
        assert_eq!(config.resolve_id("127.0.0.1", 7002).unwrap().as_deref(), Some(B));
        let (key, message) = config.resolve_id("127.0.0.1", 7003).unwrap_err();
        assert_eq!(key, "cluster.node_id");
        assert!(message.contains("127.0.0.1:7003"), "{message}");
        let mut config = two_nodes("1", "2");
        config.announce_port = 7001;
        assert_eq!(config.resolve_id("127.0.0.1", 9999).unwrap().as_deref(), Some(A));
        config.node_id = Some(B.into());
        assert_eq!(config.resolve_id("127.0.0.1", 9999).unwrap().as_deref(), Some(B));
        let emulated = parse("[cluster]\nenabled = true\n");
        assert_eq!(emulated.resolve_id("127.0.0.1", 1).unwrap(), None);
    }

    #[test]
    fn announced_address() {
        let config = ClusterConfig::default();
        assert_eq!(announced(&config, "127.0.0.1", 6379), ("127.0.0.1".to_string(), 6379));
        assert_eq!(announced(&config, "0.0.0.0", 6379), (String::new(), 6379));
        assert_eq!(announced(&config, "::", 6379), (String::new(), 6379));
        let config = ClusterConfig { announce_ip: Some("10.1.1.1".into()), announce_port: 7000, ..config };
        assert_eq!(announced(&config, "0.0.0.0", 6379), ("10.1.1.1".to_string(), 7000));
    }

    #[test]
    fn bad_slot_values_are_parse_errors() {
        #[derive(Debug, Deserialize)]
        struct File {
            #[allow(dead_code)]
            cluster: ClusterConfig,
        }
        for text in ["slots = [\"a-b\"]", "slots = [-1]", "slots = [1.5]"] {
            let toml = format!("[cluster]\n[[cluster.nodes]]\nid = \"{A}\"\nip = \"1.1.1.1\"\nport = 1\n{text}\n");
            let err = toml::from_str::<File>(&toml).unwrap_err().to_string();
            assert!(err.contains("slot"), "{text}: {err}");
        }
    }
}
