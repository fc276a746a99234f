//! Checks Kubernetes applies to CronJob names, resource quantities, labels and tolerations.
//!
//! Each function returns the problems it found as messages that name the fix.

use std::collections::BTreeMap;

use super::{
    Durations, Fault, FaultKind, Resources, Toleration, TolerationEffect, TolerationOperator,
};

/// Kubernetes limits CronJob names to 52 characters: the controller appends an 11-character
/// suffix (`-` and a minute timestamp) to make Job names, which must fit in 63.
pub const MAX_CRONJOB_NAME: usize = 52;

/// Problems with a CronJob name (a DNS-1123 label of at most 52 characters).
pub fn name_problems(name: &str) -> Vec<String> {
    let mut out = Vec::new();
    if name.is_empty() {
        out.push("the name is empty; give every CronJob a name".to_string());
        return out;
    }
    let len = name.chars().count();
    if len > MAX_CRONJOB_NAME {
        out.push(format!(
            "job name '{}...' is {len} characters; Kubernetes CronJob names may be at most \
             {MAX_CRONJOB_NAME} (the controller appends an 11-character suffix to Job names); \
             shorten it",
            name.chars().take(20).collect::<String>()
        ));
    }
    if !is_dns1123_label_chars(name) {
        out.push(format!(
            "job name '{name}' is not a valid DNS-1123 label: use only lowercase letters, digits \
             and '-', starting and ending with a letter or digit (e.g. '{}')",
            suggest_name(name)
        ));
    }
    out
}

/// Lowercase letters, digits and `-`, starting and ending with a letter or digit.
pub(crate) fn is_dns1123_label_chars(s: &str) -> bool {
    let ok = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    let mut chars = s.chars();
    let first = chars.next();
    let last = s.chars().last();
    first.is_some_and(ok) && last.is_some_and(ok) && s.chars().all(|c| ok(c) || c == '-')
}

fn suggest_name(name: &str) -> String {
    let mapped: String = name
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() {
                c
            } else {
                '-'
            }
        })
        .collect();
    let trimmed = mapped.trim_matches('-');
    let short: String = trimmed.chars().take(MAX_CRONJOB_NAME).collect();
    let short = short.trim_end_matches('-');
    if short.is_empty() {
        "my-job".to_string()
    } else {
        short.to_string()
    }
}

/// Checks a Kubernetes resource quantity such as `100m`, `0.1`, `128Mi`, `1e3`.
///
/// The grammar is apimachinery's: an optional sign, digits with an optional decimal point, then
/// one suffix among the binary `Ki Mi Gi Ti Pi Ei`, the decimal `n u m k M G T P E`, or an
/// exponent `e`/`E` followed by an integer. Negative values are rejected, as Kubernetes does for
/// requests and limits.
pub fn quantity_problem(q: &str) -> Option<String> {
    const HINT: &str = "write a number with an optional suffix, e.g. 100m, 0.5, 128Mi, 1G or 1e3";
    if q.is_empty() {
        return Some(format!("the quantity is empty; {HINT}"));
    }
    let (negative, rest) = match q.as_bytes()[0] {
        b'-' => (true, &q[1..]),
        b'+' => (false, &q[1..]),
        _ => (false, q),
    };
    let number_len = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    let (number, suffix) = rest.split_at(number_len);
    let digits = number.chars().filter(char::is_ascii_digit).count();
    if digits == 0 || number.matches('.').count() > 1 {
        return Some(format!("'{q}' is not a Kubernetes quantity; {HINT}"));
    }
    let suffix_ok = match suffix {
        "" | "n" | "u" | "m" | "k" | "M" | "G" | "T" | "P" | "E" => true,
        "Ki" | "Mi" | "Gi" | "Ti" | "Pi" | "Ei" => true,
        s if s.starts_with(['e', 'E']) => {
            let exp = &s[1..];
            let exp = exp.strip_prefix(['+', '-']).unwrap_or(exp);
            !exp.is_empty() && exp.bytes().all(|b| b.is_ascii_digit())
        }
        _ => false,
    };
    if !suffix_ok {
        return Some(format!(
            "'{q}' has the unknown suffix '{suffix}'; use one of m, k, M, G, T, P, E, Ki, Mi, Gi, \
             Ti, Pi, Ei or an exponent like e3 (note: 'MB' and 'mi' are not Kubernetes units)"
        ));
    }
    if negative && number.chars().any(|c| c.is_ascii_digit() && c != '0') {
        return Some(format!(
            "'{q}' is negative; requests and limits must be 0 or more"
        ));
    }
    None
}

