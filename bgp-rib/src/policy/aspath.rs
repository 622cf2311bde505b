//! AS_PATH matching for route maps: a regular expression in the style of Cisco / FRR
//! `as-path access-list` (`_` is a delimiter), the origin AS and length bounds.

use bgp_wire::attr::{AsPath, AsSegmentType};

/// Longest AS_PATH text matched against a regular expression (longer paths are cut; a
/// 255-ASN segment of 10-digit numbers is about 2,800 octets).
const MAX_TEXT: usize = 16 * 1024;

/// A compiled AS_PATH regular expression, matched against the path written as ASNs separated
/// by spaces, AS_SETs in braces (`65001 65002 {65003,65004}`), confederation segments in
/// parentheses. `_` matches a delimiter: the start or end of the path, a space, a comma, a
/// brace or a parenthesis (so `_65001_` matches 65001 anywhere, `^65001_` a path learned from
/// AS 65001, `_65001$` routes originated by it, `^$` an empty path).
///
/// ```
/// use bgp_rib::policy::AsPathRegex;
/// use bgp_wire::attr::AsPath;
/// let r = AsPathRegex::new("_65002_").unwrap();
/// assert!(r.is_match(&AsPath::from_sequence([65001, 65002, 65003])));
/// assert!(!r.is_match(&AsPath::from_sequence([65001, 650020])));
/// ```
#[derive(Debug, Clone)]
pub struct AsPathRegex {
    pattern: String,
    re: regex::Regex,
}

impl AsPathRegex {
    /// Compile `pattern` (`_` as the delimiter class).
    pub fn new(pattern: &str) -> Result<Self, regex::Error> {
        let expanded = pattern.replace('_', r"(?:^|$|[ ,{}()])");
        let re = regex::RegexBuilder::new(&expanded)
            .size_limit(1 << 20)
            .build()?;
        Ok(AsPathRegex {
            pattern: pattern.to_string(),
            re,
        })
    }
    /// The pattern as written.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }
    /// Whether the path's text matches.
    pub fn is_match(&self, path: &AsPath) -> bool {
        self.re.is_match(&path_text(path))
    }
}

impl PartialEq for AsPathRegex {
    fn eq(&self, other: &Self) -> bool {
        self.pattern == other.pattern
    }
}

impl Eq for AsPathRegex {}

/// The text an [`AsPathRegex`] is matched against (segments past 16 KiB of text are left out).
pub fn path_text(path: &AsPath) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    for (i, seg) in path.segments.iter().enumerate() {
        if s.len() > MAX_TEXT {
            break;
        }
        if i > 0 {
            s.push(' ');
        }
        let (open, sep, close) = match seg.kind {
            AsSegmentType::Sequence => ("", " ", ""),
            AsSegmentType::Set => ("{", ",", "}"),
            AsSegmentType::ConfedSequence => ("(", " ", ")"),
            AsSegmentType::ConfedSet => ("({", ",", "})"),
        };
        s.push_str(open);
        for (j, a) in seg.asns.iter().enumerate() {
            if j > 0 {
                s.push_str(sep);
            }
            let _ = write!(s, "{a}");
        }
        s.push_str(close);
    }
    s
}

/// The AS that originated the route: the last AS of the path when it ends with an
/// AS_SEQUENCE; `None` for an empty path or one ending with an AS_SET.
pub fn origin_as(path: &AsPath) -> Option<u32> {
    let s = path.segments.iter().rev().find(|s| {
        !matches!(
            s.kind,
            AsSegmentType::ConfedSequence | AsSegmentType::ConfedSet
        ) && !s.asns.is_empty()
    })?;
    match s.kind {
        AsSegmentType::Sequence => s.asns.last().copied(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bgp_wire::attr::AsSegment;

    #[test]
    fn text_and_regex_delimiters() {
        let p = AsPath::from_segments([
            AsSegment::new(AsSegmentType::Sequence, [65001, 65002]),
            AsSegment::new(AsSegmentType::Set, [3, 4]),
        ]);
        assert_eq!(path_text(&p), "65001 65002 {3,4}");
        let m = |pat: &str| AsPathRegex::new(pat).unwrap().is_match(&p);
        assert!(m("^65001_"));
        assert!(!m("^65002_"));
        assert!(m("_4_"));
        assert!(m("_65002_"));
        assert!(!m("_6500_"));
        assert!(m("^65001 65002"));
        assert!(!m("^$"));
        assert!(AsPathRegex::new("^$").unwrap().is_match(&AsPath::default()));
        assert!(AsPathRegex::new("(").is_err());
        assert_eq!(origin_as(&p), None, "ends with an AS_SET");
        assert_eq!(origin_as(&AsPath::from_sequence([1, 2, 3])), Some(3));
        assert_eq!(origin_as(&AsPath::default()), None);
    }
}
