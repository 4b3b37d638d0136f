//! `GET /containers/{id}/stats` as dockerd sends it: Go's `types.StatsJSON`
//! field for field. bollard-stubs' `ContainerStatsResponse` reads it (the
//! CLI does), but as a body to send it omits what dockerd always writes:
//! the `blkio_stats` lists as `null`, the zero `throttling_data`, the zero
//! `cpu_usage` of a first sample's `precpu_stats`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One stats sample (Go's `StatsJSON`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StatsResponse {
    pub read: String,
    pub preread: String,
    pub pids_stats: PidsStats,
    pub blkio_stats: BlkioStats,
    pub num_procs: u32,
    pub storage_stats: StorageStats,
    pub cpu_stats: CpuStats,
    pub precpu_stats: CpuStats,
    pub memory_stats: MemoryStats,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// Per interface, without `lo`; omitted when there is none (dockerd).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub networks: BTreeMap<String, NetworkStats>,
}

/// `pids_stats`: both fields `omitempty` in dockerd.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PidsStats {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
}

/// `blkio_stats`: every list present, `null` when the cgroup has none
/// (dockerd on cgroup v2 fills only `io_service_bytes_recursive`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct BlkioStats {
    pub io_service_bytes_recursive: Option<Vec<BlkioStatEntry>>,
    pub io_serviced_recursive: Option<Vec<BlkioStatEntry>>,
    pub io_queue_recursive: Option<Vec<BlkioStatEntry>>,
    pub io_service_time_recursive: Option<Vec<BlkioStatEntry>>,
    pub io_wait_time_recursive: Option<Vec<BlkioStatEntry>>,
    pub io_merged_recursive: Option<Vec<BlkioStatEntry>>,
    pub io_time_recursive: Option<Vec<BlkioStatEntry>>,
    pub sectors_recursive: Option<Vec<BlkioStatEntry>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BlkioStatEntry {
    pub major: u64,
    pub minor: u64,
    pub op: String,
    pub value: u64,
}

/// `storage_stats`: Windows only, so `{}` on Linux.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StorageStats {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_count_normalized: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_size_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_count_normalized: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_size_bytes: Option<u64>,
}

/// `cpu_stats` / `precpu_stats`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CpuStats {
    pub cpu_usage: CpuUsage,
    #[serde(skip_serializing_if = "is_zero")]
    pub system_cpu_usage: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub online_cpus: u32,
    pub throttling_data: ThrottlingData,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CpuUsage {
    pub total_usage: u64,
    /// cgroup v1 only; `omitempty` in dockerd.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub percpu_usage: Option<Vec<u64>>,
    pub usage_in_kernelmode: u64,
    pub usage_in_usermode: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ThrottlingData {
    pub periods: u64,
    pub throttled_periods: u64,
    pub throttled_time: u64,
}

/// `memory_stats`: every field `omitempty` in dockerd, so `{}` for a
/// stopped container.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MemoryStats {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_usage: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stats: Option<BTreeMap<String, u64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failcnt: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
}

/// One interface's counters (all present, as dockerd sends them).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NetworkStats {
    pub rx_bytes: u64,
    pub rx_packets: u64,
    pub rx_errors: u64,
    pub rx_dropped: u64,
    pub tx_bytes: u64,
    pub tx_packets: u64,
    pub tx_errors: u64,
    pub tx_dropped: u64,
}

fn is_zero<T: Default + PartialEq>(n: &T) -> bool {
    *n == T::default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A stopped container's sample, as dockerd 20.10+ writes it.
    #[test]
    fn a_first_sample_has_dockerds_zeros_and_nulls() {
        let s = StatsResponse {
            read: "2026-01-01T00:00:00Z".into(),
            preread: "0001-01-01T00:00:00Z".into(),
            name: "/web".into(),
            id: "abc".into(),
            ..Default::default()
        };
        let v = serde_json::to_value(&s).unwrap();
        let zero_cpu = json!({
            "cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0},
            "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0},
        });
        assert_eq!(v["cpu_stats"], zero_cpu);
        assert_eq!(v["precpu_stats"], zero_cpu);
        assert_eq!(v["memory_stats"], json!({}));
        assert_eq!(v["pids_stats"], json!({}));
        assert_eq!(v["storage_stats"], json!({}));
        assert_eq!(v["num_procs"], 0);
        assert_eq!(v["name"], "/web");
        assert_eq!(v["preread"], "0001-01-01T00:00:00Z");
        assert!(v.get("networks").is_none(), "dockerd omits empty networks");
        let blkio = v["blkio_stats"].as_object().unwrap();
        assert_eq!(blkio.len(), 8);
        assert!(blkio.values().all(|x| x.is_null()));
    }

    #[test]
    fn a_running_sample_keeps_its_counters_and_bollard_reads_it() {
        let mut s = StatsResponse::default();
        s.cpu_stats.system_cpu_usage = 2000;
        s.cpu_stats.online_cpus = 2;
        s.cpu_stats.cpu_usage.total_usage = 200;
        s.memory_stats = MemoryStats {
            usage: Some(10),
            limit: Some(100),
            stats: Some(BTreeMap::from([("inactive_file".into(), 1)])),
            ..Default::default()
        };
        s.pids_stats.current = Some(3);
        s.blkio_stats.io_service_bytes_recursive = Some(vec![BlkioStatEntry {
            major: 8,
            minor: 0,
            op: "read".into(),
            value: 4096,
        }]);
        s.networks.insert("eth0".into(), NetworkStats::default());
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["cpu_stats"]["online_cpus"], 2);
        assert_eq!(v["memory_stats"]["stats"]["inactive_file"], 1);
        assert_eq!(v["networks"]["eth0"]["tx_dropped"], 0);
        assert_eq!(
            v["blkio_stats"]["io_service_bytes_recursive"][0]["op"],
            "read"
        );
        let b: crate::apimodel::models::ContainerStatsResponse =
            serde_json::from_value(v.clone()).unwrap();
        assert_eq!(b.pids_stats.unwrap().current, Some(3));
        let back: StatsResponse = serde_json::from_value(v).unwrap();
        assert_eq!(back, s);
    }
}