/// Checks a resource name (`cpu`, `memory`, `ephemeral-storage`, `hugepages-2Mi`, or an extended
/// resource like `example.com/gpu`).
pub fn resource_name_problem(name: &str) -> Option<String> {
    let standard = matches!(name, "cpu" | "memory" | "ephemeral-storage")
        || name.starts_with("hugepages-")
        || (name.contains('/') && label_key_problem(name).is_none());
    if standard {
        None
    } else {
        Some(format!(
            "'{name}' is not a container resource; use cpu, memory, ephemeral-storage, \
             hugepages-<size>, or a fully qualified extended resource like example.com/gpu"
        ))
    }
}

/// Problems with `requests` and `limits` maps, prefixed with `what` (e.g. `resources.requests`).
pub fn resources_problems(what: &str, map: &BTreeMap<String, String>) -> Vec<String> {
    let mut out = Vec::new();
    for (name, q) in map {
        if let Some(p) = resource_name_problem(name) {
            out.push(format!("{what}: {p}"));
        }
        if let Some(p) = quantity_problem(q) {
            out.push(format!("{what}.{name}: {p}"));
        }
    }
    out
}

/// A quantity's value (cores, bytes), for comparing a request with its limit; `None` when it
/// does not parse (`quantity_problem` reports that).
pub fn quantity_value(q: &str) -> Option<f64> {
    if quantity_problem(q).is_some() {
        return None;
    }
    let split = q
        .find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | '+' | '-')))
        .unwrap_or(q.len());
    let (number, suffix) = q.split_at(split);
    let number: f64 = number.parse().ok()?;
    let scale = match suffix {
        "" => 1.0,
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        exp => 10f64.powi(exp.get(1..)?.parse().ok()?),
    };
    Some(number * scale)
}

/// Every problem of a `resources` section at key path `what` (`load.resources`): bad names and
/// quantities in `requests` and `limits`, and requests above their limits.
pub fn all_resources_problems(what: &str, r: &Resources) -> Vec<String> {
    let mut out = resources_problems(&format!("{what}.requests"), &r.requests);
    out.extend(resources_problems(&format!("{what}.limits"), &r.limits));
    out.extend(limit_problems(what, r));
    out
}

/// Requests above their limits, which the apiserver rejects; `what` is the key path
/// (`load.resources`).
pub fn limit_problems(what: &str, r: &Resources) -> Vec<String> {
    let mut out = Vec::new();
    for (name, request) in &r.requests {
        let Some(limit) = r.limits.get(name) else {
            continue;
        };
        if let (Some(req), Some(lim)) = (quantity_value(request), quantity_value(limit))
            && req > lim
        {
            out.push(format!(
                "{what}.requests.{name} is {request}, above {what}.limits.{name} {limit}; \
                 Kubernetes rejects a request above its limit: lower the request or raise the \
                 limit"
            ));
        }
    }
    out
}

fn is_label_name(s: &str) -> bool {
    let alnum = |c: char| c.is_ascii_alphanumeric();
    !s.is_empty()
        && s.len() <= 63
        && s.starts_with(alnum)
        && s.ends_with(alnum)
        && s.chars().all(|c| alnum(c) || matches!(c, '-' | '_' | '.'))
}

fn is_dns1123_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(is_dns1123_label_chars)
}

/// Problems with a label key like `type` or `kwok.x-k8s.io/node`.
pub fn label_key_problem(key: &str) -> Option<String> {
    let (prefix, name) = match key.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    let prefix_ok = prefix.is_none_or(is_dns1123_subdomain);
    if prefix_ok && is_label_name(name) {
        None
    } else {
        Some(format!(
            "'{key}' is not a valid label key; use an optional DNS prefix and '/', then at most \
             63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit \
             (e.g. 'type' or 'kwok.x-k8s.io/node')"
        ))
    }
}

/// Problems with a label value (empty, or a label name).
pub fn label_value_problem(value: &str) -> Option<String> {
    if value.is_empty() || is_label_name(value) {
        None
    } else {
        Some(format!(
            "'{value}' is not a valid label value; use at most 63 letters, digits, '-', '_' or \
             '.', starting and ending with a letter or digit"
        ))
    }
}

/// Problems with a node selector.
pub fn node_selector_problems(selector: &BTreeMap<String, String>) -> Vec<String> {
    let mut out = Vec::new();
    for (k, v) in selector {
        out.extend(label_key_problem(k));
        out.extend(label_value_problem(v));
    }
    out
}

