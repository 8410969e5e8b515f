//! The `webhook-guard` command line, as a library its binary (src/main.rs) and tests use:
//! `check` (a configuration through the filter's own parser), `presets` (what each preset
//! checks), `send` (sign and send a delivery), `receiver` (the demo upstream) and `ipranges`
//! (Genesys Cloud's IP ranges as a `source_ips` list).

pub mod check;
pub mod presets;
pub mod receiver;
pub mod send;

/// Turning Genesys Cloud's `GET /api/v2/ipranges` answer into a `source_ips` list.
pub mod ipranges {
    use serde_json::Value;

    /// The CIDRs of `service` (e.g. `open-messaging`), in `regions` if any are given, sorted
    /// and without duplicates. Accepts the API's `{"entities": [...]}` or a bare list.
    pub fn select(answer: &str, service: &str, regions: &[String]) -> Result<Vec<String>, String> {
        let v: Value = serde_json::from_str(answer).map_err(|e| format!("not JSON: {e}"))?;
        let entries = match &v {
            Value::Array(a) => a,
            Value::Object(o) => o
                .get("entities")
                .and_then(Value::as_array)
                .ok_or("no \"entities\" list in the answer")?,
            _ => return Err("expected {\"entities\": [...]}".into()),
        };
        let mut cidrs: Vec<String> = Vec::new();
        for e in entries {
            let field = |name: &str| e.get(name).and_then(Value::as_str);
            if field("service") != Some(service) {
                continue;
            }
            if !regions.is_empty() && !regions.iter().any(|r| Some(r.as_str()) == field("region")) {
                continue;
            }
            let cidr = field("cidr").ok_or("an entry has no \"cidr\"")?;
            webhook_guard::request::cidr::CidrList::parse(&[cidr]).map_err(|e| e.to_string())?;
            cidrs.push(cidr.to_string());
        }
        cidrs.sort();
        cidrs.dedup();
        if cidrs.is_empty() {
            return Err(format!(
                "no ranges for service {service:?} in the given region(s)"
            ));
        }
        Ok(cidrs)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        const SAMPLE: &str = include_str!("../testdata/genesys-ipranges.json");

        #[test]
        fn selects_a_service_and_region() {
            let all = select(SAMPLE, "open-messaging", &[]).unwrap();
            assert_eq!(all.len(), 4);
            let east = select(SAMPLE, "open-messaging", &["us-east-1".into()]).unwrap();
            assert_eq!(
                east,
                [
                    "2600:1f18:23ef:b100::/56",
                    "52.200.73.32/32",
                    "54.82.241.142/32"
                ]
            );
            // The same CIDR under another service is not taken along.
            let actions = select(SAMPLE, "data-actions", &[]).unwrap();
            assert_eq!(actions, ["52.200.73.32/32"]);
        }

        #[test]
        fn refuses_what_it_cannot_use() {
            assert!(select(SAMPLE, "open-messaging", &["mars-1".into()]).is_err());
            assert!(select("{}", "open-messaging", &[]).is_err());
            assert!(select("nope", "open-messaging", &[]).is_err());
            let bad = r#"[{"cidr":"10.0.0.0/33","service":"s","region":"r"}]"#;
            assert!(select(bad, "s", &[]).is_err());
        }
    }
}
