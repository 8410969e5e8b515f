//! Source-IP allowlists: a list of IPv4/IPv6 networks matched with integer masks, and the
//! parser for Envoy's `source.address` property.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// IPv4 and IPv6 networks, each stored as (network, mask) with host bits already cleared.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CidrList {
    v4: Vec<(u32, u32)>,
    v6: Vec<(u128, u128)>,
}

/// A `source_ips` entry that is no network. `{:?}` quotes the entry (no secret: an
/// address) and escapes control characters, so logs stay one line.
#[derive(Debug, PartialEq, thiserror::Error)]
#[error("invalid CIDR {entry:?}: {reason}")]
pub struct CidrError {
    pub entry: String,
    pub reason: &'static str,
}

impl CidrList {
    /// Parses `a.b.c.d/n`, `x::y/n` or a bare address (= /32 or /128). Host bits below the
    /// prefix are accepted and masked off (published range lists sometimes carry them).
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<CidrList, CidrError> {
        let mut list = CidrList::default();
        for entry in entries {
            let entry = entry.as_ref();
            let err = |reason| CidrError {
                entry: entry.to_string(),
                reason,
            };
            if entry.is_empty() {
                return Err(err("empty entry"));
            }
            if entry.chars().any(char::is_whitespace) {
                return Err(err("contains whitespace"));
            }
            let (addr, prefix) = match entry.split_once('/') {
                Some((a, p)) => (a, Some(p)),
                None => (entry, None),
            };
            let ip: IpAddr = addr.parse().map_err(|_| err("not an IP address"))?;
            // Digits only: `str::parse::<u8>` would also take "+24".
            let prefix = match prefix {
                None => None,
                Some(p)
                    if !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()) =>
                {
                    p.parse::<u32>().ok()
                }
                Some(_) => return Err(err("prefix length is not a number")),
            };
            match ip {
                IpAddr::V4(a) => {
                    let p = prefix.unwrap_or(32);
                    if p > 32 {
                        return Err(err("prefix longer than 32"));
                    }
                    // checked_shl: a shift by 32 (prefix 0) would overflow; mask is then 0.
                    let mask = u32::MAX.checked_shl(32 - p).unwrap_or(0);
                    list.v4.push((u32::from(a) & mask, mask));
                }
                IpAddr::V6(a) => {
                    let p = prefix.unwrap_or(128);
                    if p > 128 {
                        return Err(err("prefix longer than 128"));
                    }
                    let mask = u128::MAX.checked_shl(128 - p).unwrap_or(0);
                    list.v6.push((u128::from(a) & mask, mask));
                }
            }
        }
        Ok(list)
    }

    /// Whether `ip` lies in any network. An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, what a
    /// dual-stack listener reports for IPv4 peers) is matched against the IPv4 networks too.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let v4 = |a: Ipv4Addr| {
            let a = u32::from(a);
            self.v4.iter().any(|&(net, mask)| a & mask == net)
        };
        let v6 = |a: Ipv6Addr| {
            let a = u128::from(a);
            self.v6.iter().any(|&(net, mask)| a & mask == net)
        };
        match ip {
            IpAddr::V4(a) => v4(a),
            IpAddr::V6(a) => v6(a) || a.to_ipv4_mapped().is_some_and(v4),
        }
    }

    pub fn len(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Envoy's `source.address` property: `1.2.3.4:5678`, `[2001:db8::1]:443`; a bare IP (with or
/// without brackets for IPv6) is accepted too. Anything else, including non-UTF-8 bytes, is
/// `None`, which the caller must treat as "not allowed".
pub fn parse_source_address(raw: &[u8]) -> Option<IpAddr> {
    let s = std::str::from_utf8(raw).ok()?;
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let ip: Ipv6Addr = host.parse().ok()?;
        return match after {
            "" => Some(IpAddr::V6(ip)),
            _ => after
                .strip_prefix(':')
                .filter(|p| is_port(p))
                .map(|_| IpAddr::V6(ip)),
        };
    }
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip);
    }
    // Without brackets only IPv4 can carry a port; "::1:80" is ambiguous and refused.
    let (host, port) = s.rsplit_once(':')?;
    let ip: Ipv4Addr = host.parse().ok()?;
    is_port(port).then_some(IpAddr::V4(ip))
}

fn is_port(p: &str) -> bool {
    !p.is_empty()
        && p.len() <= 5
        && p.bytes().all(|b| b.is_ascii_digit())
        && p.parse::<u16>().is_ok()
}

#[cfg(test)]
mod tests;