/// The message for a word Kubernetes does not accept at `field`, naming the allowed ones.
pub fn word_problem(field: &str, word: &str, allowed: &[&str]) -> String {
    let close = allowed
        .iter()
        .find(|a| a.eq_ignore_ascii_case(word))
        .map(|a| format!(" (words are case-sensitive: write {a})"))
        .unwrap_or_default();
    format!(
        "{field} is '{word}', which Kubernetes does not accept{close}; use one of {}",
        allowed.join(", ")
    )
}

/// Problems with a toleration, as Kubernetes validates pod tolerations; `field` is its key path
/// (`load.tolerations[0]`).
pub fn toleration_problems(field: &str, t: &Toleration) -> Vec<String> {
    let mut out = Vec::new();
    let key = t.key.as_deref().unwrap_or("");
    if !key.is_empty() {
        out.extend(label_key_problem(key));
    }
    match &t.operator {
        None | Some(TolerationOperator::Equal) => {
            if key.is_empty() {
                out.push(
                    "a toleration without a key must use operator Exists; set operator: Exists or \
                     add a key"
                        .to_string(),
                );
            }
            if let Some(v) = &t.value {
                out.extend(label_value_problem(v));
            }
        }
        Some(TolerationOperator::Exists) => {
            if t.value.as_deref().is_some_and(|v| !v.is_empty()) {
                out.push(
                    "a toleration with operator Exists must not have a value; remove the value"
                        .to_string(),
                );
            }
        }
        Some(TolerationOperator::Other(word)) => out.push(word_problem(
            &format!("{field}.operator"),
            word,
            TolerationOperator::ALLOWED,
        )),
    }
    if let Some(word) = t.effect.as_ref().and_then(TolerationEffect::unknown)
        && !word.is_empty()
    {
        out.push(format!(
            "{}, or leave it out to match every effect",
            word_problem(&format!("{field}.effect"), word, TolerationEffect::ALLOWED)
        ));
    }
    out
}

