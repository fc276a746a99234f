//! What `/proc` tells about a process and the machine: CPU seconds, resident memory, the load
//! average. Linux only, like the local cluster; `None` where a file cannot be read.

/// `USER_HZ`: the unit of the CPU times in `/proc/PID/stat`, fixed at 100 in Linux's ABI.
const USER_HZ: f64 = 100.0;

/// User + system CPU seconds of a live process.
pub fn cpu_s(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields are counted after the last ')'.
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Field 3 (state) is fields[0]; utime and stime are fields 14 and 15.
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / USER_HZ)
}

/// Resident set size now and its peak (`VmRSS`, `VmHWM`), and the anonymous part of it now
/// (`RssAnon`: heap and stacks, not the code and files mapped), in kB.
#[derive(Debug, Clone, Copy, Default)]
pub struct Mem {
    pub rss_kb: u64,
    pub hwm_kb: u64,
    pub anon_kb: u64,
}

pub fn mem(pid: u32) -> Option<Mem> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
    };
    Some(Mem {
        rss_kb: field("VmRSS:")?,
        hwm_kb: field("VmHWM:")?,
        anon_kb: field("RssAnon:")?,
    })
}

/// The 1, 5 and 15 minute load averages.
pub fn load_avg() -> Option<[f64; 3]> {
    parse_loadavg(&std::fs::read_to_string("/proc/loadavg").ok()?)
}

fn parse_loadavg(s: &str) -> Option<[f64; 3]> {
    let mut it = s.split_whitespace().map(str::parse::<f64>);
    Some([it.next()?.ok()?, it.next()?.ok()?, it.next()?.ok()?])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loadavg_is_read_from_its_first_three_fields() {
        assert_eq!(
            parse_loadavg("0.73 2.06 2.81 2/138 1617\n"),
            Some([0.73, 2.06, 2.81])
        );
        assert_eq!(parse_loadavg("0.73 x"), None);
    }

    #[test]
    fn this_process_has_cpu_time_and_a_peak_rss() {
        let me = std::process::id();
        assert!(cpu_s(me).is_some_and(|s| s >= 0.0));
        assert!(mem(me).is_some_and(|m| m.hwm_kb >= m.rss_kb && m.rss_kb > 0));
    }
}
