//! The spellings of a path that common receivers route as one, so that none of them can be
//! matched to a different (weaker) endpoint than the one the receiver will serve.
//!
//! Envoy's `normalize_path` and `merge_slashes` remove dot segments and repeated slashes, but
//! receivers go further: Tomcat and Spring drop `;` path parameters (`/hooks/strict;x=1`),
//! ASP.NET and IIS route without regard to letter case (`/hooks/STRICT`, and with Unicode
//! folding, `/hooks/ſtrict`; Java's `equalsIgnoreCase` also takes `İ` for `i`), IIS trims
//! trailing dots and spaces (`/hooks/strict.`), takes `\` for `/` and decodes `%uNNNN`,
//! Rails and Spring (suffix patterns) route `/hooks/strict.json` as `/hooks/strict`, and
//! most decode percent-escapes before routing; Java's `String.trim()` (Spring's older
//! `AntPathMatcher` trims every segment) drops every character up to U+0020 at both ends.
//! [`canonical`] and [`covers`] apply all of these; `Config::route` refuses a path whose
//! canonical form would be matched to another endpoint than its exact form.
//!
//! Some spellings have no canonical form to compare: what a receiver makes of them depends
//! on folds that have no complete list. [`unsettled`] names them, and `Config::route`
//! refuses them wherever an endpoint could serve them.

/// The path's segments as a lenient receiver would route them. Query and fragment are cut;
/// every segment loses its `;` parameters (before and after percent-decoding), dot segments
/// are resolved, spaces, `+` and ASCII control characters trimmed at both ends and dots at
/// the end, letters case-folded, empty segments dropped; `\` and a decoded `/` separate
/// segments.
pub fn canonical(path: &[u8]) -> Vec<String> {
    let path = without_query(path);
    let mut out: Vec<String> = Vec::new();
    for raw in path.split(|&b| b == b'/' || b == b'\\') {
        let decoded = percent_decode(cut_parameters(raw));
        for piece in decoded.split(|&b| b == b'/' || b == b'\\') {
            let piece = cut_parameters(piece);
            match piece {
                b"" | b"." => {}
                b".." => {
                    out.pop();
                }
                _ => {
                    let trimmed = trim(piece);
                    if !trimmed.is_empty() {
                        out.push(fold_case(trimmed));
                    }
                }
            }
        }
    }
    out
}

/// Whether `prefix` (canonical segments) covers `path` (canonical segments). Where the
/// prefix's last segment is the path's last, the path's may add a format suffix: Rails'
/// `(.:format)` and Spring's suffix patterns route `strict.json` to `strict` (but not
/// `v1.1` to `v1.0`).
pub fn covers(prefix: &[String], path: &[String]) -> bool {
    let Some((last, init)) = prefix.split_last() else {
        return true;
    };
    if path.len() < prefix.len() || !path.starts_with(init) {
        return false;
    }
    let other = &path[init.len()];
    if path.len() == prefix.len() {
        other == last
            || other
                .strip_prefix(last.as_str())
                .is_some_and(|rest| rest.starts_with('.'))
    } else {
        last == other
    }
}

/// Whether two canonical prefixes would serve one request path between them: one of them,
/// or it with a format suffix.
pub fn same(a: &[String], b: &[String]) -> bool {
    a.len() == b.len() && (covers(a, b) || covers(b, a))
}

fn cut_parameters(segment: &[u8]) -> &[u8] {
    match segment.iter().position(|&b| b == b';') {
        Some(i) => &segment[..i],
        None => segment,
    }
}

/// Whether a path holds what no canonical form settles, once percent-decoded (query and
/// fragment cut, as the routers do):
/// - an ASCII control character (U+0000-U+001F, U+007F), anywhere: Java's `trim()` drops
///   them at the ends of a segment, the URL standard drops raw tabs and newlines anywhere;
/// - any byte outside ASCII: the Unicode spaces that .NET's `Trim()`, Java's `strip()` and
///   Python's `strip()` drop (U+00A0, U+3000, U+FEFF ...), the fullwidth forms NFKC folds
///   to ASCII (U+FF01-U+FF5E), the letters Windows' best-fit mapping turns into ASCII ones,
///   and text that is not UTF-8 at all (overlong forms such as `%C1%B3`, which old
///   decoders read as `s`);
/// - an escape that a second decoding would change (`%2573`, `%%373`, `%u0025` + `73`):
///   receivers that decode twice read another path than the one compared;
/// - an encoded `?` or `#` (`%3F`, `%23`): whatever decodes the path and parses it again (a
///   proxy rewriting to `$uri`, Apache's `mod_rewrite` substitutions) cuts the path there.
pub(crate) fn unsettled(path: &[u8]) -> bool {
    let once = percent_decode(without_query(path));
    once.iter()
        .any(|&b| b.is_ascii_control() || !b.is_ascii() || b == b'?' || b == b'#')
        || percent_decode(&once) != once
}

fn without_query(path: &[u8]) -> &[u8] {
    match path.iter().position(|&b| b == b'?' || b == b'#') {
        Some(end) => &path[..end],
        None => path,
    }
}

/// Java's `trim()` at both ends (every character up to U+0020; and DEL; and `+`, which form
/// decoders such as Java's `URLDecoder` read as a space), and IIS's trailing dots.
fn trim(mut s: &[u8]) -> &[u8] {
    let blank = |b: u8| b <= b' ' || b == 0x7f || b == b'+';
    while let [first, rest @ ..] = s {
        if !blank(*first) {
            break;
        }
        s = rest;
    }
    while let [rest @ .., last] = s {
        if !blank(*last) && *last != b'.' {
            break;
        }
        s = rest;
    }
    s
}

/// `%XX` as a byte, and IIS's `%uXXXX` as the UTF-8 of that code point (U+FFFD for a
/// surrogate); anything else as it is.
fn percent_decode(s: &[u8]) -> Vec<u8> {
    let hex = |b: u8| (b as char).to_digit(16);
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'%' && matches!(s.get(i + 1), Some(b'u' | b'U')) {
            let digits: Option<Vec<u32>> = (2..6)
                .map(|k| s.get(i + k).copied().and_then(hex))
                .collect();
            if let Some(d) = digits {
                let code = d.iter().fold(0, |acc, x| acc * 16 + x);
                let c = char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER);
                out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                i += 6;
                continue;
            }
        }
        if s[i] == b'%' {
            if let (Some(h), Some(l)) = (
                s.get(i + 1).copied().and_then(hex),
                s.get(i + 2).copied().and_then(hex),
            ) {
                // Both digits are below 16.
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(s[i]);
        i += 1;
    }
    out
}

/// Case folding as case-insensitive routers do it, one character at a time: upper, then
/// lower, keeping the first character of each mapping (Java's simple mappings: `ſ` -> `S`
/// -> `s`, the Kelvin sign -> `k`, `İ` -> `i`). Over-folding (`ß` -> `s`) only makes more
/// spellings ambiguous. Bytes that are not UTF-8 are kept, lowercased where ASCII.
fn fold_case(s: &[u8]) -> String {
    let fold = |c: char| {
        let upper = c.to_uppercase().next().unwrap_or(c);
        upper.to_lowercase().next().unwrap_or(upper)
    };
    match std::str::from_utf8(s) {
        Ok(text) => text.chars().map(fold).collect(),
        Err(_) => String::from_utf8_lossy(&s.to_ascii_lowercase()).into_owned(),
    }
}

#[cfg(test)]
mod tests;