/// Problems with a scenario's `faults:` list, as (field, message): every fault must end before
/// the drain does (teardown needs a whole cluster), a fault lasts at least a second, `node`
/// belongs to `delete-node` only, and two faults never hold the same component at once.
pub fn fault_problems(faults: &[Fault], d: &Durations) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let total = super::bounds::run_seconds(d);
    for (i, f) in faults.iter().enumerate() {
        let field = format!("faults[{i}]");
        if f.duration_s == 0 {
            out.push((
                format!("{field}.duration_s"),
                format!(
                    "{field} ({}) has duration_s 0; give it a duration of at least 1 s",
                    f.kind
                ),
            ));
        }
        let end = f.at_s.saturating_add(f.duration_s);
        if end >= total {
            out.push((
                format!("{field}.at_s"),
                format!(
                    "{field} ({}) ends {end} s after the warm-up starts, but warm-up, measure \
                     and drain last {total} s; start it earlier, shorten it, or lengthen \
                     duration.drain_s",
                    f.kind
                ),
            ));
        }
        if f.node.is_some() && f.kind != FaultKind::DeleteNode {
            out.push((
                format!("{field}.node"),
                format!(
                    "{field} ({}) names a node, which only delete-node uses; remove `node`",
                    f.kind
                ),
            ));
        }
        if let Some(node) = &f.node
            && node.trim().is_empty()
        {
            out.push((
                format!("{field}.node"),
                format!("{field}.node is empty; name a node, or leave it out"),
            ));
        }
        for (j, g) in faults.iter().enumerate().take(i) {
            let same = f.kind == g.kind
                || (f.kind.component().is_some() && f.kind.component() == g.kind.component());
            let g_end = g.at_s.saturating_add(g.duration_s);
            if same && f.at_s < g_end && g.at_s < end {
                out.push((
                    field.clone(),
                    format!(
                        "{field} ({}) overlaps faults[{j}] ({}) on the same target; \
                         move one so they do not overlap",
                        f.kind, g.kind
                    ),
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_names_have_no_problems() {
        for name in ["a", "cb-00001", "job-name-here", "0abc", &"a".repeat(52)] {
            assert!(name_problems(name).is_empty(), "{name}");
        }
    }

    #[test]
    fn name_over_52_characters_is_rejected_with_length_and_fix() {
        let name = "x".repeat(60);
        let problems = name_problems(&name);
        assert_eq!(problems.len(), 1);
        assert!(problems[0].contains("is 60 characters"), "{}", problems[0]);
        assert!(problems[0].contains("at most 52"), "{}", problems[0]);
        assert!(problems[0].contains("shorten it"), "{}", problems[0]);
    }

    #[test]
    fn names_with_uppercase_dots_underscores_or_edge_dashes_are_rejected() {
        for name in ["Job", "a.b", "a_b", "-a", "a-", "", "a b"] {
            assert!(
                !name_problems(name).is_empty(),
                "{name:?} should be rejected"
            );
        }
        let p = name_problems("My_Job");
        assert!(p[0].contains("'my-job'"), "{}", p[0]);
    }

    #[test]
    fn kubernetes_quantities_are_accepted() {
        for q in [
            "0", "0.1", "100m", "1", "128M", "1024M", "128Mi", "1Gi", "2Ei", "1e3", "1E-3", "1.5k",
            ".5", "1.", "+1", "500u", "10n", "1e+3",
        ] {
            assert_eq!(quantity_problem(q), None, "{q}");
        }
    }

    #[test]
    fn malformed_or_negative_quantities_are_rejected_with_a_fix() {
        for q in [
            "", "abc", "1MB", "1mi", "1..2", "1e", "M", "1 Gi", "-1", "1Kb", "1.2.3",
        ] {
            assert!(quantity_problem(q).is_some(), "{q:?} should be rejected");
        }
        let p = quantity_problem("1MB").unwrap_or_default();
        assert!(p.contains("unknown suffix 'MB'"), "{p}");
        assert!(quantity_problem("-0").is_none());
    }

    #[test]
    fn resource_names_must_be_standard_or_qualified() {
        assert!(resource_name_problem("cpu").is_none());
        assert!(resource_name_problem("memory").is_none());
        assert!(resource_name_problem("hugepages-2Mi").is_none());
        assert!(resource_name_problem("example.com/gpu").is_none());
        assert!(resource_name_problem("gpu").is_some());
        assert!(resource_name_problem("CPU").is_some());
    }

    #[test]
    fn kwok_node_selector_and_toleration_are_valid() {
        let selector = BTreeMap::from([("type".to_string(), "kwok".to_string())]);
        assert!(node_selector_problems(&selector).is_empty());
        let t = Toleration {
            key: Some("kwok.x-k8s.io/node".into()),
            operator: Some("Exists".into()),
            value: None,
            effect: Some("NoSchedule".into()),
        };
        assert!(toleration_problems("t", &t).is_empty());
    }

    #[test]
    fn bad_tolerations_are_rejected() {
        let t = Toleration {
            key: Some("k".into()),
            operator: Some("Exists".into()),
            value: Some("v".into()),
            effect: Some("NoRun".into()),
        };
        let p = toleration_problems("t", &t);
        assert_eq!(p.len(), 2, "{p:?}");
        let keyless = Toleration {
            operator: Some("Equal".into()),
            ..Toleration::default()
        };
        assert_eq!(toleration_problems("t", &keyless).len(), 1);
    }

    #[test]
    fn bad_label_keys_and_values_are_rejected() {
        assert!(label_key_problem("-bad").is_some());
        assert!(label_key_problem("Bad_Prefix/ok").is_some());
        assert!(label_value_problem("has space").is_some());
        assert!(label_value_problem("").is_none());
    }

    fn fault(at_s: u64, kind: FaultKind, duration_s: u64) -> Fault {
        Fault {
            at_s,
            kind,
            duration_s,
            node: None,
        }
    }

    #[test]
    fn faults_must_end_before_the_drain_does_and_not_overlap_on_one_target() {
        let d = Durations {
            warmup_s: 10,
            measure_s: 100,
            drain_s: 10,
        };
        let ok = [
            fault(10, FaultKind::RestartApiserver, 10),
            fault(15, FaultKind::KillScheduler, 10),
            fault(40, FaultKind::RestartApiserver, 10),
        ];
        assert!(fault_problems(&ok, &d).is_empty());
        let bad = [
            fault(110, FaultKind::RestartEtcd, 10),
            fault(10, FaultKind::StopNodes, 0),
            fault(20, FaultKind::RestartControllerManager, 30),
            fault(30, FaultKind::RestartControllerManager, 5),
            Fault {
                node: Some("kwok-node-0".into()),
                ..fault(1, FaultKind::KillScheduler, 1)
            },
        ];
        let fields: Vec<String> = fault_problems(&bad, &d).into_iter().map(|p| p.0).collect();
        assert_eq!(
            fields,
            [
                "faults[0].at_s",
                "faults[1].duration_s",
                "faults[3]",
                "faults[4].node"
            ]
        );
    }
}
