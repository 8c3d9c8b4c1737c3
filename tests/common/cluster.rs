//! Test clusters: a few servers sharing a slot map, started for one test.
//!
//! Redistill nodes get a `[cluster]` config naming every node (each finds
//! itself in the map by its address). In differential mode the nodes are
//! real redis-server cluster nodes: each is given its slots with CLUSTER
//! ADDSLOTSRANGE and introduced to the first with CLUSTER MEET, and the
//! cluster is used once every node sees all the others and says `ok`
//! (`cluster-require-full-coverage no`, so that slots no node owns answer
//! CLUSTERDOWN on their own, as Redistill's do).

use std::thread;
use std::time::{Duration, Instant};

use super::{differential_mode, free_port, Launch, RawClient, TestServer};

/// How long real Redis nodes get to agree on the cluster.
const CONVERGE_TIMEOUT: Duration = Duration::from_secs(30);

pub struct TestCluster {
    pub nodes: Vec<TestServer>,
    /// Each node's slot ranges.
    pub slots: Vec<Vec<(u16, u16)>>,
}

/// The id the harness gives Redistill node `i` (real Redis picks its own).
pub fn node_id(i: usize) -> String {
    format!("{:040x}", 0xc1a5_7e00_u64 + i as u64)
}

/// The `[cluster]` section of a map in which node `i` listens on
/// `ports[i]` and owns `slots[i]`.
pub fn map_toml(epoch: u64, ports: &[u16], slots: &[Vec<(u16, u16)>]) -> String {
    let mut toml = format!("[cluster]\nenabled = true\nepoch = {epoch}\n");
    for (i, (port, ranges)) in ports.iter().zip(slots).enumerate() {
        let ranges: Vec<String> = ranges.iter().map(|(a, b)| format!("\"{a}-{b}\"")).collect();
        toml.push_str(&format!(
            "[[cluster.nodes]]\nid = \"{}\"\nip = \"127.0.0.1\"\nport = {port}\nslots = [{}]\n",
            node_id(i),
            ranges.join(", ")
        ));
    }
    toml
}

impl TestCluster {
    /// A cluster of `slots.len()` nodes, node `i` owning `slots[i]`.
    pub fn start(slots: &[&[(u16, u16)]]) -> TestCluster {
        Self::start_with(slots, "")
    }

    /// [`TestCluster::start`] with more Redistill config (other sections).
    pub fn start_with(slots: &[&[(u16, u16)]], extra_toml: &str) -> TestCluster {
        let slots: Vec<Vec<(u16, u16)>> = slots.iter().map(|ranges| ranges.to_vec()).collect();
        let ports: Vec<u16> = slots.iter().map(|_| free_port()).collect();
        let toml = format!("{extra_toml}\n{}", map_toml(1, &ports, &slots));
        let redis_args = ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"]
            .into_iter()
            .chain(["--cluster-require-full-coverage", "no", "--cluster-node-timeout", "5000"])
            .map(String::from)
            .collect::<Vec<_>>();
        let nodes = ports
            .iter()
            .map(|&port| {
                TestServer::launch(Launch {
                    toml: toml.clone(),
                    port: Some(port),
                    redis_args: redis_args.clone(),
                    ..Launch::default()
                })
            })
            .collect();
        let cluster = TestCluster { nodes, slots };
        if differential_mode() {
            cluster.form_redis_cluster();
        }
        cluster
    }

    pub fn node(&self, i: usize) -> &TestServer {
        &self.nodes[i]
    }

    pub fn port(&self, i: usize) -> u16 {
        self.nodes[i].port()
    }

    /// A raw client of node `i`.
    pub fn raw(&self, i: usize) -> RawClient {
        self.nodes[i].raw()
    }

    /// Node `i`'s id (CLUSTER MYID).
    pub fn id(&self, i: usize) -> String {
        self.raw(i).call_resp(&["CLUSTER", "MYID"]).text()
    }

    /// `127.0.0.1:<port of node i>`, as MOVED names it.
    pub fn addr(&self, i: usize) -> String {
        format!("127.0.0.1:{}", self.port(i))
    }

    /// Give real Redis nodes their slots, introduce them, and wait until
    /// every node knows every other with its slots and serves requests.
    fn form_redis_cluster(&self) {
        for (i, ranges) in self.slots.iter().enumerate() {
            let mut args = vec!["CLUSTER".to_string(), "ADDSLOTSRANGE".to_string()];
            for (first, last) in ranges {
                args.extend([first.to_string(), last.to_string()]);
            }
            if !ranges.is_empty() {
                assert_eq!(self.raw(i).call(&args), "+OK\r\n");
            }
        }
        for i in 1..self.nodes.len() {
            let port = self.port(i).to_string();
            assert_eq!(self.raw(0).call(&["CLUSTER", "MEET", "127.0.0.1", &port]), "+OK\r\n");
        }
        let assigned: usize = self.slots.iter().flatten().map(|(a, b)| usize::from(b - a) + 1).sum();
        let deadline = Instant::now() + CONVERGE_TIMEOUT;
        while !self.converged(assigned) {
            assert!(Instant::now() < deadline, "the Redis cluster did not converge");
            thread::sleep(Duration::from_millis(100));
        }
    }

    fn converged(&self, assigned: usize) -> bool {
        (0..self.nodes.len()).all(|i| {
            let info = self.raw(i).call_resp(&["CLUSTER", "INFO"]).text();
            let field = |name: &str| super::info_field(&info, name).map(str::to_string);
            let nodes = self.raw(i).call_resp(&["CLUSTER", "NODES"]).text();
            field("cluster_state").as_deref() == Some("ok")
                && field("cluster_slots_assigned") == Some(assigned.to_string())
                && field("cluster_known_nodes") == Some(self.nodes.len().to_string())
                && !nodes.contains("handshake")
                && (self.nodes.len() == 1 || !nodes.contains(" :"))
        })
    }
}
